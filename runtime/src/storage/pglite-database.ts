import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, sql } from "kysely";
import path from "node:path";
import { lockDataDir } from "./data-dir-lock.js";
import { pgliteFiles } from "./pglite-assets.js";
import type { Database } from "./database.js";
import type { OrreryTables } from "./orrery-tables.js";
import { queryLog, type StorageLogger } from "./storage-logger.js";
import { StorageError } from "./storage-errors.js";
import { serializeBytea, storageParsers, typeOids } from "./value-parsers.js";

/** Options for `openPGliteDatabase`. */
export interface PGliteDatabaseOptions {
  /** Data directory, created if missing; `undefined` = in-memory. */
  dataDir?: string;
  logger?: StorageLogger;
  /** Extra PGlite options; tests pass `loadDataDir` to start from a prepared template. */
  pgliteOptions?: Omit<PGliteOptions, "parsers" | "serializers" | "dataDir">;
}

/**
 * Opens an in-process PGlite with Orrery's type parsers behind Kysely's
 * built-in PGliteDialect. A file data directory is locked for this process
 * and survives restarts; PGlite runs one transaction at a time.
 */
export async function openPGliteDatabase(options: PGliteDatabaseOptions = {}): Promise<Database> {
  const dataDir = options.dataDir === undefined ? undefined : path.resolve(options.dataDir);
  const lock = dataDir === undefined ? undefined : await lockDataDir(dataDir);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dataDir, {
      ...(await pgliteFiles()), // inside an `orrery build` executable: its assets
      ...options.pgliteOptions,
      parsers: storageParsers,
      serializers: { [typeOids.bytea]: serializeBytea },
    });
  } catch (error) {
    await lock?.release();
    const where = dataDir === undefined ? "in memory" : `with data directory ${dataDir}`;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StorageError(`could not open PGlite ${where}: ${reason}`, { cause: error });
  }
  const log = queryLog(options.logger);
  const db = new Kysely<OrreryTables>({ dialect: new PGliteDialect({ pglite }), ...(log && { log }) });

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    try {
      await db.destroy(); // closes PGlite only if Kysely ever used it
      if (!pglite.closed) await pglite.close();
    } finally {
      await lock?.release();
    }
  };
  return {
    db,
    dialect: "pglite",
    capabilities: { concurrentTransactions: false, listenNotify: false, exclusiveWriter: true },
    target: dataDir === undefined ? "PGlite in memory" : `PGlite in ${dataDir}`,
    inDoubtSession: () => undefined,
    endSession: async () => true,
    async probe() {
      await sql`select 1`.execute(db);
    },
    close: () => (closing ??= close()),
  };
}
