// What verifying one bearer token costs, in this process on one core: the
// runtime's own verifier (jose: signature, alg, iss, exp) on a valid token,
// one call after another, a median over several rounds. The server's figure
// (GetCart with a token against GetCart without, srv µs/call) is in
// side-by-side.ts; this one has no transport or entity around it.
import { createTokenVerifier } from "../../../runtime/src/auth/token-verifier.js";
import type { TokenVerifier } from "../../../runtime/src/auth/token-verifier.js";
import type { AuthConfig } from "../../../runtime/src/auth/auth-config.js";
import { createBenchIssuer } from "./bench-token.js";
import type { BenchAlgorithm, BenchIssuer } from "./bench-token.js";
import { median } from "./latency-recorder.js";

/** One algorithm's cost per verification. */
export interface VerificationCost {
  readonly algorithm: BenchAlgorithm;
  /** Median over the rounds of the wall time per verification, in µs. */
  readonly microsPerVerification: number;
  /** Every round's figure, in the order measured. */
  readonly rounds: readonly number[];
  readonly verificationsPerRound: number;
}

/** Measures `rounds` rounds of `perRound` verifications of one valid token per algorithm, after a warm-up round. */
export async function measureTokenVerification(algorithms: readonly BenchAlgorithm[], rounds = 5, perRound = 1000): Promise<VerificationCost[]> {
  const costs: VerificationCost[] = [];
  for (const algorithm of algorithms) {
    const issuer = createBenchIssuer(algorithm);
    const verifier = verifierFor(issuer);
    const token = issuer.token("bench-user");
    const round = async (): Promise<number> => {
      const started = performance.now();
      for (let i = 0; i < perRound; i++) await verifier.verify(token);
      return ((performance.now() - started) * 1000) / perRound;
    };
    await round(); // warm-up: the JIT, jose's key import
    const measured: number[] = [];
    for (let i = 0; i < rounds; i++) measured.push(await round());
    costs.push({ algorithm, microsPerVerification: median(measured)!, rounds: measured, verificationsPerRound: perRound });
  }
  return costs;
}

/** The runtime's token verifier with the settings the bench gives its servers for `issuer`. */
export function verifierFor(issuer: BenchIssuer): TokenVerifier {
  const env = issuer.serverEnv;
  const config: AuthConfig = {
    jwtIssuers: [env["ORRERY_JWT_ISSUER"]!],
    jwtAudiences: [],
    jwtPublicKey: env["ORRERY_JWT_PUBLIC_KEY"],
    jwtJwksUrl: undefined,
    jwtAlgorithms: [env["ORRERY_JWT_ALGORITHMS"]!],
    jwtClockSkewS: 30,
    jwtJwksCacheMs: 0,
    jwtJwksCooldownMs: 0,
    rateLimit: 0,
    rateLimitBy: "address",
    trustedProxies: [],
  };
  return createTokenVerifier(config)!;
}
