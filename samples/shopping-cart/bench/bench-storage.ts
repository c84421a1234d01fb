// A fresh, empty store per benchmarked storage: a new PGlite data directory,
// or a new database on PostgreSQL (DATABASE_URL's server, else an embedded
// server started here). Everything is removed afterwards. The bench never
// writes into a database it did not create: DATABASE_URL only names the
// server to create the fresh database on.
import { rmSync } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
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
  /** How big the journal is now, read beside the server (the soak follows it). */
  journalSize(): Promise<JournalSize>;
  /** Removes the database or directory, and stops an embedded server. */
  dispose(): Promise<void>;
}

/** The event journal's size at one moment. */
export interface JournalSize {
  /** Rows in orrery_events (PostgreSQL only: PGlite's files belong to the server process). */
  readonly events?: number | undefined;
  /** pg_total_relation_size('orrery_events') on PostgreSQL (table, indexes, TOAST); the data directory's files on PGlite. */
  readonly bytes: number;
}

/** Creates an empty store of `kind`. */
export async function openBenchStorage(kind: StorageKind): Promise<BenchStorage> {
  if (kind === "pglite") {
    const dataDir = await mkdtemp(join(tmpdir(), "orrery-bench-pglite-"));
    // A bench that dies before dispose() still removes the directory and the lock a killed server leaves beside it.
    const removeOnExit = (): void => {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(`${dataDir}.lock`, { force: true });
    };
    process.once("exit", removeOnExit);
    return {
      kind, settings: {},
      description: `PGlite in ${dataDir}${process.env["DATABASE_URL"] ? " (DATABASE_URL is not passed to the server)" : ""}`,
      env: { ORRERY_DATA_DIR: dataDir },
      journalSize: async () => ({ bytes: await directoryBytes(dataDir) }),
      dispose: async () => {
        process.off("exit", removeOnExit);
        await rm(dataDir, { recursive: true, force: true });
        await rm(`${dataDir}.lock`, { force: true });
      },
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
    // A connection of its own, so it neither queues behind nor adds to the server's pool.
    journalSize: () =>
      admin(url.toString(), async (client) => {
        const { rows } = await client.query<{ events: string; bytes: string }>(
          "SELECT count(*) AS events, pg_total_relation_size('orrery_events') AS bytes FROM orrery_events",
        );
        return { events: Number(rows[0]?.events), bytes: Number(rows[0]?.bytes) };
      }),
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

/** The sizes of the files under `dir`, summed. */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    // A file PGlite removes while we walk is simply not counted.
    if (entry.isFile()) total += await stat(join(entry.parentPath, entry.name)).then((s) => s.size, () => 0);
  }
  return total;
}
