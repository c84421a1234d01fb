import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * Finds the commands an entity already applied under an idempotency key: the
 * last event of such a command carries the key and its reply in `metadata`
 * (see `IDEMPOTENCY_METADATA` in journal-records.ts). Partial, so events
 * without a key (nearly all) cost nothing more to write.
 */
export const idempotencyKeysMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`create index orrery_events_idempotency_keys on orrery_events (entity_type, entity_id, written_at)
              where metadata ? 'orrery.idempotencyKey'`.execute(db);
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await sql`drop index orrery_events_idempotency_keys`.execute(db);
  },
};
