import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescService, Message, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import { initialState, processCommand } from "../command-processor.js";
import type { ComponentClient } from "../component-client.js";
import type { EventSourcedEntity } from "../event-sourced-entity.js";
import { noComponents } from "./no-components.js";
import { TestTimers } from "./test-timers.js";
import { withPrincipal } from "../principal.js";
import type { Principal } from "../principal.js";

/** The outcome of one command in the test kit. */
export interface TestCommandResult<Reply, State, Event> {
  /** The reply, when the command was accepted. */
  readonly reply: Reply | undefined;
  /** The error, when the handler rejected the command. */
  readonly error: { readonly code: Code; readonly message: string } | undefined;
  /** The events this command persisted. */
  readonly events: readonly Event[];
  /** The entity's state after the command. */
  readonly state: State;
}

/** Options of the test kit. */
export interface TestKitOptions {
  /** The entity id commands are addressed to; default "test-entity". */
  readonly entityId?: string;
  /** The component client handlers see; by default any call fails. */
  readonly components?: ComponentClient;
  /** The timers and test clock handlers schedule on; by default a clock of its own at 0, firing through `components`. */
  readonly timers?: TestTimers;
}

/**
 * Runs commands against one entity in memory, with no database and no
 * server, through the same command processing the runtime uses. Every event
 * is round-tripped through protobuf binary, as the journal would.
 *
 * @example
 * const kit = EventSourcedTestKit.of(cart);
 * const { reply, events } = await kit.call("addItem", { cartId: "c1", productId: "p1", name: "Pen", quantity: 2 });
 */
export class EventSourcedTestKit<Svc extends DescService, State extends Message, Event extends Message> {
  readonly entityId: string;
  /** The timers this entity's handlers scheduled (of accepted commands only), on a test clock. */
  readonly timers: TestTimers;
  #entity: EventSourcedEntity<Svc, State, Event>;
  #components: ComponentClient;
  #state: State;
  #events: Event[] = [];
  #deleted = false;

  private constructor(entity: EventSourcedEntity<Svc, State, Event>, options: TestKitOptions) {
    this.#entity = entity;
    this.entityId = options.entityId ?? "test-entity";
    this.#components = options.components ?? noComponents;
    this.timers = options.timers ?? new TestTimers({ components: this.#components });
    this.#state = initialState(entity as unknown as EventSourcedEntity, this.entityId) as State;
  }

  /** A test kit for a fresh entity of this component. */
  static of<Svc extends DescService, State extends Message, Event extends Message>(
    entity: EventSourcedEntity<Svc, State, Event>,
    options: TestKitOptions = {},
  ): EventSourcedTestKit<Svc, State, Event> {
    return new EventSourcedTestKit(entity, options);
  }

  /** The current state. */
  get state(): State {
    return this.#state;
  }

  /** Every event persisted so far, oldest first. */
  get events(): readonly Event[] {
    return this.#events;
  }

  /** Whether the last accepted command deleted the entity. */
  get deleted(): boolean {
    return this.#deleted;
  }

  /** Sends a command by the method's localName, e.g. `"addItem"`. */
  async call<K extends keyof Svc["method"] & string>(
    method: K,
    command: MessageInitShape<Svc["method"][K]["input"]>,
    options: { metadata?: ConstructorParameters<typeof Headers>[0]; /** Who calls, as `ctx.principal` shows it (claims: the token's JSON, or the service's claims message); a component by default. */ principal?: Principal<unknown> } = {},
  ): Promise<TestCommandResult<MessageShape<Svc["method"][K]["output"]>, State, Event>> {
    const entity = this.#entity as unknown as EventSourcedEntity;
    const desc = entity.spec.service.methods.find((m) => m.localName === method);
    if (desc === undefined) {
      throw new Error(`${entity.spec.service.typeName} has no method "${method}"`);
    }
    const outcome = await processCommand({
      entity,
      entityId: this.entityId,
      method: desc,
      command: create(desc.input, command as MessageInitShape<DescMessage>),
      state: this.#state,
      sequenceNumber: this.#events.length,
      metadata: withPrincipal(new Headers(options.metadata), options.principal),
      components: this.#components,
    });
    if (outcome.kind === "rejected") {
      return { reply: undefined, error: { code: outcome.code, message: outcome.message }, events: [], state: this.#state };
    }
    const events = outcome.events.map((e) => roundTrip(entity, e) as Event);
    this.#events.push(...events);
    this.#state = outcome.state as State;
    this.#deleted = outcome.deleted;
    this.timers.apply(outcome.timers);
    return {
      reply: outcome.reply as MessageShape<Svc["method"][K]["output"]>,
      error: undefined,
      events,
      state: this.#state,
    };
  }

  /**
   * Rebuilds the state from every persisted event, as a recovering runtime
   * would; compare it with `state` to check that applyEvent is deterministic.
   */
  replay(): State {
    let state = initialState(this.#entity as unknown as EventSourcedEntity, this.entityId) as State;
    for (const event of this.#events) state = this.#entity.behavior.applyEvent(state, event);
    return state;
  }
}

function roundTrip(entity: EventSourcedEntity, event: Message): Message {
  const desc = entity.spec.events.find((d) => d.typeName === event.$typeName);
  if (desc === undefined) return event;
  return fromBinary(desc, toBinary(desc, event));
}
