import { create } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, Message, MessageInitShape } from "@bufbuild/protobuf";

/** When a timer fires: `delayMs` after it is stored (in a command handler: after the command commits), or at a point in time. */
export type TimerWhen = { readonly delayMs: number } | { readonly at: Date };

/** A unary rpc of a component served by this service, as generated: `ShoppingCartService.method.checkout`. */
export type TimerTarget<I extends DescMessage> = DescMethod & { readonly methodKind: "unary"; readonly input: I };

/**
 * Durable timers: a call to a component method, made once the timer is due,
 * under a name. Timers are rows in the database: they survive restarts and
 * crashes, fire at least once (a call that fails is retried with backoff
 * until it succeeds), and a name holds one timer at a time: scheduling under
 * a name in use replaces that timer, and `cancel` removes it. Names are shared
 * by the whole service; put the entity id in them (`"reminder-" + cartId`).
 * The call carries the timer's name and due time (ms since the epoch) in the
 * `orrery-timer` and `orrery-timer-due` headers of `ctx.metadata`.
 *
 * `Result` is `Promise<void>` outside command handlers (consumers,
 * `service.timers`): it resolves once the timer is stored. In a command
 * handler (`CommandTimers`) it is `void`: the change takes effect only when
 * the command commits, and not at all when it is rejected or fails.
 *
 * @example
 * ctx.timers.schedule(`expire-${cmd.cartId}`, { delayMs: 30 * 60_000 }, ShoppingCartService.method.checkout, { cartId: cmd.cartId });
 * ctx.timers.cancel(`expire-${cmd.cartId}`);
 */
export interface Timers<Result = Promise<void>> {
  /** Schedules `method(request)` under `name` for `when`, replacing a timer of that name. */
  schedule<I extends DescMessage>(name: string, when: TimerWhen, method: TimerTarget<I>, request: MessageInitShape<I>): Result;
  /** Removes the timer `name`, if there is one; a timer whose call is already running may still complete. */
  cancel(name: string): Result;
}

/** The timers of a command handler: changes take effect when the command commits (see {@link Timers}). */
export type CommandTimers = Timers<void>;

/** One change to the timers, as a command handler recorded it; for runtimes and test kits. */
export type TimerChange =
  | { readonly kind: "schedule"; readonly name: string; readonly when: TimerWhen; readonly method: DescMethod; readonly request: Message }
  | { readonly kind: "cancel"; readonly name: string };

/**
 * Checks a schedule's arguments and builds its request message; throws an
 * error naming the timer and the fix. Shared by every implementation.
 */
export function timerSchedule<I extends DescMessage>(name: string, when: TimerWhen, method: TimerTarget<I>, request: MessageInitShape<I>): Extract<TimerChange, { kind: "schedule" }> {
  checkTimerName(name);
  if (method === null || typeof method !== "object" || method.kind !== "rpc") {
    throw new TypeError(`timer "${name}": the target must be an rpc of a generated service, e.g. ShoppingCartService.method.checkout`);
  }
  if (method.methodKind !== "unary") {
    throw new TypeError(`timer "${name}": ${method.parent.typeName}/${method.name} is a ${method.methodKind} rpc; a timer can only call a unary rpc`);
  }
  if ("delayMs" in when) {
    if (!Number.isFinite(when.delayMs) || when.delayMs < 0) {
      throw new RangeError(`timer "${name}": delayMs must be a finite number of milliseconds >= 0, not ${String(when.delayMs)}`);
    }
  } else if (!(when.at instanceof Date) || Number.isNaN(when.at.getTime())) {
    throw new RangeError(`timer "${name}": at must be a valid Date`);
  }
  return { kind: "schedule", name, when, method, request: create(method.input as DescMessage, request as MessageInitShape<DescMessage>) };
}

/** Throws unless `name` can name a timer. */
export function checkTimerName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length > 512 || name.includes("\0")) {
    throw new TypeError(`a timer name must be a non-empty string of at most 512 characters without NUL, not ${JSON.stringify(name)}`);
  }
}

/** The due time of `when` in ms since the epoch, counted from `now`. */
export function dueTime(when: TimerWhen, now: number): number {
  return "delayMs" in when ? now + when.delayMs : when.at.getTime();
}

/** The timers of one command: records each change in `changes`, for the runtime to apply when the command commits. */
export function recordTimers(changes: TimerChange[]): CommandTimers {
  return {
    schedule(name, when, method, request) {
      changes.push(timerSchedule(name, when, method, request));
    },
    cancel(name) {
      checkTimerName(name);
      changes.push({ kind: "cancel", name });
    },
  };
}
