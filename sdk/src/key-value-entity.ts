import type { DescMessage, DescService, Message } from "@bufbuild/protobuf";
import { bindHandlers } from "./bind-handlers.js";
import type { MethodSpec } from "./event-sourced-entity.js";
import type { KeyValueCommandContext } from "./key-value-context.js";
import type { KeyValueHandlerResult } from "./key-value-effect.js";

/** What `protoc-gen-orrery` knows about a key-value entity service. */
export interface KeyValueEntitySpec<Svc extends DescService = DescService> {
  /** The stable, persisted entity type name, e.g. "customer". */
  readonly type: string;
  /** The Connect service the entity serves. */
  readonly service: Svc;
  /** The state message, stored whole (protobuf binary) with every write. */
  readonly state: DescMessage;
  /** The message the verified token's claims are read into (`(orrery.v1.service).claims`); the token's JSON without it. */
  readonly claims?: DescMessage;
  /** One entry per rpc, by the method's localName. */
  readonly methods: { readonly [K in keyof Svc["method"]]: MethodSpec };
}

/** The part of every key-value entity implementation that is not a command handler. */
export interface KeyValueEntityBehavior<State> {
  /** The state of an entity never written (or deleted); defaults to the empty state message. */
  initialState?(entityId: string): State;
}

/** A generated key-value entity definition; call `implement` with the handlers. */
export interface KeyValueEntityDefinition<
  Svc extends DescService,
  State extends Message,
  Handlers extends KeyValueEntityBehavior<State>,
> extends KeyValueEntitySpec<Svc> {
  readonly kind: "key-value-entity";
  /** Binds the handlers to the definition, giving a component to serve or test. */
  implement(handlers: Handlers): KeyValueEntity<Svc, State>;
}

/** An untyped key-value command handler, as the runtime calls it. */
export type AnyKeyValueHandler = (
  state: Message,
  command: Message,
  ctx: KeyValueCommandContext<Message>,
) => KeyValueHandlerResult<Message, Message>;

/** An implemented key-value entity: pass it to `createService({ components })`. */
export interface KeyValueEntity<Svc extends DescService = DescService, State extends Message = Message> {
  readonly kind: "key-value-entity";
  readonly spec: KeyValueEntitySpec<Svc>;
  /** The behaviour, typed for the entity's state. */
  readonly behavior: KeyValueEntityBehavior<State>;
  /** Looks up a command handler by the method's localName. */
  handler(method: string): AnyKeyValueHandler | undefined;
}

/** Creates a key-value entity definition; called by generated code, not by hand. */
export function defineKeyValueEntity<
  Svc extends DescService,
  State extends Message,
  Handlers extends KeyValueEntityBehavior<State>,
>(spec: KeyValueEntitySpec<Svc>): KeyValueEntityDefinition<Svc, State, Handlers> {
  return {
    ...spec,
    kind: "key-value-entity",
    implement(handlers) {
      const byMethod = bindHandlers<AnyKeyValueHandler>(spec.service, spec.type, spec.methods, handlers, "state, command, ctx");
      return {
        kind: "key-value-entity",
        spec,
        behavior: handlers,
        handler: (method) => byMethod.get(method),
      };
    },
  };
}
