// A fresh, empty store per benchmarked storage: a new PGlite data directory,
// or a new database on PostgreSQL (DATABASE_URL's server, else an embedded
// server started here). Everything is removed afterwards.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../../../runtime/test/support/embedded-postgres.js";

/** Which storage a run measures. */
export type StorageKind = "pglite" | "postgres";

/** A fresh store, described by the environment the sample server needs. */
export interface BenchStorage {
  readonly kind: StorageKind;
  /** For people: "PGlite in /tmp/…", "PostgreSQL 15.20 at 127.0.0.1:5432 (DATABASE_URL)". */
  readonly description: string;
  /** DATABASE_URL or ORRERY_DATA_DIR for the server. */
  readonly env: Record<string, string>;
  /** Server settings that change write throughput (PostgreSQL only). */
  readonly settings: Record<string, string>;
  /** Removes the database or directory, and stops an embedded server. */
  dispose(): Promise<void>;
}

/** Creates an empty store of `kind`. */
export async function openBenchStorage(kind: StorageKind): Promise<BenchStorage> {
  if (kind === "pglite") {
    const dataDir = await mkdtemp(join(tmpdir(), "orrery-bench-pglite-"));
    return {
      kind, description: `PGlite in ${dataDir}`, env: { ORRERY_DATA_DIR: dataDir }, settings: {},
      dispose: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const given = process.env["DATABASE_URL"]?.trim();
  if (given) return freshDatabase(given, "DATABASE_URL", async () => {});
  // Durable (fsync on), like a real server; the runtime's test harness provides it.
  const embedded = await startEmbeddedPostgres({ durable: true });
  try {
    return await freshDatabase(embedded.url, "embedded-postgres", embedded.stop);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

async function freshDatabase(serverUrl: string, source: string, stopServer: () => Promise<void>): Promise<BenchStorage> {
  const name = `orrery_bench_${Date.now()}_${process.pid}`;
  const settings = await admin(serverUrl, async (client) => {
    await client.query(`CREATE DATABASE ${name}`);
    const show = async (setting: string): Promise<string> => String((await client.query(`SHOW ${setting}`)).rows[0]?.[setting]);
    const names = ["server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections"];
    return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await show(n)] as const)));
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    kind: "postgres",
    description: `PostgreSQL ${settings["server_version"]} at ${url.host} (${source}), database ${name}`,
    env: { DATABASE_URL: url.toString() },
    settings,
    async dispose() {
      try {
        await admin(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      } finally {
        await stopServer();
      }
    },
  };
}

async function admin<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
