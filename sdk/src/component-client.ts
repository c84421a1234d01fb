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
