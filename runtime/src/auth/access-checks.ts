// The built-in checks of every call from the wire to a component's method,
// as one Connect interceptor (so Connect, gRPC, gRPC-Web and REST get them
// alike), before the entity is looked at: who the caller is (a signed
// service or cluster node, else the internet), its bearer token, the method's
// ACL, required claims and rate limit. The principal rides on to the handler.
import type { DescMessage, DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import type { ContextValues, Interceptor } from "@connectrpc/connect";
import { attachPrincipal } from "@orrery/sdk";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { accessPolicy, matches, missingClaim } from "./access-policy.js";
import type { AccessPolicy } from "./access-policy.js";
import { jwtProblems } from "./auth-config.js";
import type { AuthConfig } from "./auth-config.js";
import { CALLER_HEADER, createCallerCheck } from "./caller-signature.js";
import { clientAddressKey, createClientAddress, trustedProxyProblems } from "./client-address.js";
import { createRateLimiter } from "./rate-limiter.js";
import { readClaims } from "./token-claims.js";
import { createTokenVerifier, TokenRejected } from "./token-verifier.js";

/** The interceptor and context values of {@link createAccessChecks}. */
export interface AccessChecks {
  readonly interceptor: Interceptor;
  /** Each request's context values, with its client's address. */
  contextValues(req: IncomingMessage | Http2ServerRequest): ContextValues;
}

/** Options for {@link createAccessChecks}. */
export interface AccessCheckOptions {
  /** The services served from the wire; other methods (health, the cluster's NodeService) are not checked here. */
  readonly services: readonly DescService[];
  /** The claims message of each service that declares one (`(orrery.v1.service).claims`): its handlers see the token's claims as it. */
  readonly claims?: ReadonlyMap<DescService, DescMessage>;
  readonly config: AuthConfig & { readonly clusterSecret: string | undefined };
}

/**
 * Creates the checks of the served services; throws an Error naming the
 * method and the fix when an option cannot be enforced (a jwt option without
 * a key, an unknown principal), so the service does not start half-protected.
 */
export function createAccessChecks(options: AccessCheckOptions): AccessChecks {
  const { config } = options;
  const problems = [...jwtProblems(config, "code"), ...trustedProxyProblems(config.trustedProxies, "trustedProxies")];
  if (problems.length > 0) throw new Error(`invalid token settings:\n  ${problems.join("\n  ")}`);
  const policies = new Map<DescMethod, AccessPolicy>();
  for (const service of options.services) for (const method of service.methods) policies.set(method, accessPolicy(method, config));
  const verifier = createTokenVerifier(config);
  const callers = createCallerCheck(config.clusterSecret);
  const limiter = createRateLimiter();
  const clientAddress = createClientAddress(config.trustedProxies);

  const interceptor: Interceptor = (next) => async (req) => {
    const policy = policies.get(req.method);
    if (policy === undefined) return next(req);
    let source = "internet";
    const signed = req.header.get(CALLER_HEADER);
    if (signed !== null) {
      req.header.delete(CALLER_HEADER); // used up: the handler and a forwarded hop never see it
      const caller = callers.check(signed, req);
      if ("problem" in caller) throw refused(policy, Code.Unauthenticated, caller.problem);
      source = caller.principal;
    }
    const address = req.contextValues.get(clientAddressKey) ?? "unknown";
    const limit = policy.rateLimit;
    if (limit !== undefined && limit.by === "address" && source !== "cluster") throttle(policy, `${address}`);
    let claims: Record<string, unknown> | undefined;
    const authorization = req.header.get("authorization");
    if (authorization !== null && verifier !== undefined) {
      const token = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization)?.[1];
      if (token !== undefined) {
        try {
          claims = await verifier.verify(token, policy.jwt?.issuers);
        } catch (error) {
          if (!(error instanceof TokenRejected)) throw error;
          if (error.unavailable) throw refused(policy, Code.Unavailable, `${error.reason}; the call was not run and is safe to retry`);
          throw refused(policy, Code.Unauthenticated, error.reason, bearer("invalid_token", error.reason));
        }
      } else if (policy.jwt !== undefined) {
        const why = "the Authorization header is not \"Bearer <token>\"";
        throw refused(policy, Code.Unauthenticated, why, bearer("invalid_request", why));
      }
    }
    if (policy.jwt !== undefined) {
      if (claims === undefined && policy.jwt.required) {
        throw refused(policy, Code.Unauthenticated, "this method requires a bearer token; send Authorization: Bearer <token>", bearer());
      }
      const missing = claims === undefined ? undefined : missingClaim(policy.jwt.claims, claims);
      if (missing !== undefined) {
        const why = `the bearer token lacks the claim "${missing}" with an accepted value`;
        throw refused(policy, Code.PermissionDenied, why, bearer("insufficient_scope", why));
      }
    }
    const principals = claims === undefined ? [source] : [source, "authenticated"];
    if (policy.acl !== undefined) {
      const denied = policy.acl.deny.some((e) => matches(e, principals));
      if (denied || (policy.acl.allow.length > 0 && !policy.acl.allow.some((e) => matches(e, principals)))) {
        const who = source === "internet" ? (claims === undefined ? "the internet" : "an authenticated caller from the internet") : source;
        throw refused(policy, Code.PermissionDenied, `calls from ${who} are not allowed by its acl`);
      }
    }
    const subject = typeof claims?.["sub"] === "string" ? claims["sub"] : undefined;
    if (limit !== undefined && limit.by === "principal" && source !== "cluster") {
      throttle(policy, claims !== undefined ? `jwt ${String(claims["iss"])} ${subject ?? ""}` : source === "internet" ? address : source);
    }
    const schema = claims === undefined ? undefined : options.claims?.get(req.method.parent);
    attachPrincipal(req.header, schema === undefined || claims === undefined
      ? { source, claims, subject }
      : { source, claims: typedClaims(policy, schema, claims), token: claims, subject });
    return next(req);
  };

  function throttle(policy: AccessPolicy, key: string): void {
    const limit = policy.rateLimit!;
    const wait = limiter.take(`${policy.where}\u0000${key}`, limit.perSecond, limit.burst);
    if (wait === undefined) return;
    const seconds = Math.max(1, Math.ceil(wait));
    throw new ConnectError(
      `${policy.where}: rate limit exceeded (${limit.burst} calls at once, ${limit.perSecond}/s per ${limit.by}); retry after ${seconds} s`,
      Code.ResourceExhausted, new Headers({ "retry-after": String(seconds) }),
    );
  }

  return {
    interceptor,
    contextValues(req) {
      const values = createContextValues();
      values.set(clientAddressKey, clientAddress(req));
      return values;
    },
  };
}

/** The token's payload as the service's claims message; a claim of the wrong type refuses the call like a bad token. */
function typedClaims(policy: AccessPolicy, schema: DescMessage, payload: Record<string, unknown>): Message {
  try {
    return readClaims(schema, payload);
  } catch (error) {
    if (!(error instanceof TokenRejected)) throw error;
    throw refused(policy, Code.Unauthenticated, error.reason, bearer("invalid_token", error.reason));
  }
}

function refused(policy: AccessPolicy, code: Code, reason: string, challenge?: string): ConnectError {
  return new ConnectError(`${policy.where}: ${reason}`, code, challenge === undefined ? undefined : new Headers({ "www-authenticate": challenge }));
}

/** An RFC 6750 challenge; no error code when the call sent no token. */
function bearer(error?: string, description?: string): string {
  if (error === undefined) return `Bearer realm="orrery"`;
  const text = (description ?? "").replace(/[^\x20-\x7e]|["\\]/g, "'");
  return `Bearer realm="orrery", error="${error}", error_description="${text}"`;
}
