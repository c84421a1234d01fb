import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * The idempotency keys a key-value entity applied recently, with their
 * replies, kept in its state row and written in the same statement as the
 * state (`{ key: { m: rpc, r: reply as base64, t: ms since the epoch } }`).
 */
export const keyValueIdempotencyMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("orrery_kv_state").addColumn("applied", "jsonb").execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("orrery_kv_state").dropColumn("applied").execute();
  },
};
