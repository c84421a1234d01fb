import type { Kysely } from "kysely";
import type { OrreryTables } from "./orrery-tables.js";
import type { PostgresListener } from "./postgres-listener.js";
import { openPGliteDatabase } from "./pglite-database.js";
import { openPostgresDatabase } from "./postgres-database.js";
import { StorageError } from "./storage-errors.js";
import type { StorageLogger } from "./storage-logger.js";

/** What a dialect can do, so callers branch on abilities rather than on dialect names. */
export interface DatabaseCapabilities {
  /** Several transactions may run at once (pg pool). PGlite runs one at a time. */
  readonly concurrentTransactions: boolean;
  /** Other processes can be woken with LISTEN/NOTIFY. PGlite is in-process only. */
  readonly listenNotify: boolean;
  /**
   * No other process can write: PGlite's data directory is locked to the one
   * process that opened it, so no other node can ever hold a shard of this
   * journal and the database-side shard fence guards nothing. Appends then
   * skip it (the node still drops entities of shards it loses).
   */
  readonly exclusiveWriter: boolean;
}

/**
 * An open Orrery database: a Kysely instance over PostgreSQL (`pg`) or PGlite,
 * with values normalised at this boundary: int8 and xid8 come back as
 * `number`, bytea as a `Uint8Array` that owns its buffer, jsonb as objects,
 * timestamptz as `Date` — the same on both dialects.
 *
 * With PGlite, never use `db` inside a `db.transaction()` callback (use the
 * transaction): there is one connection, and the outer query waits forever.
 */
export interface Database {
  readonly db: Kysely<OrreryTables>;
  readonly dialect: "postgres" | "pglite";
  readonly capabilities: DatabaseCapabilities;
  /** Where the data lives, for logs only (never for callers): `host:port/database`, or PGlite's directory. */
  readonly target: string;
  /**
   * The PostgreSQL schema holding Orrery's tables when one was asked for
   * (`DatabaseOptions.schema`); every connection resolves unqualified names
   * there. Undefined: the database's default search path.
   */
  readonly schema?: string;
  /**
   * The server session that ran the statement which failed with `error`,
   * when that statement may have reached the server and the connection was
   * lost before an answer came back: the statement may have committed.
   * Undefined when the statement certainly did not commit (the server
   * answered with an error, or it was never sent) and on PGlite, where
   * nothing sits between the caller and the database.
   */
  inDoubtSession(error: unknown): string | undefined;
  /**
   * Ends server session `session` if it still exists and resolves once it is
   * gone, so that whatever it was running has committed or rolled back for
   * good. Rejects when the database cannot be reached, and resolves false
   * when the session is still there at `until` (a `performance.now()` time).
   */
  endSession(session: string, until?: number): Promise<boolean>;
  /** One cheap round trip; rejects when the database cannot be reached. */
  probe(): Promise<void>;
  /**
   * LISTENs on `channel` on a dedicated connection (reopened when lost), where
   * the dialect can hear other processes (`capabilities.listenNotify`).
   */
  listen?(channel: string, onMessage: (payload: string) => void): PostgresListener;
  /** Closes the pool or the PGlite instance. Idempotent. */
  close(): Promise<void>;
}

/** Where and how to open the database. */
export interface DatabaseOptions {
  /** PostgreSQL URL (typically `DATABASE_URL`). When absent, an in-process PGlite is used. */
  url?: string;
  /** PGlite data directory, created if missing; `undefined` = in-memory. Ignored when `url` is set. */
  dataDir?: string;
  /**
   * PostgreSQL only: the schema for Orrery's tables (typically
   * `ORRERY_DATABASE_SCHEMA`), created if missing and set as every
   * connection's `search_path`. Rejected without `url`.
   */
  schema?: string;
  /** Maximum pg connections (default 10). */
  poolSize?: number;
  /** pg `statement_timeout` per session (default 5 000 ms); a statement with no answer 2 s after that loses its connection. */
  statementTimeoutMs?: number;
  /** How long opening a pg connection may take (default 5 000 ms). */
  connectTimeoutMs?: number;
  /** pg `idle_in_transaction_session_timeout` per session (default 30 000 ms). */
  idleInTransactionTimeoutMs?: number;
  /** Receives pool errors (warn) and, when debug is enabled, every query with its duration. */
  logger?: StorageLogger;
}

/**
 * Opens PostgreSQL when `url` is given, else PGlite (in-memory, or persisted in
 * `dataDir`), and checks that it answers. Schema changes are separate: run
 * `migrateToLatest(database)` next.
 *
 * A database that cannot be reached rejects with a `StorageError` whose message
 * names the host, port and database and says what to check; it is a
 * `StorageUnavailableError` (retryable) when the server may just not be up yet.
 *
 * @example
 * const database = await openDatabase({ url: process.env.DATABASE_URL, dataDir: ".orrery/data" });
 * await migrateToLatest(database);
 * const journal = createEventJournal(database);
 */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  if (options.url !== undefined && options.url !== "") return openPostgresDatabase({ ...options, url: options.url });
  if (options.schema !== undefined) {
    throw new StorageError(`ORRERY_DATABASE_SCHEMA (${JSON.stringify(options.schema)}) is not supported on PGlite: each service has its own data directory; unset it, or set DATABASE_URL`);
  }
  return openPGliteDatabase(options);
}
