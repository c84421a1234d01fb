import { createHash } from "node:crypto";

/** Shards in a new database unless ORRERY_SHARD_COUNT says otherwise; fixed for the database's life. */
export const defaultShardCount = 1024;

/**
 * The name of the hash, stored with the shard count at a database's first
 * start and checked at every start. Changing the function would move every
 * entity to another shard, so it is frozen: a new one gets a new name.
 */
export const shardHashName = "sha256-be32";

/**
 * The shard of an entity: the first four bytes of SHA-256 over the UTF-8 of
 * `entityType`, a NUL byte and `entityId`, read as a big-endian unsigned
 * 32-bit integer, modulo `shardCount`. Any language reproduces it; entity ids
 * never contain NUL (the runtime rejects them), so type and id cannot run
 * into each other.
 *
 * @example
 * shardOf("shopping-cart", "c1", 1024) // always the same number in 0..1023
 */
export function shardOf(entityType: string, entityId: string, shardCount: number): number {
  const digest = createHash("sha256").update(entityType).update("\0").update(entityId).digest();
  return digest.readUInt32BE(0) % shardCount;
}
