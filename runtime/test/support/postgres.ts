import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Database, StorageLogger } from "../../src/storage/index.js";
import { migrateToLatest, openDatabase } from "../../src/storage/index.js";
import { openPGliteDatabase } from "../../src/storage/pglite-database.js";
import { pgliteTemplate } from "./pglite-template.js";
import { admin, postgresServerUrl, stopPostgresServer, withDatabase } from "./postgres-server.js";

export { withDatabase };

/** One dialect setup that every storage test runs against. */
export interface TestDatabaseSetup {
  /** `pglite-memory`, `pglite-file` or `postgres`; use it in `describe` titles. */
  readonly name: string;
  readonly dialect: Database["dialect"];
  /** Whether data survives closing and reopening (false for in-memory PGlite). */
  readonly persistent: boolean;
  /** Creates a new, empty database (a fresh PostgreSQL database, data directory or PGlite) and opens it. */
  create(options?: { migrate?: boolean; logger?: StorageLogger }): Promise<TestDatabase>;
}

/** A database created for one test file (or one test). */
export interface TestDatabase {
  /** The handle opened by `create`. */
  readonly database: Database;
  /** Opens another handle to the same data; for PGlite, close the previous one first. */
  reopen(options?: { logger?: StorageLogger; statementTimeoutMs?: number }): Promise<Database>;
  /** The PostgreSQL URL of this database (postgres setup only). */
  readonly url?: string;
  /** Closes every handle opened through it and deletes the data. */
  dispose(): Promise<void>;
}

const leftovers = new Set<TestDatabase>();
const temporaryDirs = new Set<string>();

// Ctrl-C skips the after hooks; still leave no PGlite data directories behind.
process.on("exit", () => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

// A root-level hook (registered when the first test file imports this module): releases
// whatever a test file forgot, then stops the embedded server, so mocha can exit.
if (typeof after === "function") {
  after(async function () {
    this.timeout(30_000);
    await Promise.allSettled([...leftovers].map((test) => test.dispose()));
    await stopPostgresServer();
  });
}

/**
 * The dialect setups to loop over: in-memory PGlite, PGlite on a file data
 * directory, and real PostgreSQL (`DATABASE_URL`, or an embedded server
 * started once per test process). Each `create()` makes a fresh, uniquely
 * named database and drops it on `dispose()`.
 *
 * @example
 * for (const setup of testDatabases()) {
 *   describe(`EventJournal on ${setup.name}`, () => {
 *     let test: TestDatabase;
 *     before(async () => (test = await setup.create({ migrate: true })));
 *     after(() => test.dispose());
 *   });
 * }
 */
export function testDatabases(): TestDatabaseSetup[] {
  return [
    setup("pglite-memory", "pglite", false, async (options) => {
      const loadDataDir = await pgliteTemplate();
      const first = await openPGliteDatabase({ ...options, pgliteOptions: { loadDataDir } });
      return tracked(first, undefined, async () => {});
    }),
    setup("pglite-file", "pglite", true, async (options) => {
      const loadDataDir = await pgliteTemplate();
      const root = await mkdtemp(path.join(os.tmpdir(), "orrery-test-pglite-"));
      temporaryDirs.add(root);
      const dataDir = path.join(root, "nested", "data"); // openDatabase creates the parents
      const first = await openPGliteDatabase({ ...options, dataDir, pgliteOptions: { loadDataDir } });
      const destroy = async () => {
        await rm(root, { recursive: true, force: true });
        temporaryDirs.delete(root);
      };
      return tracked(first, (again) => openDatabase({ ...again, dataDir }), destroy);
    }),
    setup("postgres", "postgres", true, async (options) => {
      const serverUrl = await postgresServerUrl();
      const name = `orrery_test_${process.pid}_${randomBytes(4).toString("hex")}`;
      await admin(serverUrl, `create database ${name}`);
      const url = withDatabase(serverUrl, name);
      const destroy = () => admin(serverUrl, `drop database if exists ${name} with (force)`);
      const first = await openDatabase({ ...options, url }).catch(async (error: unknown) => {
        await destroy();
        throw error;
      });
      return { ...tracked(first, (again) => openDatabase({ ...again, url }), destroy), url };
    }),
  ];
}

type OpenOptions = { logger?: StorageLogger; statementTimeoutMs?: number };

function setup(
  name: string,
  dialect: Database["dialect"],
  persistent: boolean,
  make: (options: OpenOptions) => Promise<TestDatabase>,
): TestDatabaseSetup {
  return {
    name,
    dialect,
    persistent,
    async create({ migrate = false, ...options } = {}) {
      const test = await make(options);
      if (migrate) await migrateToLatest(test.database);
      return test;
    },
  };
}

function tracked(
  first: Database,
  open: ((options: OpenOptions) => Promise<Database>) | undefined,
  destroy: () => Promise<void>,
): TestDatabase {
  const handles = [first];
  let disposed: Promise<void> | undefined;
  const test: TestDatabase = {
    database: first,
    async reopen(options = {}) {
      if (open === undefined) throw new Error("an in-memory PGlite cannot be reopened; check `persistent` first");
      const database = await open(options);
      handles.push(database);
      return database;
    },
    dispose: () =>
      (disposed ??= (async () => {
        leftovers.delete(test);
        await Promise.allSettled(handles.map((handle) => handle.close()));
        await destroy();
      })()),
  };
  leftovers.add(test);
  return test;
}
