import type { ErrorEffect } from "./effect.js";

/**
 * What a key-value command handler decided, as a value: replace the state (or
 * delete the entity, or leave it) and reply, or reject the command.
 */
export type KeyValueEffect<Reply, State = unknown> = KeyValueReplyEffect<Reply, State> | ErrorEffect;

/** A key-value handler result: an effect, or a promise of one for handlers that await. */
export type KeyValueHandlerResult<Reply, State = unknown> = KeyValueEffect<Reply, State> | Promise<KeyValueEffect<Reply, State>>;

/** Store `update` (or delete the entity), then answer with `reply(newState)`. */
export interface KeyValueReplyEffect<Reply, State> {
  readonly kind: "reply";
  /** The new state to store; undefined leaves the stored state as it is. */
  readonly update: State | undefined;
  /** Whether the entity is deleted: its state row becomes a deletion, the next command sees the initial state. */
  readonly deleteEntity: boolean;
  /** Computes the reply from the state after the update. */
  readonly reply: (state: State) => Reply;
}

/**
 * The builder `ctx.updateState(...)` and `ctx.deleteEntity()` return: finish it with `thenReply`.
 *
 * @example
 * return ctx.updateState(customer).thenReply((c) => c);
 */
export interface StateEffect<State> {
  /** Reply with a value, or with a function of the state after the update. */
  thenReply<Reply>(reply: Reply | ((state: State) => Reply)): KeyValueReplyEffect<Reply, State>;
}

/** Builds a state effect; used by command contexts. */
export function stateEffect<State>(update: State | undefined, deleteEntity: boolean): StateEffect<State> {
  return {
    thenReply<Reply>(reply: Reply | ((state: State) => Reply)): KeyValueReplyEffect<Reply, State> {
      const fn = typeof reply === "function" ? (reply as (state: State) => Reply) : () => reply;
      return { kind: "reply", update, deleteEntity, reply: fn };
    },
  };
}
