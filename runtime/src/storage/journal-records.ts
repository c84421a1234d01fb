// The records the event journal writes and returns.
import type { Span } from "@opentelemetry/api";

/** An event to append: protobuf binary plus its full message name. */
export interface JournalEvent {
  /** Dense per entity: the entity's last sequence number + 1, + 2, … */
  readonly seqNr: number;
  /** Full protobuf message name, e.g. `shop.cart.v1.ItemAdded`. */
  readonly eventType: string;
  readonly payload: Uint8Array;
  /** Small string pairs such as a correlation id or trace context; stored as jsonb. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** An event as read back from the journal. */
export interface StoredEvent extends JournalEvent {
  /** Position in the global journal; unique, increasing within a transaction, not gap-free. */
  readonly globalPosition: number;
  readonly writtenAt: Date;
}

/** The state of an entity as of `seqNr`, protobuf binary plus its full message name. */
export interface Snapshot {
  readonly seqNr: number;
  readonly stateType: string;
  readonly payload: Uint8Array;
}

/** Events (and optionally a snapshot) for one entity, committed atomically. */
export interface AppendRequest {
  readonly entityType: string;
  readonly entityId: string;
  /** Consecutive sequence numbers; may be empty when only a snapshot is stored. */
  readonly events: readonly JournalEvent[];
  /** Replaces the stored snapshot only if that one is older. */
  readonly snapshot?: Snapshot | undefined;
  /**
   * The latest `performance.now()` time the caller waits for an unreachable
   * event store; by default the journal's `waitMs` from the call.
   */
  readonly deadline?: number | undefined;
  /**
   * The shard lease the writer holds: the append commits only while the
   * shard's epoch in `orrery_shards` is still this one, checked in the
   * append's own statement; otherwise it fails with `FencedWriteError`.
   */
  readonly fence?: ShardFence | undefined;
  /** The spans of the commands this append commits, when tracing: the commit span is linked to them. */
  readonly spans?: readonly Span[] | undefined;
}

/** A shard and the fencing epoch its holder's writes carry. */
export interface ShardFence {
  readonly shard: number;
  readonly epoch: number;
}

/** What recovering an entity needs: its latest snapshot and every later event, in order. */
export interface LoadedEntity {
  readonly snapshot?: Snapshot;
  readonly events: StoredEvent[];
}

/**
 * The `metadata` of the last event of a command applied under an idempotency
 * key: the key, the rpc and its reply (protobuf binary, base64), so that a
 * retry of the command returns that reply and persists nothing new.
 */
export const IDEMPOTENCY_METADATA = { key: "orrery.idempotencyKey", method: "orrery.replyMethod", reply: "orrery.reply" } as const;

/** A command an entity applied under an idempotency key, as read back from its events. */
export interface AppliedCommand {
  /** The rpc's name, e.g. "Deposit". */
  readonly method: string;
  readonly reply: Uint8Array;
  /** When it was applied, in ms since the epoch (for forgetting old keys). */
  readonly at: number;
}
