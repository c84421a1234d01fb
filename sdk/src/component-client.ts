import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";

/**
 * Calls other components of the same service from inside a handler, through
 * the runtime's routing point (local or forwarded), with the typed Connect
 * client of the component's service.
 *
 * @example
 * const cart = await ctx.components.forService(ShoppingCartService).getCart({ cartId });
 */
export interface ComponentClient {
  /** A typed client for a service served by this Orrery service. */
  forService<S extends DescService>(service: S): Client<S>;
}

/**
 * The header under which a caller names a command so that a retry of it is
 * applied once: an event-sourced entity that already applied a command under
 * this key (within 7 days) returns that command's reply and persists nothing.
 *
 * @example
 * await ctx.components.forService(WalletService).deposit(req, { headers: { [IDEMPOTENCY_KEY_HEADER]: `${transferId}/deposit` } });
 */
export const IDEMPOTENCY_KEY_HEADER = "orrery-idempotency-key";
