import { clone, create, isMessage } from "@bufbuild/protobuf";
import type { DescMethod, DescMessage, Message } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import { createCommandContext } from "./command-context.js";
import type { ComponentClient } from "./component-client.js";
import type { EventSourcedEntity } from "./event-sourced-entity.js";
import { recordTimers } from "./timers.js";
import type { TimerChange } from "./timers.js";

/** The outcome of one command against an entity's current state. */
export type CommandOutcome =
  | { readonly kind: "rejected"; readonly code: Code; readonly message: string }
  | {
      readonly kind: "accepted";
      /** Events to persist, in order; empty for a read. */
      readonly events: readonly Message[];
      /** The state to keep once the events are persisted (the initial state after a delete). */
      readonly state: Message;
      readonly deleted: boolean;
      /** The reply, detached from the state. */
      readonly reply: Message;
      /** The timer changes the handler made, in order: to apply once the events commit. */
      readonly timers: readonly TimerChange[];
    };

/** Where user code broke a rule; the command fails and the entity must be reloaded. */
export type HandlerFailurePhase = "handler" | "event" | "applyEvent" | "state" | "reply";

/** User code threw or broke the entity contract while handling a command. */
export class HandlerFailure extends Error {
  override readonly name = "HandlerFailure";
  /**
   * The message without the text of the exception user code threw (which may
   * hold paths or data), fit for a caller; the full message is for the log.
   */
  readonly summary: string;
  constructor(
    readonly phase: HandlerFailurePhase,
    message: string,
    options?: { cause?: unknown; summary?: string },
  ) {
    super(message, options);
    this.summary = options?.summary ?? message;
  }
}

/** Everything needed to run one command. */
export interface CommandInput {
  readonly entity: EventSourcedEntity;
  readonly entityId: string;
  readonly method: DescMethod;
  readonly command: Message;
  readonly state: Message;
  readonly sequenceNumber: number;
  readonly metadata?: Headers;
  readonly signal?: AbortSignal;
  readonly components: ComponentClient;
}

/** The state of an entity that has no events yet. */
export function initialState(entity: EventSourcedEntity, entityId: string): Message {
  return entity.behavior.initialState?.(entityId) ?? create(entity.spec.state);
}

/**
 * Runs a command handler and, when it persists events, applies them. Throws
 * `HandlerFailure` when user code throws or breaks the contract; the caller
 * must then drop the in-memory state, which may be half-updated.
 */
export async function processCommand(input: CommandInput): Promise<CommandOutcome> {
  const { entity, method } = input;
  const handler = entity.handler(method.localName);
  if (handler === undefined) {
    throw new HandlerFailure("handler", `no handler for ${method.name}`);
  }
  const timers: TimerChange[] = [];
  const ctx = createCommandContext<Message, Message>({
    entityId: input.entityId,
    entityType: entity.spec.type,
    method: method.name,
    sequenceNumber: input.sequenceNumber,
    metadata: input.metadata,
    signal: input.signal,
    components: input.components,
    timers: recordTimers(timers),
  });
  const effect = await callHandler(method, "ctx.reply(...), ctx.persist(...).thenReply(...)", () => handler(input.state, input.command, ctx));
  if (effect.kind === "error") {
    return { kind: "rejected", code: effect.code, message: effect.message };
  }
  const readOnly = (entity.spec.methods as Record<string, { readOnly?: boolean } | undefined>)[method.localName]?.readOnly === true;
  if (readOnly && (effect.events.length > 0 || effect.deleteEntity)) {
    const what = effect.events.length > 0 ? `persisted ${effect.events.length} event${effect.events.length === 1 ? "" : "s"}` : "deleted the entity";
    throw new HandlerFailure(
      "handler",
      `the ${method.name} handler ${what}, but ${method.name} is read_only ((orrery.v1.method).read_only = true); ` +
        "reply with ctx.reply(...), or drop read_only from the rpc",
    );
  }
  let state = input.state;
  for (const event of effect.events) {
    checkEvent(entity, method, event);
    try {
      state = entity.behavior.applyEvent(state, event);
    } catch (cause) {
      throw new HandlerFailure("applyEvent", `applyEvent threw on ${event.$typeName}: ${describe(cause)}`, { cause, summary: `applyEvent threw ${kindOf(cause)} on ${event.$typeName}` });
    }
  }
  const reply = computeReply(method, () => effect.reply(state));
  return {
    kind: "accepted",
    events: effect.events,
    state: effect.deleteEntity ? initialState(entity, input.entityId) : state,
    deleted: effect.deleteEntity,
    reply,
    timers,
  };
}

/** Runs a handler, turning a throw or a non-effect result into a `HandlerFailure`. */
/** `builders` names the effect builders a handler of this kind returns, for the error message. */
export async function callHandler<E extends { kind: string }>(method: DescMethod, builders: string, run: () => E | Promise<E>): Promise<E> {
  let effect: unknown;
  try {
    effect = await run();
  } catch (cause) {
    throw new HandlerFailure("handler", `the ${method.name} handler threw: ${describe(cause)}`, { cause, summary: `the ${method.name} handler threw ${kindOf(cause)}` });
  }
  if (effect === null || typeof effect !== "object" || !("kind" in effect)) {
    throw new HandlerFailure("handler", `the ${method.name} handler returned ${describe(effect)} instead of an effect; return ${builders} or ctx.error(...)`);
  }
  return effect as E;
}

/** Computes the reply and checks its type; the reply is detached from the state, which later commands keep changing. */
export function computeReply(method: DescMethod, run: () => unknown): Message {
  let reply: unknown;
  try {
    reply = run();
  } catch (cause) {
    throw new HandlerFailure("reply", `the ${method.name} reply function threw: ${describe(cause)}`, { cause, summary: `the ${method.name} reply function threw ${kindOf(cause)}` });
  }
  if (!isMessage(reply, method.output)) {
    throw new HandlerFailure("reply", `the ${method.name} handler replied with ${describeMessage(reply)}; it must reply with ${method.output.typeName}`);
  }
  return clone(method.output, reply);
}

function checkEvent(entity: EventSourcedEntity, method: DescMethod, event: unknown): asserts event is Message {
  const declared: readonly DescMessage[] = entity.spec.events;
  if (declared.some((d) => isMessage(event, d))) return;
  throw new HandlerFailure(
    "event",
    `the ${method.name} handler persisted ${describeMessage(event)}, which is not an event of "${entity.spec.type}" ` +
      `(declared: ${declared.map((d) => d.typeName).join(", ")}); add it to the events of the event_sourced_entity option`,
  );
}

export function describeMessage(value: unknown): string {
  if (value !== null && typeof value === "object" && "$typeName" in value) return String(value.$typeName);
  return describe(value);
}

/** "an Error", "a TypeError", "a string": what was thrown, without its text. */
function kindOf(value: unknown): string {
  const name = value instanceof Error ? value.name : value === null ? "null" : typeof value;
  return `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name}`;
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (value === undefined || value === null) return String(value);
  return typeof value === "object" ? "a plain object" : `${typeof value} ${String(value)}`;
}
