export { createAccessChecks, clientAddressKey } from "./access-checks.js";
export type { AccessChecks, AccessCheckOptions } from "./access-checks.js";
export { signCallsAs, CALLER_HEADER } from "./caller-signature.js";
export type { AuthConfig, RateLimitKey } from "./auth-config.js";
