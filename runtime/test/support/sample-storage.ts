// Where a test service keeps its events. By default: a fresh database on the
// server at DATABASE_URL when that is set, otherwise a fresh PGlite data
// directory. Tests that must run on both ask for a dialect explicitly; without
// DATABASE_URL the PostgreSQL one is an embedded server the project installs.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
// The embedded server is the runtime test harness's; the samples share this file.
import { admin, postgresServerUrl, withDatabase } from "./postgres-server.js";

/** Storage settings for createService plus a cleanup. */
export interface TestStorage {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly label: "PGlite" | "PostgreSQL";
  cleanup(): Promise<void>;
}

let counter = 0;

/** A fresh, empty store: on PostgreSQL when DATABASE_URL is set, else PGlite. */
export function freshStorage(): Promise<TestStorage> {
  return freshStorageOn(process.env["DATABASE_URL"] ? "PostgreSQL" : "PGlite");
}

/** A fresh, empty store on the given dialect. */
export async function freshStorageOn(dialect: "PGlite" | "PostgreSQL"): Promise<TestStorage> {
  const dataDir = await mkdtemp(join(tmpdir(), "orrery-sample-"));
  if (dialect === "PGlite") {
    return { databaseUrl: undefined, dataDir, label: "PGlite", cleanup: () => rm(dataDir, { recursive: true, force: true }) };
  }
  const serverUrl = await postgresServerUrl();
  const name = `orrery_sample_${process.pid}_${Date.now()}_${counter++}`;
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  return {
    databaseUrl: withDatabase(serverUrl, name),
    dataDir,
    label: "PostgreSQL",
    async cleanup() {
      await admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
