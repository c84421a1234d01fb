// Who made a call. The runtime attaches it to the request's Headers object by
// identity, never as a header, so a client cannot forge it by sending one.

/** The claims of a verified JSON Web Token. */
export type JwtClaims = Readonly<Record<string, unknown>>;

/**
 * Who made a call, as the runtime verified it. `Claims` is the token's JSON
 * payload, or the message the service's `(orrery.v1.service).claims` names.
 *
 * @example
 * addItem(cart, cmd, ctx) {
 *   if (ctx.principal.claims?.["sub"] !== cart.ownerId) return ctx.error(Code.PermissionDenied, "not your cart");
 *   ...
 * }
 * // With `option (orrery.v1.service) = { claims: "CartClaims" }` the claims are that message:
 * checkout(cart, cmd, ctx) {
 *   if (!ctx.principal.claims?.emailVerified) return ctx.error(Code.PermissionDenied, "verify your email first");
 *   ...
 * }
 */
export interface Principal<Claims = JwtClaims> {
  /**
   * Where the call came from: "internet" (a client on the wire), "service:<name>"
   * (another service of the project, signed), "cluster" (a node of this
   * cluster, signed) or "component" (a component of this service, in-process).
   */
  readonly source: string;
  /** The verified bearer token's claims, when the call carried a valid one. */
  readonly claims?: Claims | undefined;
  /** The verified token's whole payload as it was sent, when the claims are a message (they are the payload otherwise). */
  readonly token?: JwtClaims | undefined;
  /** The token's subject (`sub` claim), when it had one. */
  readonly subject?: string | undefined;
}

const componentPrincipal: Principal = { source: "component" };
const principals = new WeakMap<Headers, Principal<unknown>>();

/** Attaches `principal` to a request's headers; for runtimes. Its claims are the token's JSON, or the service's claims message. */
export function attachPrincipal(headers: Headers, principal: Principal<unknown>): void {
  withPrincipal(headers, principal);
}

/**
 * The principal attached to `headers`; a call without one came from a
 * component in-process. `Claims` is the caller's word for what the runtime
 * attached: the generated context types pick the service's claims message.
 */
export function principalOf<Claims = JwtClaims>(headers: Headers | undefined): Principal<Claims> {
  return ((headers === undefined ? undefined : principals.get(headers)) ?? componentPrincipal) as Principal<Claims>;
}

/** `headers` with `principal` attached, if given; for test kits. */
export function withPrincipal(headers: Headers, principal: Principal<unknown> | undefined): Headers {
  if (principal !== undefined) principals.set(headers, principal);
  return headers;
}
