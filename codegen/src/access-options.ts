import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, Registry } from "@bufbuild/protobuf";
import { method as methodSettings, service as serviceSettings } from "./gen/orrery/v1/options_pb.js";
import type { Acl, Jwt, RateLimit } from "./gen/orrery/v1/options_pb.js";
import { lookupMessage } from "./entity-methods.js";
import type { Fail } from "./entity-methods.js";

// The access options (acl, jwt, rate_limit), on a service (orrery.v1.service)
// or an rpc (orrery.v1.method): checked here so that a typo fails `buf
// generate` instead of the service's start; the runtime enforces them.

const principal = /^(internet|authenticated|cluster|all|service:(\*|[A-Za-z0-9][A-Za-z0-9._-]*))$/;
const principals = '"internet", "authenticated", "service:<name>", "service:*", "cluster" or "all"';

/** The access settings of one place, or undefined when it has none. */
interface AccessSettings {
  readonly acl?: Acl | undefined;
  readonly jwt?: Jwt | undefined;
  readonly rateLimit?: RateLimit | undefined;
}

/**
 * Checks an rpc's access options. `notServed` says why the rpc is not called
 * from the wire (a consumer's, a view's update), where they would be ignored.
 */
export function checkMethodAccess(method: DescMethod, notServed: string | undefined, fail: Fail): void {
  if (!hasOption(method, methodSettings)) return;
  checkAccess(getOption(method, methodSettings), "(orrery.v1.method)", notServed, (option, problem, fix) => fail({ method, option }, problem, fix));
}

/** Checks a service's (orrery.v1.service) options; `notServed` as for {@link checkMethodAccess}. */
export function checkServiceAccess(service: DescService, notServed: string | undefined, fail: Fail): void {
  if (!hasOption(service, serviceSettings)) return;
  checkAccess(getOption(service, serviceSettings), "(orrery.v1.service)", notServed, (option, problem, fix) => fail({ option }, problem, fix));
}

/**
 * The message a service's `(orrery.v1.service).claims` names, or undefined
 * without one. Only an entity's command context types its claims:
 * `otherKind` names the service's kind when it is not an entity ("a view"),
 * and the option then fails instead of being ignored.
 */
export function readClaimsMessage(service: DescService, otherKind: string | undefined, registry: Registry, fail: Fail): DescMessage | undefined {
  const name = hasOption(service, serviceSettings) ? getOption(service, serviceSettings).claims.trim() : "";
  if (name === "") return undefined;
  const option = "(orrery.v1.service).claims";
  if (otherKind !== undefined) {
    fail({ option }, `claims are typed in the command context of an event-sourced or key-value entity only, not of ${otherKind}`, "remove it, or read the claims in an entity the component calls");
    return undefined;
  }
  return lookupMessage(service, registry, option, name, fail);
}

function checkAccess(settings: AccessSettings, prefix: string, notServed: string | undefined, fail: (option: string, problem: string, fix: string) => void): void {
  const set = (["acl", "jwt", "rate_limit"] as const).filter((name) => settings[name === "rate_limit" ? "rateLimit" : name] !== undefined);
  if (notServed !== undefined) {
    for (const name of set) fail(`${prefix}.${name}`, `${name} governs calls from the wire, and ${notServed}`, "remove it");
    return;
  }
  for (const entry of [...(settings.acl?.allow ?? []), ...(settings.acl?.deny ?? [])]) {
    if (!principal.test(entry)) fail(`${prefix}.acl`, `the acl names the principal ${JSON.stringify(entry)}`, `name ${principals}`);
  }
  for (const issuer of settings.jwt?.issuers ?? []) {
    if (issuer.trim() === "") fail(`${prefix}.jwt.issuers`, "an accepted issuer is empty", "name the issuer as its tokens' iss claim holds it, or remove the entry");
  }
  for (const claim of settings.jwt?.requiredClaims ?? []) {
    if (claim.name.trim() === "") fail(`${prefix}.jwt.required_claims`, "a required claim has no name", 'name the claim, e.g. "email_verified" or "realm_access.roles"');
  }
  const by = settings.rateLimit?.by;
  if (by !== undefined && by !== "" && by !== "address" && by !== "principal") {
    fail(`${prefix}.rate_limit.by`, `the rate limit counts by ${JSON.stringify(by)}`, 'use "address" or "principal"');
  }
}
