import type { Code } from "@connectrpc/connect";

/**
 * What a command handler decided, as a value: persist events (possibly none)
 * and reply, or reject the command with an error. The runtime carries it out;
 * unit tests inspect it.
 */
export type Effect<Reply, State = unknown, Event = unknown> =
  | ReplyEffect<Reply, State, Event>
  | ErrorEffect;

/** A handler result: an effect, or a promise of one for handlers that await. */
export type HandlerResult<Reply, State = unknown, Event = unknown> =
  | Effect<Reply, State, Event>
  | Promise<Effect<Reply, State, Event>>;

/** Persist `events` (in order, atomically), then answer with `reply(newState)`. */
export interface ReplyEffect<Reply, State, Event> {
  readonly kind: "reply";
  /** Events to persist; empty for a plain reply. */
  readonly events: readonly Event[];
  /** Whether the entity is deleted after the events are persisted. */
  readonly deleteEntity: boolean;
  /** Computes the reply from the state after the events were applied. */
  readonly reply: (state: State) => Reply;
}

/** Reject the command: nothing is persisted and the caller gets a `ConnectError`. */
export interface ErrorEffect {
  readonly kind: "error";
  readonly code: Code;
  readonly message: string;
}

/**
 * The builder `ctx.persist(...)` returns: finish it with `thenReply`.
 *
 * @example
 * return ctx.persist(itemAdded).thenReply((cart) => cart);
 */
export interface PersistEffect<State, Event> {
  /** The events this effect persists. */
  readonly events: readonly Event[];
  /** Also delete the entity once the events are persisted: the next command sees the initial state. */
  deleteEntity(): PersistEffect<State, Event>;
  /** Reply with a value, or with a function of the state after the events were applied. */
  thenReply<Reply>(reply: Reply | ((state: State) => Reply)): ReplyEffect<Reply, State, Event>;
}

/** Builds a persist effect; used by command contexts. */
export function persistEffect<State, Event>(
  events: readonly Event[],
  deleteEntity = false,
): PersistEffect<State, Event> {
  return {
    events,
    deleteEntity: () => persistEffect<State, Event>(events, true),
    thenReply<Reply>(reply: Reply | ((state: State) => Reply)): ReplyEffect<Reply, State, Event> {
      const fn = typeof reply === "function" ? (reply as (state: State) => Reply) : () => reply;
      return { kind: "reply", events, deleteEntity, reply: fn };
    },
  };
}

/** Builds an error effect; used by command contexts. */
export function errorEffect(code: Code, message: string): ErrorEffect {
  return { kind: "error", code, message };
}
