// Where a test service keeps its events: a fresh database on the server at
// DATABASE_URL when that is set, otherwise a fresh PGlite data directory.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** Storage settings for createService plus a cleanup. */
export interface TestStorage {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly label: string;
  cleanup(): Promise<void>;
}

let counter = 0;

/** A fresh, empty store on the dialect this run tests. */
export async function freshStorage(): Promise<TestStorage> {
  const serverUrl = process.env["DATABASE_URL"];
  const dataDir = await mkdtemp(join(tmpdir(), "orrery-sample-"));
  if (serverUrl === undefined || serverUrl === "") {
    return { databaseUrl: undefined, dataDir, label: "PGlite", cleanup: () => rm(dataDir, { recursive: true, force: true }) };
  }
  const name = `orrery_sample_${process.pid}_${Date.now()}_${counter++}`;
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dataDir,
    label: "PostgreSQL",
    async cleanup() {
      await admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function admin(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
