// A method's access rules, from the (orrery.v1.service) and (orrery.v1.method)
// options of the served descriptors: the method's own acl, jwt and rate_limit
// replace the service's, field by field.
import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescMethod } from "@bufbuild/protobuf";
import { method as methodSettings, service as serviceSettings } from "../gen/orrery/v1/options_pb.js";
import type { Acl, Jwt, RateLimit } from "../gen/orrery/v1/options_pb.js";
import type { AuthConfig, RateLimitKey } from "./auth-config.js";

/** The principals an ACL entry may name. */
const principalForms = `"internet", "authenticated", "service:<name>", "service:*", "cluster" or "all"`;

/** What one method requires of its callers. */
export interface AccessPolicy {
  readonly where: string;
  readonly acl: { readonly allow: readonly string[]; readonly deny: readonly string[] } | undefined;
  readonly jwt: { readonly required: boolean; readonly issuers: readonly string[] | undefined; readonly claims: readonly { name: string; values: readonly string[] }[] } | undefined;
  /** Calls per second and bucket size; undefined: no limit. */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number; readonly by: RateLimitKey } | undefined;
}

/** Whether the sets of principals of a call include `entry` (a checked ACL entry). */
export function matches(entry: string, principals: readonly string[]): boolean {
  if (entry === "all") return true;
  if (entry === "service:*") return principals.some((p) => p.startsWith("service:"));
  return principals.includes(entry);
}

/** The rules of `method`; throws an Error naming the method and the fix when an option is wrong or cannot be enforced with `config`. */
export function accessPolicy(method: DescMethod, config: AuthConfig): AccessPolicy {
  const where = `${method.parent.typeName}/${method.name}`;
  const own = hasOption(method, methodSettings) ? getOption(method, methodSettings) : undefined;
  const shared = hasOption(method.parent, serviceSettings) ? getOption(method.parent, serviceSettings) : undefined;
  const acl = own?.acl ?? shared?.acl;
  const jwt = own?.jwt ?? shared?.jwt;
  const rate = own?.rateLimit ?? shared?.rateLimit;
  return { where, acl: acl === undefined ? undefined : checkAcl(where, acl), jwt: jwt === undefined ? undefined : checkJwt(where, jwt, config), rateLimit: rateLimitOf(where, rate, config) };
}

function checkAcl(where: string, acl: Acl): AccessPolicy["acl"] {
  for (const entry of [...acl.allow, ...acl.deny]) {
    if (!/^(internet|authenticated|cluster|all|service:(\*|[A-Za-z0-9][A-Za-z0-9._-]*))$/.test(entry)) {
      throw new Error(`${where}: the acl names the principal ${JSON.stringify(entry)}; name ${principalForms}`);
    }
  }
  return { allow: acl.allow, deny: acl.deny };
}

function checkJwt(where: string, jwt: Jwt, config: AuthConfig): AccessPolicy["jwt"] {
  if (config.jwtPublicKey === undefined && config.jwtJwksUrl === undefined) {
    throw new Error(`${where}: its jwt option needs the issuer's key to check tokens with; set ORRERY_JWT_ISSUER and ORRERY_JWT_PUBLIC_KEY or ORRERY_JWT_JWKS_URL (or jwtIssuers and jwtPublicKey or jwtJwksUrl in createService)`);
  }
  const unknown = jwt.issuers.filter((i) => !config.jwtIssuers.includes(i));
  if (unknown.length > 0) {
    throw new Error(`${where}: its jwt option accepts the issuer ${unknown.map((i) => JSON.stringify(i)).join(", ")}, which ORRERY_JWT_ISSUER does not list (${config.jwtIssuers.join(", ")}); add it there or remove it from the option`);
  }
  for (const claim of jwt.requiredClaims) {
    if (claim.name.trim() === "") throw new Error(`${where}: its jwt option requires a claim without a name; name the claim (e.g. "email_verified")`);
  }
  return {
    required: jwt.requireBearerToken,
    issuers: jwt.issuers.length === 0 ? undefined : jwt.issuers,
    claims: jwt.requiredClaims.map((c) => ({ name: c.name, values: c.values })),
  };
}

function rateLimitOf(where: string, rate: RateLimit | undefined, config: AuthConfig): AccessPolicy["rateLimit"] {
  if (rate === undefined) return config.rateLimit === 0 ? undefined : { perSecond: config.rateLimit, burst: config.rateLimit, by: config.rateLimitBy };
  if (rate.by !== "" && rate.by !== "address" && rate.by !== "principal") {
    throw new Error(`${where}: its rate_limit counts by ${JSON.stringify(rate.by)}; use "address" or "principal"`);
  }
  if (rate.requests === 0) return undefined;
  return { perSecond: rate.requests / Math.max(1, rate.perSeconds), burst: rate.requests, by: rate.by === "" ? config.rateLimitBy : rate.by };
}

/** The first required claim `claims` lacks (or holds with another value), or undefined when all are there. */
export function missingClaim(required: NonNullable<AccessPolicy["jwt"]>["claims"], claims: Readonly<Record<string, unknown>>): string | undefined {
  for (const { name, values } of required) {
    let value: unknown = claims;
    for (const part of name.split(".")) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
    if (value === undefined || value === null) return name;
    if (values.length === 0) continue;
    const held = Array.isArray(value) ? value : [value];
    if (!held.some((v) => (typeof v === "string" || typeof v === "number" || typeof v === "boolean") && values.includes(String(v)))) return name;
  }
  return undefined;
}
