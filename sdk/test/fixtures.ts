// A tiny counter entity built from a descriptor made in code, so the sdk's
// tests need no generated files.
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { DescMessage, DescService, Message } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";
import { defineEventSourcedEntity, defineKeyValueEntity } from "../src/index.js";
import type { CommandContext, EventSourcedEntityBehavior, HandlerResult, KeyValueCommandContext, KeyValueEntityBehavior, KeyValueHandlerResult } from "../src/index.js";

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "test/counter.proto",
    package: "test",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    messageType: [
      { name: "AddRequest", field: [
        { name: "counter_id", number: 1, type: 9, label: 1, jsonName: "counterId" },
        { name: "amount", number: 2, type: 5, label: 1, jsonName: "amount" },
      ] },
      { name: "Counter", field: [{ name: "value", number: 1, type: 5, label: 1, jsonName: "value" }] },
      { name: "Added", field: [{ name: "amount", number: 1, type: 5, label: 1, jsonName: "amount" }] },
      { name: "Reset", field: [] },
    ],
    service: [{ name: "CounterService", method: [
      { name: "Add", inputType: ".test.AddRequest", outputType: ".test.Counter" },
      { name: "Get", inputType: ".test.AddRequest", outputType: ".test.Counter" },
    ] }],
  }),
  (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers.proto : undefined),
);

function message(name: string): DescMessage {
  const desc = registry.getMessage(name);
  if (!desc) throw new Error(name);
  return desc;
}

export const AddRequestSchema = message("test.AddRequest");
export const CounterSchema = message("test.Counter");
export const AddedSchema = message("test.Added");
export const ResetSchema = message("test.Reset");
export const CounterService = registry.getService("test.CounterService") as DescService;

type Ctx = CommandContext<Message, Message>;
export interface CounterHandlers extends EventSourcedEntityBehavior<Message, Message> {
  add(state: Message, command: Message, ctx: Ctx): HandlerResult<Message, Message, Message>;
  get(state: Message, command: Message, ctx: Ctx): HandlerResult<Message, Message, Message>;
}

export const Counter = defineEventSourcedEntity<DescService, Message, Message, CounterHandlers>({
  type: "counter",
  service: CounterService,
  state: CounterSchema,
  events: [AddedSchema, ResetSchema],
  snapshotEvery: 0,
  methods: { add: { entityKey: "counterId", readOnly: false }, get: { entityKey: "counterId", readOnly: true } },
});

/** Reads a field of a reflected message. */
export function field(msg: Message, name: string): unknown {
  return (msg as unknown as Record<string, unknown>)[name];
}

/** A well-behaved counter. */
export const counterHandlers: CounterHandlers = {
  applyEvent(state, event) {
    const s = state as unknown as { value: number };
    if (event.$typeName === "test.Added") s.value += field(event, "amount") as number;
    if (event.$typeName === "test.Reset") s.value = 0;
    return state;
  },
  add(_state, command, ctx) {
    const amount = field(command, "amount") as number;
    if (amount === 0) return ctx.error(3, "amount must not be 0");
    return ctx.persist(create(AddedSchema, { amount } as never)).thenReply((s) => s);
  },
  get: (state, _command, ctx) => ctx.reply(state),
};

type KvCtx = KeyValueCommandContext<Message>;
export interface KvCounterHandlers extends KeyValueEntityBehavior<Message> {
  add(state: Message, command: Message, ctx: KvCtx): KeyValueHandlerResult<Message, Message>;
  get(state: Message, command: Message, ctx: KvCtx): KeyValueHandlerResult<Message, Message>;
}

/** The counter as a key-value entity: each command stores the whole new state. */
export const KvCounter = defineKeyValueEntity<DescService, Message, KvCounterHandlers>({
  type: "kv-counter",
  service: CounterService,
  state: CounterSchema,
  methods: { add: { entityKey: "counterId", readOnly: false }, get: { entityKey: "counterId", readOnly: true } },
});

/** A well-behaved key-value counter: amount -1 deletes it. */
export const kvCounterHandlers: KvCounterHandlers = {
  add(state, command, ctx) {
    const amount = field(command, "amount") as number;
    if (amount === 0) return ctx.error(3, "amount must not be 0");
    if (amount === -1) return ctx.deleteEntity().thenReply((s) => s);
    return ctx.updateState(create(CounterSchema, { value: (field(state, "value") as number) + amount } as never)).thenReply((s) => s);
  },
  get: (state, _command, ctx) => ctx.reply(state),
};
