import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database, DatabaseOptions } from "./database.js";
import type { OrreryTables } from "./orrery-tables.js";
import { queryLog } from "./storage-logger.js";
import { StorageError, StorageUnavailableError, describeError, isRetryable } from "./storage-errors.js";
import { pgTypes } from "./value-parsers.js";

const minimumServerVersion = 130000; // xid8 and pg_current_xact_id() arrived in PostgreSQL 13
const urlHint = "check DATABASE_URL (postgres://user:password@host:port/database)";

/**
 * Opens a pg pool with Orrery's type parsers and per-session guards
 * (`statement_timeout`, `idle_in_transaction_session_timeout`), and checks the
 * server answers and is recent enough. Errors name the host, port and database,
 * never the password.
 */
export async function openPostgresDatabase(options: DatabaseOptions & { url: string }): Promise<Database> {
  const target = describeTarget(options.url);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    types: pgTypes,
    application_name: "orrery",
    statement_timeout: options.statementTimeoutMs ?? 10_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on("error", (error) => {
    options.logger?.warn({ err: error, target }, "idle PostgreSQL connection failed; the pool will reconnect");
  });
  const log = queryLog(options.logger);
  const db = new Kysely<OrreryTables>({ dialect: new PostgresDialect({ pool }), ...(log && { log }) });

  let version: number;
  try {
    const result = await sql<{ version: number }>`select current_setting('server_version_num')::int as version`.execute(db);
    version = result.rows[0]?.version ?? 0;
  } catch (error) {
    await db.destroy().catch(() => undefined);
    const message = `could not connect to PostgreSQL at ${target}: ${describeError(error)}; ${urlHint}`;
    throw isRetryable(error)
      ? new StorageUnavailableError(`${message}, and that the server is running`, { cause: error })
      : new StorageError(message, { cause: error });
  }
  if (version < minimumServerVersion) {
    await db.destroy();
    throw new StorageError(`PostgreSQL at ${target} is version ${version}; Orrery needs PostgreSQL 13 or later`);
  }

  let closing: Promise<void> | undefined;
  return {
    db,
    dialect: "postgres",
    capabilities: { concurrentTransactions: true, listenNotify: true },
    close: () => (closing ??= db.destroy()),
  };
}

/** `host:port/database` of a PostgreSQL URL, for error messages. */
function describeTarget(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StorageError(`DATABASE_URL is not a valid URL; ${urlHint}`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new StorageError(`DATABASE_URL has scheme "${parsed.protocol}" instead of "postgres:"; ${urlHint}`);
  }
  const query = parsed.searchParams;
  const host = decodeURIComponent(parsed.hostname) || query.get("host") || "localhost";
  const port = parsed.port || query.get("port") || "5432";
  const database = decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username) || "postgres";
  return `${host}:${port}/${database}`;
}
