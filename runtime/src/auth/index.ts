export { createAccessChecks } from "./access-checks.js";
export { clientAddressKey } from "./client-address.js";
export type { AccessChecks, AccessCheckOptions } from "./access-checks.js";
export { CALLER_HEADER, signCallsAs } from "./caller-signature.js";
export type { AuthConfig, RateLimitKey } from "./auth-config.js";
