import type { RuntimeConfig } from "../config.js";
import type { Database } from "./database.js";
import { openDatabase } from "./database.js";
import { createEventJournal } from "./event-journal.js";
import { createFeedSignal } from "./feed-signal.js";
import type { FeedSignal } from "./feed-signal.js";
import type { EventJournal } from "./event-journal.js";
import { createKeyValueStore } from "./key-value-store.js";
import type { KeyValueStore } from "./key-value-store.js";
import type { JournalObserver } from "./journal-observer.js";
import { migrateToLatest } from "./migrations/migrate-to-latest.js";
import type { StorageLogger } from "./storage-logger.js";

/** The settings {@link openEventStore} reads. */
export type EventStoreConfig = Pick<
  RuntimeConfig,
  "databaseUrl" | "databaseSchema" | "dataDir" | "dbPoolSize" | "dbStatementTimeoutMs" | "storageWaitMs" | "maxPendingAppends"
>;

/** An open, migrated database, the event journal and the key-value store over it (sharing one health), and the signal their commits give the feeds' readers. */
export interface EventStore {
  readonly database: Database;
  readonly journal: EventJournal;
  readonly keyValues: KeyValueStore;
  readonly feed: FeedSignal;
}

/**
 * Opens the service's event store: PostgreSQL at `databaseUrl`, else PGlite
 * in `dataDir` ("memory:" keeps nothing), migrated to the latest schema. If
 * migrating fails the database is closed again.
 */
export async function openEventStore(config: EventStoreConfig, logger: StorageLogger, observer?: JournalObserver): Promise<EventStore> {
  const database = await openDatabase(
    config.databaseUrl !== undefined
      ? { url: config.databaseUrl, schema: config.databaseSchema, logger, poolSize: config.dbPoolSize, statementTimeoutMs: config.dbStatementTimeoutMs }
      : { dataDir: config.dataDir === "memory:" ? undefined : config.dataDir, schema: config.databaseSchema, logger },
  );
  try {
    await migrateToLatest(database);
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
  const feed = createFeedSignal(database, { logger });
  const onCommitted = () => feed.committed();
  const journal = createEventJournal(database, { logger, waitMs: config.storageWaitMs, maxPending: config.maxPendingAppends, observer, onCommitted });
  const keyValues = createKeyValueStore(database, { logger, waitMs: config.storageWaitMs, maxPending: config.maxPendingAppends, health: journal.health, onCommitted });
  return { database, journal, keyValues, feed };
}

/** Where the events are kept, for the "serving" line: the URL without its credentials, or PGlite's directory. */
export function describeEventStore(config: Pick<RuntimeConfig, "databaseUrl" | "databaseSchema" | "dataDir">): string {
  if (config.databaseUrl !== undefined) {
    return `PostgreSQL at ${config.databaseUrl.replace(/\/\/[^@/]*@/, "//")}${config.databaseSchema === undefined ? "" : `, schema ${config.databaseSchema}`}`;
  }
  return config.dataDir === "memory:" ? "PGlite in memory" : `PGlite in ${config.dataDir}`;
}
