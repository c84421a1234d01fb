// protovalidate (buf.validate) rules, enforced on every request before user code runs.
export { invalidRequest, requestCheck } from "./request-validation.js";
export type { RequestCheck } from "./request-validation.js";
