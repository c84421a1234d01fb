// Verifies bearer tokens (JSON Web Tokens) with jose: the signature against
// the configured PEM key or the issuer's JWKS, the algorithm against the
// allowed list (never "none"), iss, aud, exp and nbf with a small clock skew.
import { createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import type { JWTPayload } from "jose";
import type { AuthConfig } from "./auth-config.js";

/** Why a token was refused: `reason` for the caller, `unavailable` when the keys could not be fetched (not the caller's fault). */
export class TokenRejected extends Error {
  override readonly name = "TokenRejected";
  constructor(readonly reason: string, readonly unavailable = false) {
    super(reason);
  }
}

/** Checks bearer tokens; see {@link createTokenVerifier}. */
export interface TokenVerifier {
  /** The token's claims; throws {@link TokenRejected}. `issuers` narrows the configured ones (a method's own list). */
  verify(token: string, issuers?: readonly string[]): Promise<JWTPayload>;
}

/** A verifier over the configured key, or undefined when no key (ORRERY_JWT_PUBLIC_KEY, ORRERY_JWT_JWKS_URL) is set. */
export function createTokenVerifier(config: AuthConfig): TokenVerifier | undefined {
  let key: KeyObject | ReturnType<typeof createRemoteJWKSet>;
  if (config.jwtPublicKey !== undefined) {
    key = createPublicKey(config.jwtPublicKey);
  } else if (config.jwtJwksUrl !== undefined) {
    // jose caches the set, fetches it again when a token names a key it does not hold (rotation), at most once per cooldown.
    key = createRemoteJWKSet(new URL(config.jwtJwksUrl), { cacheMaxAge: config.jwtJwksCacheMs, cooldownDuration: config.jwtJwksCooldownMs, timeoutDuration: 5_000 });
  } else {
    return undefined;
  }
  const base = {
    algorithms: [...config.jwtAlgorithms],
    audience: config.jwtAudiences.length === 0 ? undefined : [...config.jwtAudiences],
    clockTolerance: config.jwtClockSkewS,
    requiredClaims: ["exp"], // a token that never expires is refused
  };
  return {
    async verify(token, issuers) {
      try {
        const options = { ...base, issuer: [...(issuers ?? config.jwtIssuers)] };
        const { payload } = typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
        return payload;
      } catch (error) {
        throw rejection(error, config, typeof key === "function");
      }
    },
  };
}

function rejection(error: unknown, config: AuthConfig, remote: boolean): TokenRejected {
  if (error instanceof errors.JWTExpired) return new TokenRejected("the bearer token has expired; get a new one");
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = error.claim;
    if (claim === "iss") return new TokenRejected(`the bearer token's issuer is not accepted here (accepted: ${config.jwtIssuers.join(", ")})`);
    if (claim === "aud") return new TokenRejected(`the bearer token is not for this audience (accepted: ${config.jwtAudiences.join(", ")})`);
    if (claim === "nbf") return new TokenRejected("the bearer token is not valid yet (nbf)");
    return new TokenRejected(`the bearer token's "${claim}" claim is missing or invalid (${error.reason})`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenRejected(`the bearer token's algorithm is not accepted (accepted: ${config.jwtAlgorithms.join(", ")})`);
  if (error instanceof errors.JWSSignatureVerificationFailed) return new TokenRejected("the bearer token's signature does not verify");
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return new TokenRejected("the bearer token is signed with a key the issuer does not publish");
  if (remote && (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError))) {
    return new TokenRejected(`the keys to check bearer tokens could not be fetched from ORRERY_JWT_JWKS_URL (${(error as Error).message})`, true);
  }
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) return new TokenRejected("the bearer token is malformed (not a signed JWT)");
  return new TokenRejected(`the bearer token is not accepted (${error instanceof Error ? error.message : String(error)})`);
}
