import type { Code } from "@connectrpc/connect";
import type { ComponentClient } from "./component-client.js";
import { principalOf } from "./principal.js";
import type { JwtClaims, Principal } from "./principal.js";
import type { ErrorEffect, PersistEffect, ReplyEffect } from "./effect.js";
import { errorEffect, persistEffect } from "./effect.js";
import type { CommandTimers } from "./timers.js";

/**
 * What a command handler gets besides the state and the command: who it is
 * for, the request metadata, and the effect builders it returns.
 *
 * @example
 * addItem(cart, cmd, ctx) {
 *   if (cmd.quantity <= 0) return ctx.error(Code.InvalidArgument, "quantity must be at least 1");
 *   return ctx.persist(create(ItemAddedSchema, cmd)).thenReply((c) => c);
 * }
 */
export interface CommandContext<State, Event, Claims = JwtClaims> {
  /** The id of the entity this command is for (the request's entity key). */
  readonly entityId: string;
  /** The persisted type name of the entity, e.g. "shopping-cart". */
  readonly entityType: string;
  /** The rpc name, e.g. "AddItem". */
  readonly method: string;
  /** The number of events persisted for this entity so far. */
  readonly sequenceNumber: number;
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
  /** Persist these events, in order and atomically; finish with `thenReply`. */
  persist(...events: Event[]): PersistEffect<State, Event>;
  /** Reply without persisting anything. */
  reply<Reply>(reply: Reply): ReplyEffect<Reply, State, Event>;
  /** Reject the command with a Connect code and a message the caller can act on. */
  error(code: Code, message: string): ErrorEffect;
  /** Delete the entity (persisting no event); finish with `thenReply`. */
  deleteEntity(): PersistEffect<State, Event>;
}

/** The facts a runtime or test kit supplies to build a command context. */
export interface CommandContextInit {
  readonly entityId: string;
  readonly entityType: string;
  readonly method: string;
  readonly sequenceNumber: number;
  readonly metadata?: Headers;
  readonly signal?: AbortSignal;
  readonly components: ComponentClient;
  /** Records the handler's timer changes (see `recordTimers`). */
  readonly timers: CommandTimers;
}

/** Creates a command context; for runtimes and test kits. */
export function createCommandContext<State, Event, Claims = JwtClaims>(init: CommandContextInit): CommandContext<State, Event, Claims> {
  return {
    entityId: init.entityId,
    entityType: init.entityType,
    method: init.method,
    sequenceNumber: init.sequenceNumber,
    metadata: init.metadata ?? new Headers(),
    principal: principalOf<Claims>(init.metadata),
    signal: init.signal ?? new AbortController().signal,
    components: init.components,
    timers: init.timers,
    persist: (...events) => persistEffect<State, Event>(events),
    reply: (reply) => persistEffect<State, Event>([]).thenReply(reply),
    error: errorEffect,
    deleteEntity: () => persistEffect<State, Event>([], true),
  };
}
