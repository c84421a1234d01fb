import { create, isMessage } from "@bufbuild/protobuf";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import { callHandler, computeReply, describeMessage, HandlerFailure } from "./command-processor.js";
import type { ComponentClient } from "./component-client.js";
import { createKeyValueCommandContext } from "./key-value-context.js";
import type { KeyValueEntity } from "./key-value-entity.js";
import { recordTimers } from "./timers.js";
import type { TimerChange } from "./timers.js";

/** The outcome of one command against a key-value entity's current state. */
export type KeyValueOutcome =
  | { readonly kind: "rejected"; readonly code: Code; readonly message: string }
  | {
      readonly kind: "accepted";
      /** Whether the state row must be written (an update or a deletion). */
      readonly changed: boolean;
      /** The state to keep once written (the initial state after a delete). */
      readonly state: Message;
      readonly deleted: boolean;
      /** The reply, detached from the state. */
      readonly reply: Message;
      /** The timer changes the handler made, in order: to apply once the state is written. */
      readonly timers: readonly TimerChange[];
    };

/** Everything needed to run one key-value command. */
export interface KeyValueCommandInput {
  readonly entity: KeyValueEntity;
  readonly entityId: string;
  readonly method: DescMethod;
  readonly command: Message;
  readonly state: Message;
  readonly metadata?: Headers;
  readonly signal?: AbortSignal;
  readonly components: ComponentClient;
}

/** The state of a key-value entity never written, or deleted. */
export function initialKeyValueState(entity: KeyValueEntity, entityId: string): Message {
  return entity.behavior.initialState?.(entityId) ?? create(entity.spec.state);
}

/**
 * Runs a key-value command handler. Throws `HandlerFailure` when user code
 * throws or breaks the contract (a state of the wrong type, a write from a
 * read_only method); the caller then keeps the state it had.
 */
export async function processKeyValueCommand(input: KeyValueCommandInput): Promise<KeyValueOutcome> {
  const { entity, method } = input;
  const handler = entity.handler(method.localName);
  if (handler === undefined) throw new HandlerFailure("handler", `no handler for ${method.name}`);
  const timers: TimerChange[] = [];
  const ctx = createKeyValueCommandContext<Message>({
    entityId: input.entityId,
    entityType: entity.spec.type,
    method: method.name,
    metadata: input.metadata,
    signal: input.signal,
    components: input.components,
    timers: recordTimers(timers),
  });
  const effect = await callHandler(method, "ctx.reply(...), ctx.updateState(...).thenReply(...)", () => handler(input.state, input.command, ctx));
  if (effect.kind === "error") return { kind: "rejected", code: effect.code, message: effect.message };
  const changed = effect.update !== undefined || effect.deleteEntity;
  const readOnly = (entity.spec.methods as Record<string, { readOnly?: boolean } | undefined>)[method.localName]?.readOnly === true;
  if (readOnly && changed) {
    throw new HandlerFailure(
      "handler",
      `the ${method.name} handler ${effect.deleteEntity ? "deleted the entity" : "updated the state"}, but ${method.name} is read_only ` +
        "((orrery.v1.method).read_only = true); reply with ctx.reply(...), or drop read_only from the rpc",
    );
  }
  if (effect.update !== undefined && !isMessage(effect.update, entity.spec.state)) {
    throw new HandlerFailure(
      "state",
      `the ${method.name} handler stored ${describeMessage(effect.update)} as the state of "${entity.spec.type}"; the state is ${entity.spec.state.typeName}`,
    );
  }
  const state = effect.deleteEntity ? initialKeyValueState(entity, input.entityId) : (effect.update ?? input.state);
  const reply = computeReply(method, () => effect.reply(state));
  return { kind: "accepted", changed, state, deleted: effect.deleteEntity, reply, timers };
}
