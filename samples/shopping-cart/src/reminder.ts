import { create } from "@bufbuild/protobuf";
import { Code } from "@orrery/sdk";
import { CartReminder } from "./gen/shop/cart/v1/reminder_orrery.js";
import { CartReminderService, ReminderSchema } from "./gen/shop/cart/v1/reminder_pb.js";

/** The timer of a cart's reminder: one per cart, so asking again replaces it. */
export const reminderTimer = (cartId: string): string => `cart-reminder-${cartId}`;

/**
 * Abandoned-cart reminders, one key-value entity per cart. `Remind` schedules
 * a durable timer that calls `Fire` after the delay; the timer is stored only
 * if the new state is, and survives restarts. A real shop would send the
 * e-mail in `Fire`; here it records when it fired.
 */
export const cartReminder = CartReminder.implement({
  initialState: (cartId) => create(ReminderSchema, { cartId }),

  remind(_state, cmd, ctx) {
    if (cmd.delayMs < 0n || cmd.delayMs > 366n * 86_400_000n) {
      return ctx.error(Code.InvalidArgument, `delay_ms must be between 0 and a year, got ${cmd.delayMs}`);
    }
    ctx.timers.schedule(reminderTimer(cmd.cartId), { delayMs: Number(cmd.delayMs) }, CartReminderService.method.fire, { cartId: cmd.cartId });
    return ctx.updateState(create(ReminderSchema, { cartId: cmd.cartId, dueAtMs: BigInt(Date.now()) + cmd.delayMs })).thenReply((s) => s);
  },

  fire(state, cmd, ctx) {
    // The timer's own due time (Remind's is a little earlier: the timer counts from the commit).
    const due = ctx.metadata.get("orrery-timer-due");
    const dueAtMs = due === null ? state.dueAtMs : BigInt(due);
    return ctx.updateState(create(ReminderSchema, { ...state, cartId: cmd.cartId, dueAtMs, firedAtMs: BigInt(Date.now()), fired: state.fired + 1 })).thenReply((s) => s);
  },

  cancel(state, cmd, ctx) {
    ctx.timers.cancel(reminderTimer(cmd.cartId));
    return ctx.updateState(create(ReminderSchema, { ...state, cartId: cmd.cartId, cancelled: true })).thenReply((s) => s);
  },

  getReminder(state, _cmd, ctx) {
    return ctx.reply(state);
  },
});
