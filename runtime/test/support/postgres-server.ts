import pg from "pg";
import { freePort, startEmbeddedPostgres } from "./embedded-postgres.js";
import type { EmbeddedPostgres } from "./embedded-postgres.js";

export { freePort };

/**
 * The URL of a PostgreSQL server for tests (its database part is only used
 * for administration): `DATABASE_URL` when set, else ONE embedded server per
 * test process, started on first use on a free port with its data in the OS
 * temp directory, and stopped by `stopPostgresServer`.
 */
export function postgresServerUrl(): Promise<string> {
  const fromEnvironment = process.env["DATABASE_URL"];
  if (fromEnvironment !== undefined && fromEnvironment !== "") return Promise.resolve(fromEnvironment);
  embedded ??= startEmbeddedPostgres();
  return embedded.then((server) => server.url);
}

/** Stops the embedded server, if one was started, and deletes its data. */
export async function stopPostgresServer(): Promise<void> {
  const started = embedded;
  embedded = undefined;
  if (started === undefined) return;
  const server = await started.catch(() => undefined);
  await server?.stop();
}

let embedded: Promise<EmbeddedPostgres> | undefined;

/** Runs one statement on the server (e.g. CREATE/DROP DATABASE) over a short-lived connection. */
export async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** The same server URL with another database name. */
export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
