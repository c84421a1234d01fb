import { sql } from "kysely";
import type { Database } from "../storage/database.js";
import { StorageError } from "../storage/storage-errors.js";
import { shardHashName } from "./shard-hash.js";

/** The shard layout a database was set up with. */
export interface ShardLayout {
  readonly shardCount: number;
  readonly shardHash: string;
}

/** The database holds another shard layout than this process was told to use. */
export class ShardLayoutMismatchError extends StorageError {
  override name = "ShardLayoutMismatchError";
}

/**
 * Writes the shard layout at a database's first start (the layout row and one
 * lease row per shard, in one transaction) and checks it at every later
 * start. The count can never change once entities live in shards: a mismatch
 * throws with what to do.
 */
export async function ensureShardLayout(database: Database, shardCount: number): Promise<ShardLayout> {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 65_536) {
    throw new RangeError(`shard count must be an integer in 1..65536, got ${shardCount}`);
  }
  const stored = await database.db.transaction().execute(async (tx) => {
    const inserted = await tx
      .insertInto("orrery_cluster")
      .values({ id: 1, shard_count: shardCount, shard_hash: shardHashName })
      .onConflict((oc) => oc.column("id").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (inserted !== undefined) {
      await sql`insert into orrery_shards (shard) select generate_series(0, ${shardCount - 1}::int)`.execute(tx);
    }
    return tx.selectFrom("orrery_cluster").select(["shard_count", "shard_hash"]).where("id", "=", 1).executeTakeFirstOrThrow();
  });
  const layout = { shardCount: stored.shard_count, shardHash: stored.shard_hash };
  if (layout.shardHash !== shardHashName) {
    throw new ShardLayoutMismatchError(
      `${database.target} maps entities to shards with "${layout.shardHash}", this Orrery version with "${shardHashName}": run the version that created this database`,
    );
  }
  if (layout.shardCount !== shardCount) {
    throw new ShardLayoutMismatchError(
      `${database.target} was set up with ${layout.shardCount} shards, but ORRERY_SHARD_COUNT is ${shardCount}: ` +
        `the shard count can never change once data exists; set ORRERY_SHARD_COUNT=${layout.shardCount} (or unset it if that is the default), or use a new database`,
    );
  }
  return layout;
}
