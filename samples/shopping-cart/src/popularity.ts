import { create } from "@bufbuild/protobuf";
import { Code } from "@orrery/sdk";
import { PopularProductsConsumer, ProductPopularity } from "./gen/shop/cart/v1/popularity_orrery.js";
import { ProductPopularityService, ProductPopularitySchema } from "./gen/shop/cart/v1/popularity_pb.js";

/** Each product's counts, one key-value entity per product id. */
export const popularity = ProductPopularity.implement({
  initialState: (productId) => create(ProductPopularitySchema, { productId }),

  recordAdded(state, cmd, ctx) {
    if (cmd.quantity <= 0) return ctx.error(Code.InvalidArgument, `quantity must be at least 1, got ${cmd.quantity}`);
    const next = create(ProductPopularitySchema, {
      productId: cmd.productId,
      timesAdded: state.timesAdded + 1n,
      quantityAdded: state.quantityAdded + BigInt(cmd.quantity),
    });
    return ctx.updateState(next).thenReply((s) => s);
  },

  getPopularity(state, _cmd, ctx) {
    return ctx.reply(state);
  },
});

/**
 * Counts every ItemAdded of every cart into the product's popularity. At
 * least once: an event handled again after a crash is counted again, so the
 * counts are an upper bound within the few events in flight at the crash.
 */
export const popularProducts = PopularProductsConsumer.implement({
  async onItemAdded(event, ctx) {
    await ctx.components.forService(ProductPopularityService).recordAdded({ productId: event.productId, quantity: event.quantity });
  },
});
