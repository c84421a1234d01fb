// The storage layer: one Kysely schema over PostgreSQL (pg) or PGlite, the
// migrations, and the event journal with group commit.

export { openDatabase } from "./database.js";
export type { Database, DatabaseCapabilities, DatabaseOptions } from "./database.js";
export { channelIn, checkSchemaName } from "./database-schema.js";
export type { StorageLogger } from "./storage-logger.js";
export { migrateToLatest } from "./migrations/migrate-to-latest.js";
export type { MigrationSummary } from "./migrations/migrate-to-latest.js";
export { createEventJournal } from "./event-journal.js";
export { createFeedSignal, FEED_CHANNEL } from "./feed-signal.js";
export type { FeedSignal } from "./feed-signal.js";
export { createKeyValueStore } from "./key-value-store.js";
export type { KeyValueStore, KeyValueStoreOptions, KeyValueStoreStats, StateWrite, StoredState } from "./key-value-store.js";
export { describeEventStore, openEventStore } from "./open-event-store.js";
export type { EventStore, EventStoreConfig } from "./open-event-store.js";
export type { EventJournal, EventJournalOptions, EventJournalStats } from "./event-journal.js";
export type { CommitOutcomes, JournalObserver } from "./journal-observer.js";
export type { AppendRequest, AppliedCommand, JournalEvent, LoadedEntity, ShardFence, Snapshot, StoredEvent } from "./journal-records.js";
export { IDEMPOTENCY_METADATA } from "./journal-records.js";
export {
  CommitOutcomeUnknownError,
  FencedWriteError,
  RevisionConflictError,
  SequenceConflictError,
  StorageError,
  StorageUnavailableError,
  isConnectionFailure,
  toStorageError,
} from "./storage-errors.js";
export { createStorageHealth } from "./storage-health.js";
export type { StorageHealth, StorageHealthOptions, StorageOutage } from "./storage-health.js";

// For runtime code that queries Orrery's tables directly (views, projections).
export type { ClusterTable, EventsTable, KeyValueStateTable, NodesTable, ProjectionOffsetsTable, OrreryTables, ShardsTable, SnapshotsTable, TimersTable } from "./orrery-tables.js";
