import { sql } from "kysely";
import type { Migration, MigrationProvider } from "kysely/migration";
import { Migrator } from "kysely/migration";
import type { Database } from "../database.js";
import { toStorageError } from "../storage-errors.js";
import { eventJournalMigration } from "./0001-event-journal.js";
import { clusterMigration } from "./0002-cluster.js";
import { keyValueStateMigration } from "./0003-key-value-state.js";
import { projectionOffsetsMigration } from "./0004-projection-offsets.js";
import { idempotencyKeysMigration } from "./0005-idempotency-keys.js";
import { viewTablesMigration } from "./0006-view-tables.js";
import { keyValueIdempotencyMigration } from "./0007-key-value-idempotency.js";
import { timersMigration } from "./0008-timers.js";
import { workflowWakeMigration } from "./0009-workflow-wake.js";

/**
 * Every schema change, in order. Names sort lexically and are recorded in
 * `orrery_migration`; never rename or edit one that has shipped, add a new one.
 */
const migrations: Readonly<Record<string, Migration>> = {
  "0001_event_journal": eventJournalMigration,
  "0002_cluster": clusterMigration,
  "0003_key_value_state": keyValueStateMigration,
  "0004_projection_offsets": projectionOffsetsMigration,
  "0005_idempotency_keys": idempotencyKeysMigration,
  "0006_view_tables": viewTablesMigration,
  "0007_key_value_idempotency": keyValueIdempotencyMigration,
  "0008_timers": timersMigration,
  "0009_workflow_wake": workflowWakeMigration,
};

const provider: MigrationProvider = {
  getMigrations: async () =>
    Object.fromEntries(Object.entries(migrations).map(([name, migration]) => [name, withoutStatementTimeout(migration)])),
};

/** Lifts the session's statement_timeout (and the client's answer timeout) for the migration's transaction: DDL on a big journal takes longer. */
function withoutStatementTimeout(migration: Migration): Migration {
  return {
    async up(db) {
      await sql`set local statement_timeout = 0`.execute(db);
      await migration.up(db);
    },
    ...(migration.down && {
      async down(db) {
        await sql`set local statement_timeout = 0`.execute(db);
        await migration.down?.(db);
      },
    }),
  };
}

/** What `migrateToLatest` did. */
export interface MigrationSummary {
  /** Names of the migrations this call applied, in order; empty when the schema was current. */
  readonly applied: readonly string[];
}

/**
 * Brings the schema up to date; safe to call on every start. On PostgreSQL,
 * Kysely's migrator holds a session advisory lock around the run, so several
 * processes starting at once apply each migration exactly once (the others
 * wait, then find nothing to do). All pending migrations run in one
 * transaction with their bookkeeping rows, so a failure rejects with a
 * `StorageError` naming the failed migration and leaves the schema unchanged.
 */
export async function migrateToLatest(database: Database): Promise<MigrationSummary> {
  const migrator = new Migrator({
    db: database.db,
    provider,
    migrationTableName: "orrery_migration",
    migrationLockTableName: "orrery_migration_lock",
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === "Error")?.migrationName;
    throw toStorageError(error, failed === undefined ? "schema migration" : `schema migration ${failed}`);
  }
  return { applied: results.filter((result) => result.status === "Success").map((result) => result.migrationName) };
}
