// The bench's own token issuer: a key pair made at start, the server's
// ORRERY_JWT_* settings that trust it, and bearer tokens signed with it (by
// node:crypto: a JWS is two base64url parts and a signature, no library needed).
import { generateKeyPairSync, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";

/** The algorithms the bench can sign with; RS256 is the rows' (the most common one). */
export type BenchAlgorithm = "RS256" | "ES256" | "EdDSA";

/** A key pair of one algorithm, with what a server needs to trust it. */
export interface BenchIssuer {
  readonly algorithm: BenchAlgorithm;
  /** ORRERY_JWT_PUBLIC_KEY, ORRERY_JWT_ISSUER, ORRERY_JWT_ALGORITHMS for the server. */
  readonly serverEnv: Readonly<Record<string, string>>;
  /** A token for `subject`, valid for `seconds` (an hour by default: longer than any run). */
  token(subject: string, seconds?: number): string;
}

/** The issuer the bench's tokens name (`iss`). */
export const BENCH_ISSUER = "https://bench.orrery.invalid/";

/** Makes a fresh key pair for `algorithm`. */
export function createBenchIssuer(algorithm: BenchAlgorithm): BenchIssuer {
  const { publicKey, privateKey } = keyPair(algorithm);
  return {
    algorithm,
    serverEnv: {
      ORRERY_JWT_PUBLIC_KEY: publicKey.export({ type: "spki", format: "pem" }).toString(),
      ORRERY_JWT_ISSUER: BENCH_ISSUER,
      ORRERY_JWT_ALGORITHMS: algorithm,
    },
    token(subject, seconds = 3600) {
      const now = Math.floor(Date.now() / 1000);
      const head = part({ alg: algorithm, typ: "JWT" });
      const body = part({ iss: BENCH_ISSUER, sub: subject, iat: now, exp: now + seconds });
      const input = Buffer.from(`${head}.${body}`);
      // ES256 signatures are the raw r‖s pair in a JWS, not DER.
      const signature = algorithm === "EdDSA"
        ? sign(null, input, privateKey)
        : sign("sha256", input, algorithm === "ES256" ? { key: privateKey, dsaEncoding: "ieee-p1363" } : privateKey);
      return `${head}.${body}.${signature.toString("base64url")}`;
    },
  };
}

function keyPair(algorithm: BenchAlgorithm): { publicKey: KeyObject; privateKey: KeyObject } {
  if (algorithm === "RS256") return generateKeyPairSync("rsa", { modulusLength: 2048 });
  if (algorithm === "ES256") return generateKeyPairSync("ec", { namedCurve: "P-256" });
  return generateKeyPairSync("ed25519");
}

function part(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
