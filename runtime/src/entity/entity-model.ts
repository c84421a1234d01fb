import type { DescMethod, Message } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import type { ComponentClient, EventSourcedEntity, KeyValueEntity, TimerChange, Workflow } from "@orrery/sdk";
import type { Span } from "@opentelemetry/api";
import type { AppliedCommand, ShardFence } from "../storage/index.js";

/** A component whose entities an entity host keeps in memory. */
export type HostedComponent = EventSourcedEntity | KeyValueEntity | Workflow;

/**
 * How the entities of one component kind are loaded, changed by a command
 * and written, for the entity host that runs their mailboxes: an
 * event-sourced entity appends events, a key-value entity replaces its state.
 */
export interface EntityModel {
  readonly component: HostedComponent;
  /** The entity's state as stored, and its position: the last sequence number, or the state's revision. */
  load(entityId: string): Promise<{ readonly state: Message; readonly seqNr: number }>;
  /** Runs one command's handler against `state`; throws `HandlerFailure` when user code breaks the contract. */
  handle(input: CommandRun): Promise<ModelOutcome>;
  /** Starts collecting the writes of one batch of commands of one entity, from its position `seqNr`. */
  batch(entityId: string, seqNr: number): BatchWrite;
  /**
   * The commands the entity applied under an idempotency key within `withinMs`,
   * by key; absent where this kind of entity does not honour keys yet.
   */
  readonly appliedCommands?: (entityId: string, withinMs: number) => Promise<Map<string, AppliedCommand>>;
}

/** One command, as the entity host hands it to the model. */
export interface CommandRun {
  readonly entityId: string;
  readonly method: DescMethod;
  readonly command: Message;
  readonly state: Message;
  /** The position the handler sees (the sequence number, counting the batch's earlier events). */
  readonly seqNr: number;
  readonly metadata?: Headers;
  readonly signal?: AbortSignal;
  readonly components: ComponentClient;
}

/** What one command decided. */
export type ModelOutcome =
  | { readonly kind: "rejected"; readonly code: Code; readonly message: string }
  | { readonly kind: "accepted"; readonly state: Message; readonly reply: Message; readonly change: unknown; readonly timers: readonly TimerChange[] };

/** The writes of one batch of commands of one entity, committed together. */
export interface BatchWrite {
  /**
   * Adds an accepted command's change; returns the position the next command
   * sees. `applied`: the command came with an idempotency key, recorded with
   * its change (if it has one) so that a retry returns the same reply.
   * Throws `HandlerFailure` when it cannot be encoded.
   */
  add(outcome: Extract<ModelOutcome, { kind: "accepted" }>, applied?: AppliedCommand & { readonly key: string }): number;
  /** The keyed commands added so far whose change is written (a command that changed nothing records no key). */
  readonly recorded: ReadonlyMap<string, AppliedCommand>;
  /** Whether there is nothing to write. */
  readonly empty: boolean;
  /** Commits; resolves with the entity's position after it. `failed`: a command broke the contract, so its state is not snapshotted. */
  commit(options: BatchCommit): Promise<number>;
}

/** How a batch is committed. */
export interface BatchCommit {
  /** The entity's state after the batch. */
  readonly state: Message;
  readonly failed: boolean;
  /** The latest `performance.now()` time to wait for an unreachable store. */
  readonly deadline: number;
  readonly spans: readonly Span[] | undefined;
  readonly fence: ShardFence | undefined;
  /** The keys the entity applied before this batch, when known (a model that stores them with the state writes them all). */
  readonly applied: ReadonlyMap<string, AppliedCommand> | undefined;
}
