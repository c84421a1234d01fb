// The settings of the access checks (auth/): bearer tokens, rate limits and
// the trusted proxies, read from the environment by loadConfig and
// overridable in createService.
import { trustedProxyProblems } from "./client-address.js";

/** Token and rate-limit settings; part of `RuntimeConfig`. */
export interface AuthConfig {
  /** ORRERY_JWT_ISSUER: accepted token issuers (`iss`), comma-separated; required with a key. */
  readonly jwtIssuers: readonly string[];
  /** ORRERY_JWT_AUDIENCE: accepted audiences (`aud`), comma-separated; unset does not check the audience. */
  readonly jwtAudiences: readonly string[];
  /** ORRERY_JWT_PUBLIC_KEY: the issuer's public key in PEM (SPKI), "\n" escapes allowed. */
  readonly jwtPublicKey: string | undefined;
  /** ORRERY_JWT_JWKS_URL: where the issuer publishes its keys (JWKS); fetched when a token names a key not seen yet, cached. */
  readonly jwtJwksUrl: string | undefined;
  /** ORRERY_JWT_ALGORITHMS: accepted signature algorithms, comma-separated (never "none", no HMAC). */
  readonly jwtAlgorithms: readonly string[];
  /** ORRERY_JWT_CLOCK_SKEW_S: seconds of clock difference tolerated on `exp` and `nbf`. */
  readonly jwtClockSkewS: number;
  /** ORRERY_JWT_JWKS_CACHE_MS: how long fetched keys are used before they are fetched again. */
  readonly jwtJwksCacheMs: number;
  /** ORRERY_JWT_JWKS_COOLDOWN_MS: the least time between two fetches of the JWKS (a token with an unknown key waits for it). */
  readonly jwtJwksCooldownMs: number;
  /** ORRERY_RATE_LIMIT: calls per second one caller may make to each method (the bucket's size, too); 0: no limit. */
  readonly rateLimit: number;
  /** ORRERY_RATE_LIMIT_BY: "address" (the client's IP address) or "principal" (token subject or calling service, else the address). */
  readonly rateLimitBy: RateLimitKey;
  /**
   * ORRERY_TRUSTED_PROXIES: the proxies (IP addresses or CIDR ranges, comma-separated; default none) whose
   * X-Forwarded-For is believed: a call from one of them is counted (rate limits) and logged by the right-most
   * address in that header that is not a trusted proxy; from any other peer the header is ignored.
   */
  readonly trustedProxies: readonly string[];
}

/** What a rate limit counts by; see {@link AuthConfig.rateLimitBy}. */
export type RateLimitKey = "address" | "principal";

/** Algorithms a public key can verify; "none" and HMAC (a shared secret) are never accepted. */
export const supportedAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

type IntSetting = (name: string, fallback: number, min: number, max?: number) => number;

/** Reads the {@link AuthConfig} settings of `env`, adding what is wrong to `problems`. */
export function authSettings(env: Record<string, string | undefined>, int: IntSetting, problems: string[]): AuthConfig {
  const list = (name: string) => (env[name] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  const publicKey = env["ORRERY_JWT_PUBLIC_KEY"]?.trim().replace(/\\n/g, "\n") || undefined;
  const jwksUrl = env["ORRERY_JWT_JWKS_URL"]?.trim() || undefined;
  const algorithms = list("ORRERY_JWT_ALGORITHMS");
  const rateLimitBy = env["ORRERY_RATE_LIMIT_BY"]?.trim() || "address";
  if (rateLimitBy !== "address" && rateLimitBy !== "principal") problems.push(`ORRERY_RATE_LIMIT_BY=${JSON.stringify(rateLimitBy)} is not one of address, principal`);
  const config: AuthConfig = {
    jwtIssuers: list("ORRERY_JWT_ISSUER"),
    jwtAudiences: list("ORRERY_JWT_AUDIENCE"),
    jwtPublicKey: publicKey,
    jwtJwksUrl: jwksUrl,
    jwtAlgorithms: algorithms.length > 0 ? algorithms : ["RS256", "ES256", "EdDSA"],
    jwtClockSkewS: int("ORRERY_JWT_CLOCK_SKEW_S", 30, 0, 600),
    jwtJwksCacheMs: int("ORRERY_JWT_JWKS_CACHE_MS", 600_000, 0, 86_400_000),
    jwtJwksCooldownMs: int("ORRERY_JWT_JWKS_COOLDOWN_MS", 30_000, 0, 3_600_000),
    rateLimit: int("ORRERY_RATE_LIMIT", 0, 0, 1_000_000),
    rateLimitBy: rateLimitBy === "principal" ? "principal" : "address",
    trustedProxies: list("ORRERY_TRUSTED_PROXIES"),
  };
  problems.push(...jwtProblems(config, "env"), ...trustedProxyProblems(config.trustedProxies, "ORRERY_TRUSTED_PROXIES"));
  return config;
}

/** What is wrong with the token settings, named by their variables (`env`) or their `createService` options (`code`). */
export function jwtProblems(config: AuthConfig, from: "env" | "code"): string[] {
  const name = (variable: string, option: string) => (from === "env" ? variable : option);
  const problems: string[] = [];
  for (const alg of config.jwtAlgorithms) {
    if (!supportedAlgorithms.includes(alg)) {
      const why = alg.toLowerCase() === "none" ? "unsigned tokens are never accepted" : /^HS/i.test(alg) ? "HMAC needs a shared secret, which Orrery does not accept; use a public-key algorithm" : "it is not a JWS algorithm Orrery knows";
      problems.push(`${name("ORRERY_JWT_ALGORITHMS", "jwtAlgorithms")} lists ${JSON.stringify(alg)}: ${why} (use some of ${supportedAlgorithms.join(", ")})`);
    }
  }
  if (config.jwtPublicKey !== undefined && config.jwtJwksUrl !== undefined) {
    problems.push(`set one of ${name("ORRERY_JWT_PUBLIC_KEY", "jwtPublicKey")} and ${name("ORRERY_JWT_JWKS_URL", "jwtJwksUrl")}, not both`);
  }
  if (config.jwtJwksUrl !== undefined && (!/^https?:\/\/[^/]/.test(config.jwtJwksUrl) || !URL.canParse(config.jwtJwksUrl))) {
    problems.push(`${name("ORRERY_JWT_JWKS_URL", "jwtJwksUrl")}=${JSON.stringify(config.jwtJwksUrl)} is not an http:// or https:// URL`);
  }
  if (config.jwtPublicKey !== undefined && !config.jwtPublicKey.includes("-----BEGIN PUBLIC KEY-----")) {
    problems.push(`${name("ORRERY_JWT_PUBLIC_KEY", "jwtPublicKey")} is not a PEM public key (-----BEGIN PUBLIC KEY-----, SPKI)`);
  }
  const keyed = config.jwtPublicKey !== undefined || config.jwtJwksUrl !== undefined;
  if (keyed && config.jwtIssuers.length === 0) {
    problems.push(`${name("ORRERY_JWT_ISSUER", "jwtIssuers")} is required with a token key: the issuers whose tokens are accepted (e.g. https://auth.example.com/)`);
  }
  if (!keyed && config.jwtIssuers.length > 0) {
    problems.push(`${name("ORRERY_JWT_ISSUER", "jwtIssuers")} is set but no key is: set ${name("ORRERY_JWT_PUBLIC_KEY", "jwtPublicKey")} or ${name("ORRERY_JWT_JWKS_URL", "jwtJwksUrl")}`);
  }
  return problems;
}
