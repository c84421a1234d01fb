import type { DescMessage, DescService, Message } from "@bufbuild/protobuf";
import { bindHandlers } from "./bind-handlers.js";
import type { ComponentClient } from "./component-client.js";
import type { Timers } from "./timers.js";

/** Per-rpc facts of a consumer: the event message it handles. */
export interface ConsumerMethodSpec {
  /**
   * The full name of the event message the rpc takes, e.g. "shop.cart.v1.ItemAdded";
   * of a key-value source, its state message (a change) or "google.protobuf.Empty" (a deletion).
   */
  readonly event: string;
}

/** What `protoc-gen-orrery` knows about a consumer service. */
export interface ConsumerSpec<Svc extends DescService = DescService> {
  /** The stable name its progress is stored under: the service's full name. */
  readonly name: string;
  /** The `type` of the entity it consumes. */
  readonly source: string;
  /** `events` of an event-sourced entity, or `states`: a key-value entity's changes (each its latest state) and deletions. */
  readonly feed: "events" | "states";
  /** The service that declares it (its rpcs are the handlers; it is not served to callers). */
  readonly service: Svc;
  /** Every event type the source persists, handled or declared ignored; for a key-value source, its state message. */
  readonly events: readonly DescMessage[];
  /** Event types of the source this consumer deliberately skips. */
  readonly ignored: readonly string[];
  /** One entry per rpc, by the method's localName. */
  readonly methods: { readonly [K in keyof Svc["method"]]: ConsumerMethodSpec };
}

/**
 * What a consumer handler gets besides the event: where it comes from, and
 * typed clients to call other components.
 */
export interface ConsumerContext {
  /** The entity that persisted the event. */
  readonly entityId: string;
  readonly entityType: string;
  /** The event's sequence number in its entity's journal (of a key-value source, the state's revision): per entity, records arrive in this order. */
  readonly sequenceNumber: number;
  /** Aborted when the service shuts down. */
  readonly signal: AbortSignal;
  /** Typed clients for other components. */
  readonly components: ComponentClient;
  /** Schedule and cancel durable timers; each change is stored when its promise resolves. */
  readonly timers: Timers;
}

/**
 * A consumer handler's result: return (or resolve) when the event is handled.
 * Throwing (or rejecting) retries the same event with backoff; later events
 * wait, so none is ever skipped. Delivery is at least once: after a crash an
 * event may be handled again, so effects should be idempotent.
 */
export type ConsumerResult = void | Promise<void>;

/** An untyped consumer handler, as the runtime calls it. */
export type AnyConsumerHandler = (event: Message, ctx: ConsumerContext) => ConsumerResult;

/** A generated consumer definition; call `implement` with the handlers. */
export interface ConsumerDefinition<Svc extends DescService, Handlers> extends ConsumerSpec<Svc> {
  readonly kind: "consumer";
  implement(handlers: Handlers): Consumer<Svc>;
}

/** An implemented consumer: pass it to `createService({ components })`. */
export interface Consumer<Svc extends DescService = DescService> {
  readonly kind: "consumer";
  readonly spec: ConsumerSpec<Svc>;
  /** The handler of an event type (by full message name); undefined for an ignored one. */
  handlerFor(eventType: string): AnyConsumerHandler | undefined;
}

/** Creates a consumer definition; called by generated code, not by hand. */
export function defineConsumer<Svc extends DescService, Handlers>(spec: ConsumerSpec<Svc>): ConsumerDefinition<Svc, Handlers> {
  return {
    ...spec,
    kind: "consumer",
    implement(handlers) {
      const byMethod = bindHandlers<AnyConsumerHandler>(spec.service, spec.name, spec.methods, handlers as object, "event, ctx");
      const byEvent = new Map<string, AnyConsumerHandler>();
      for (const [method, { event }] of Object.entries(spec.methods as Record<string, ConsumerMethodSpec>)) byEvent.set(event, byMethod.get(method)!);
      return { kind: "consumer", spec, handlerFor: (eventType) => byEvent.get(eventType) };
    },
  };
}
