import type { Code } from "@connectrpc/connect";
import type { ComponentClient } from "./component-client.js";
import { principalOf } from "./principal.js";
import type { JwtClaims, Principal } from "./principal.js";
import type { ErrorEffect } from "./effect.js";
import { errorEffect } from "./effect.js";
import type { KeyValueReplyEffect, StateEffect } from "./key-value-effect.js";
import { stateEffect } from "./key-value-effect.js";
import type { CommandTimers } from "./timers.js";

/**
 * What a key-value command handler gets besides the state and the command:
 * who it is for, the request metadata, and the effect builders it returns.
 *
 * @example
 * changeName(customer, cmd, ctx) {
 *   if (customer.customerId === "") return ctx.error(Code.NotFound, `no customer ${cmd.customerId}`);
 *   return ctx.updateState({ ...customer, name: cmd.newName }).thenReply((c) => c);
 * }
 */
export interface KeyValueCommandContext<State, Claims = JwtClaims> {
  /** The id of the entity this command is for (the request's entity key). */
  readonly entityId: string;
  /** The persisted type name of the entity, e.g. "customer". */
  readonly entityType: string;
  /** The rpc name, e.g. "ChangeName". */
  readonly method: string;
  /** The request headers. */
  readonly metadata: Headers;
  /** Who made the call: its source and, with a valid bearer token, its claims. */
  readonly principal: Principal<Claims>;
  /** Aborted when the caller gives up or the deadline passes. */
  readonly signal: AbortSignal;
  /** Typed clients for other components. */
  readonly components: ComponentClient;
  /** Schedule and cancel durable timers; the changes take effect only if this command commits. */
  readonly timers: CommandTimers;
  /** Replace the entity's state with `state`; finish with `thenReply`. */
  updateState(state: State): StateEffect<State>;
  /** Delete the entity: the next command sees the initial state; finish with `thenReply`. */
  deleteEntity(): StateEffect<State>;
  /** Reply without changing the state. */
  reply<Reply>(reply: Reply): KeyValueReplyEffect<Reply, State>;
  /** Reject the command with a Connect code and a message the caller can act on. */
  error(code: Code, message: string): ErrorEffect;
}

/** The facts a runtime or test kit supplies to build a key-value command context. */
export interface KeyValueCommandContextInit {
  readonly entityId: string;
  readonly entityType: string;
  readonly method: string;
  readonly metadata?: Headers;
  readonly signal?: AbortSignal;
  readonly components: ComponentClient;
  /** Records the handler's timer changes (see `recordTimers`). */
  readonly timers: CommandTimers;
}

/** Creates a key-value command context; for runtimes and test kits. */
export function createKeyValueCommandContext<State, Claims = JwtClaims>(init: KeyValueCommandContextInit): KeyValueCommandContext<State, Claims> {
  return {
    entityId: init.entityId,
    entityType: init.entityType,
    method: init.method,
    metadata: init.metadata ?? new Headers(),
    principal: principalOf<Claims>(init.metadata),
    signal: init.signal ?? new AbortController().signal,
    components: init.components,
    timers: init.timers,
    updateState: (state) => stateEffect<State>(state, false),
    deleteEntity: () => stateEffect<State>(undefined, true),
    reply: (reply) => stateEffect<State>(undefined, false).thenReply(reply),
    error: errorEffect,
  };
}
