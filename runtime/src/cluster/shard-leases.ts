import { sql } from "kysely";
import type { Database } from "../storage/database.js";

/** A shard this node holds, with the fencing epoch its writes must carry. */
export interface ShardLease {
  readonly shard: number;
  readonly epoch: number;
}

/** Who holds a shard now. */
export interface ShardOwner {
  readonly shard: number;
  readonly ownerName: string | null;
  readonly ownerIncarnation: number | null;
  readonly epoch: number;
}

/** This node's incarnation, the claimant. */
export interface Claimant {
  readonly name: string;
  readonly incarnation: number;
}

/**
 * Claims those of `shards` that are free: no owner, or an owner that is not
 * an `up` or `draining` member. Compare-and-set in one statement: each claimed
 * row gets this incarnation and `epoch + 1`; rows another node is claiming at
 * the same moment are skipped (SKIP LOCKED), not waited for. Returns the
 * leases won. Shards held by a live node are never taken here: they move only
 * by {@link handOffShard}.
 */
export async function claimFreeShards(database: Database, me: Claimant, shards: readonly number[]): Promise<ShardLease[]> {
  if (shards.length === 0) return [];
  const { rows } = await sql<{ shard: number; epoch: string | number }>`
    update orrery_shards s
       set owner_name = ${me.name}, owner_incarnation = ${me.incarnation}, epoch = s.epoch + 1, updated_at = now()
      from (select s2.shard
              from orrery_shards s2
              left join orrery_nodes n on n.name = s2.owner_name and n.incarnation = s2.owner_incarnation
             where s2.shard = any(${[...shards]}::int[])
               and (s2.owner_name is null or n.state is null or n.state = 'dead')
             for update of s2 skip locked) free
     where s.shard = free.shard
 returning s.shard, s.epoch`.execute(database.db);
  return rows.map((r) => ({ shard: r.shard, epoch: Number(r.epoch) })).sort((a, b) => a.shard - b.shard);
}

/**
 * Moves one shard from its holder to `to`, if the holder still holds it at
 * `lease.epoch` (compare-and-set); the epoch grows, which fences any write of
 * the old holder still in flight. Returns the new lease, or undefined when the
 * shard had already moved on.
 */
export async function handOffShard(database: Database, from: Claimant, lease: ShardLease, to: Claimant): Promise<ShardLease | undefined> {
  const [moved] = await handOffShards(database, from, [{ lease, to }]);
  return moved === undefined ? undefined : { shard: moved.shard, epoch: moved.epoch };
}

/**
 * Moves many shards from `from` to their successors in one statement, each
 * only if `from` still holds it at the lease's epoch (compare-and-set per
 * row); every epoch grows. Returns the moves made, with their new epochs.
 */
export async function handOffShards(
  database: Database,
  from: Claimant,
  moves: ReadonlyArray<{ readonly lease: ShardLease; readonly to: Claimant }>,
): Promise<Array<{ shard: number; epoch: number; to: Claimant }>> {
  if (moves.length === 0) return [];
  const { rows } = await sql<{ shard: number; epoch: string | number; owner_name: string; owner_incarnation: string | number }>`
    update orrery_shards s
       set owner_name = m.to_name, owner_incarnation = m.to_incarnation, epoch = s.epoch + 1, updated_at = now()
      from unnest(${moves.map((m) => m.lease.shard)}::int[], ${moves.map((m) => m.lease.epoch)}::bigint[],
                  ${moves.map((m) => m.to.name)}::text[], ${moves.map((m) => m.to.incarnation)}::bigint[])
           as m(shard, epoch, to_name, to_incarnation)
     where s.shard = m.shard and s.epoch = m.epoch and s.owner_name = ${from.name} and s.owner_incarnation = ${from.incarnation}
 returning s.shard, s.epoch, s.owner_name, s.owner_incarnation`.execute(database.db);
  return rows.map((r) => ({ shard: r.shard, epoch: Number(r.epoch), to: { name: r.owner_name, incarnation: Number(r.owner_incarnation) } }));
}

/** Releases every shard `me` holds (a node leaving): each epoch grows, so its late writes are fenced. */
export async function releaseShards(database: Database, me: Claimant): Promise<number> {
  const result = await database.db
    .updateTable("orrery_shards")
    .set({ owner_name: null, owner_incarnation: null, epoch: sql`epoch + 1`, updated_at: sql`now()` })
    .where("owner_name", "=", me.name)
    .where("owner_incarnation", "=", me.incarnation)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The owner of every shard, in shard order. */
export async function shardOwners(database: Database): Promise<ShardOwner[]> {
  const rows = await database.db.selectFrom("orrery_shards").select(["shard", "owner_name", "owner_incarnation", "epoch"]).orderBy("shard").execute();
  return rows.map((r) => ({
    shard: r.shard,
    ownerName: r.owner_name,
    ownerIncarnation: r.owner_incarnation === null ? null : Number(r.owner_incarnation),
    epoch: Number(r.epoch),
  }));
}
