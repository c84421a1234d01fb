import type { DescMessage, DescService, Message } from "@bufbuild/protobuf";
import type { CommandContext } from "./command-context.js";
import type { HandlerResult } from "./effect.js";
import { bindHandlers } from "./bind-handlers.js";

/** Per-method facts the code generator reads from the proto. */
export interface MethodSpec {
  /** The localName of the request field that holds the entity id. */
  readonly entityKey: string;
  /** The method never changes state (`(orrery.v1.method).read_only`). */
  readonly readOnly: boolean;
}

/** What `protoc-gen-orrery` knows about an event-sourced entity service. */
export interface EventSourcedEntitySpec<Svc extends DescService = DescService> {
  /** The stable, persisted entity type name, e.g. "shopping-cart". */
  readonly type: string;
  /** The Connect service the entity serves. */
  readonly service: Svc;
  /** The state message. */
  readonly state: DescMessage;
  /** Every event message the entity may persist. */
  readonly events: readonly DescMessage[];
  /** Snapshot every this many events; 0 leaves it to the runtime. */
  readonly snapshotEvery: number;
  /** The message the verified token's claims are read into (`(orrery.v1.service).claims`); the token's JSON without it. */
  readonly claims?: DescMessage;
  /** One entry per rpc, by the method's localName. */
  readonly methods: { readonly [K in keyof Svc["method"]]: MethodSpec };
}

/** The part of every entity implementation that is not a command handler. */
export interface EventSourcedEntityBehavior<State, Event> {
  /**
   * Returns the state after `event`. Must be pure and deterministic: it runs
   * again whenever the entity is recovered from its journal. It may update
   * `state` in place and return it.
   */
  applyEvent(state: State, event: Event): State;
  /** The state of an entity with no events; defaults to the empty state message. */
  initialState?(entityId: string): State;
}

/** Options of an implemented entity that override what the proto says. */
export interface EventSourcedEntityOptions {
  /** Snapshot every this many events (overrides the proto's `snapshot_every`). */
  readonly snapshotEvery?: number;
}

/** A generated entity definition; call `implement` with the handlers. */
export interface EventSourcedEntityDefinition<
  Svc extends DescService,
  State extends Message,
  Event extends Message,
  Handlers extends EventSourcedEntityBehavior<State, Event>,
> extends EventSourcedEntitySpec<Svc> {
  readonly kind: "event-sourced-entity";
  /** Binds the handlers to the definition, giving a component to serve or test. */
  implement(handlers: Handlers, options?: EventSourcedEntityOptions): EventSourcedEntity<Svc, State, Event>;
}

/** An untyped command handler, as the runtime calls it. */
export type AnyCommandHandler = (
  state: Message,
  command: Message,
  ctx: CommandContext<Message, Message>,
) => HandlerResult<Message, Message, Message>;

/** An implemented event-sourced entity: pass it to `createService({ components })`. */
export interface EventSourcedEntity<
  Svc extends DescService = DescService,
  State extends Message = Message,
  Event extends Message = Message,
> {
  readonly kind: "event-sourced-entity";
  readonly spec: EventSourcedEntitySpec<Svc>;
  /** Snapshot interval chosen by `implement` options or the proto; 0 = runtime default. */
  readonly snapshotEvery: number;
  /** The behaviour, typed for the entity's state and events. */
  readonly behavior: EventSourcedEntityBehavior<State, Event>;
  /** Looks up a command handler by the method's localName. */
  handler(method: string): AnyCommandHandler | undefined;
}

/**
 * Creates an entity definition; called by generated code, not by hand.
 */
export function defineEventSourcedEntity<
  Svc extends DescService,
  State extends Message,
  Event extends Message,
  Handlers extends EventSourcedEntityBehavior<State, Event>,
>(spec: EventSourcedEntitySpec<Svc>): EventSourcedEntityDefinition<Svc, State, Event, Handlers> {
  return {
    ...spec,
    kind: "event-sourced-entity",
    implement(handlers, options) {
      const byMethod = bindHandlers<AnyCommandHandler>(spec.service, spec.type, spec.methods, handlers, "state, command, ctx");
      return {
        kind: "event-sourced-entity",
        spec,
        snapshotEvery: options?.snapshotEvery ?? spec.snapshotEvery,
        behavior: handlers,
        handler: (method) => byMethod.get(method),
      };
    },
  };
}
