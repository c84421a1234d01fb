// Who made a call. The runtime attaches it to the request's Headers object by
// identity, never as a header, so a client cannot forge it by sending one.

/** The claims of a verified JSON Web Token. */
export type JwtClaims = Readonly<Record<string, unknown>>;

/**
 * Who made a call, as the runtime verified it.
 *
 * @example
 * addItem(cart, cmd, ctx) {
 *   if (ctx.principal.claims?.["sub"] !== cart.ownerId) return ctx.error(Code.PermissionDenied, "not your cart");
 *   ...
 * }
 */
export interface Principal {
  /**
   * Where the call came from: "internet" (a client on the wire), "service:<name>"
   * (another service of the project, signed), "cluster" (a node of this
   * cluster, signed) or "component" (a component of this service, in-process).
   */
  readonly source: string;
  /** The verified bearer token's claims, when the call carried a valid one. */
  readonly claims?: JwtClaims | undefined;
  /** The token's subject (`sub` claim), when it had one. */
  readonly subject?: string | undefined;
}

const componentPrincipal: Principal = { source: "component" };
const principals = new WeakMap<Headers, Principal>();

/** Attaches `principal` to a request's headers; for runtimes. */
export function attachPrincipal(headers: Headers, principal: Principal): void {
  withPrincipal(headers, principal);
}

/** The principal attached to `headers`; a call without one came from a component in-process. */
export function principalOf(headers: Headers | undefined): Principal {
  return (headers === undefined ? undefined : principals.get(headers)) ?? componentPrincipal;
}

/** `headers` with `principal` attached, if given; for test kits. */
export function withPrincipal(headers: Headers, principal: Principal | undefined): Headers {
  if (principal !== undefined) principals.set(headers, principal);
  return headers;
}
