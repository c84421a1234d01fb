import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { randomBytes } from "node:crypto";
import type { Database, DatabaseOptions } from "./database.js";
import { checkSchemaName, ensureSchema, searchPathOption } from "./database-schema.js";
import type { OrreryTables } from "./orrery-tables.js";
import { listenOnPostgres } from "./postgres-listener.js";
import { createPostgresSessions } from "./postgres-sessions.js";
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
 *
 * Every connection carries an error listener for its whole life (idle or
 * checked out), so a connection the server drops can never crash the process,
 * and its own `application_name` (`orrery <process>/<n>`), so that a
 * statement whose connection was lost can be traced to its server session
 * (see `Database.inDoubtSession`).
 */
export async function openPostgresDatabase(options: DatabaseOptions & { url: string }): Promise<Database> {
  const target = describeTarget(options.url);
  const { schema } = options;
  const schemaProblem = schema === undefined ? undefined : checkSchemaName(schema);
  if (schemaProblem !== undefined) throw new StorageError(`ORRERY_DATABASE_SCHEMA: ${schemaProblem}`);
  const statementTimeoutMs = options.statementTimeoutMs ?? 5_000;
  const sessions = createPostgresSessions({
    prefix: `orrery ${process.pid}.${randomBytes(2).toString("hex")}`,
    // No answer at all (a silent network partition): give up on the connection a little after the server would have.
    answerTimeoutMs: statementTimeoutMs + 2_000,
    onConnectionError(error, session) {
      options.logger?.debug({ err: error, session, target }, "PostgreSQL connection failed; the pool replaces it");
    },
  });
  const pool = new pg.Pool({
    // Each connection names its own session; a name in the URL would hide which one ran a lost statement.
    connectionString: withoutApplicationName(options.url),
    max: options.poolSize ?? 10,
    types: pgTypes,
    Client: sessions.Client,
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // Set at connect time, so no pooled connection ever sees another schema's tables.
    ...(schema !== undefined && { options: searchPathOption(schema) }),
  });
  // Idle connections report here too; each one's own listener has logged it already.
  pool.on("error", () => {});
  pool.on("release", (_error: Error | undefined, client: unknown) => sessions.released(client));
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
  if (schema !== undefined) {
    try {
      await ensureSchema(db, schema);
    } catch (error) {
      await db.destroy().catch(() => undefined);
      throw new StorageError(`could not create schema ${JSON.stringify(schema)} (ORRERY_DATABASE_SCHEMA) in PostgreSQL at ${target}: ${describeError(error)}; create it, or grant CREATE on the database`, { cause: error });
    }
  }

  let closing: Promise<void> | undefined;
  return {
    db,
    dialect: "postgres",
    capabilities: { concurrentTransactions: true, listenNotify: true, exclusiveWriter: false },
    target,
    ...(schema !== undefined && { schema }),
    inDoubtSession: sessions.inDoubtSession,
    endSession: (session, until) => sessions.endSession(db, session, until),
    async probe() {
      await sql`select 1`.execute(db);
    },
    listen: (channel, onMessage) => listenOnPostgres(options.url, channel, onMessage, options.logger),
    close: () => (closing ??= db.destroy()),
  };
}

function withoutApplicationName(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("application_name")) return url;
  parsed.searchParams.delete("application_name");
  return parsed.toString();
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
