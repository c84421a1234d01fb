import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescService, Message, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import type { ComponentClient } from "../component-client.js";
import type { KeyValueEntity } from "../key-value-entity.js";
import { initialKeyValueState, processKeyValueCommand } from "../key-value-processor.js";
import type { TestKitOptions } from "./event-sourced-test-kit.js";
import { noComponents } from "./no-components.js";
import { TestTimers } from "./test-timers.js";
import { withPrincipal } from "../principal.js";
import type { Principal } from "../principal.js";

/** The outcome of one command in the key-value test kit. */
export interface KeyValueTestResult<Reply, State> {
  /** The reply, when the command was accepted. */
  readonly reply: Reply | undefined;
  /** The error, when the handler rejected the command. */
  readonly error: { readonly code: Code; readonly message: string } | undefined;
  /** Whether this command wrote the state (an update or a deletion). */
  readonly stateWritten: boolean;
  /** The entity's state after the command. */
  readonly state: State;
}

/**
 * Runs commands against one key-value entity in memory, with no database and
 * no server, through the same command processing the runtime uses. Every
 * stored state is round-tripped through protobuf binary, as the state row
 * would be.
 *
 * @example
 * const kit = KeyValueTestKit.of(customer);
 * const { reply } = await kit.call("create", { customerId: "c1", email: "a@example.com", name: "Ann" });
 */
export class KeyValueTestKit<Svc extends DescService, State extends Message> {
  readonly entityId: string;
  /** The timers this entity's handlers scheduled (of accepted commands only), on a test clock. */
  readonly timers: TestTimers;
  #entity: KeyValueEntity<Svc, State>;
  #components: ComponentClient;
  #state: State;
  #revision = 0;
  #deleted = false;

  private constructor(entity: KeyValueEntity<Svc, State>, options: TestKitOptions) {
    this.#entity = entity;
    this.entityId = options.entityId ?? "test-entity";
    this.#components = options.components ?? noComponents;
    this.timers = options.timers ?? new TestTimers({ components: this.#components });
    this.#state = initialKeyValueState(entity as unknown as KeyValueEntity, this.entityId) as State;
  }

  /** A test kit for a fresh entity of this component. */
  static of<Svc extends DescService, State extends Message>(
    entity: KeyValueEntity<Svc, State>,
    options: TestKitOptions = {},
  ): KeyValueTestKit<Svc, State> {
    return new KeyValueTestKit(entity, options);
  }

  /** The current state (as stored: decoded from its protobuf binary). */
  get state(): State {
    return this.#state;
  }

  /** How many writes the state has had, as the runtime counts its revision. */
  get revision(): number {
    return this.#revision;
  }

  /** Whether the last write deleted the entity. */
  get deleted(): boolean {
    return this.#deleted;
  }

  /** Sends a command by the method's localName, e.g. `"changeName"`. */
  async call<K extends keyof Svc["method"] & string>(
    method: K,
    command: MessageInitShape<Svc["method"][K]["input"]>,
    options: { metadata?: ConstructorParameters<typeof Headers>[0]; /** Who calls, as `ctx.principal` shows it (claims: the token's JSON, or the service's claims message); a component by default. */ principal?: Principal<unknown> } = {},
  ): Promise<KeyValueTestResult<MessageShape<Svc["method"][K]["output"]>, State>> {
    const entity = this.#entity as unknown as KeyValueEntity;
    const desc = entity.spec.service.methods.find((m) => m.localName === method);
    if (desc === undefined) throw new Error(`${entity.spec.service.typeName} has no method "${method}"`);
    const outcome = await processKeyValueCommand({
      entity,
      entityId: this.entityId,
      method: desc,
      command: create(desc.input, command as MessageInitShape<DescMessage>),
      state: this.#state,
      metadata: withPrincipal(new Headers(options.metadata), options.principal),
      components: this.#components,
    });
    if (outcome.kind === "rejected") {
      return { reply: undefined, error: { code: outcome.code, message: outcome.message }, stateWritten: false, state: this.#state };
    }
    if (outcome.changed) {
      const stateDesc = entity.spec.state;
      this.#state = fromBinary(stateDesc, toBinary(stateDesc, outcome.state)) as State;
      this.#revision++;
      this.#deleted = outcome.deleted;
    }
    this.timers.apply(outcome.timers);
    return {
      reply: outcome.reply as MessageShape<Svc["method"][K]["output"]>,
      error: undefined,
      stateWritten: outcome.changed,
      state: this.#state,
    };
  }
}
