import type { RuntimeConfig } from "../config.js";
import type { Database } from "../storage/database.js";
import { createClusterNode } from "./cluster-node.js";
import type { ClusterLogger, ClusterNode } from "./cluster-node.js";
import { ensureShardLayout } from "./shard-layout.js";

/** The settings {@link openCluster} reads. */
export type ClusterConfig = Pick<
  RuntimeConfig,
  "shardCount" | "heartbeatMs" | "selfFenceAfterMs" | "deadAfterMs" | "rebalanceStableMs" | "maxShardMoves" | "clusterSecret"
>;

/**
 * Sets up (first start) or checks (every later start) the database's shard
 * layout against ORRERY_SHARD_COUNT, and creates this node's cluster loop
 * with the configured timing; it joins once the server listens. A layout
 * mismatch rejects with a `ShardLayoutMismatchError` that says what to set.
 */
export async function openCluster(
  config: ClusterConfig,
  database: Database,
  logger: ClusterLogger,
  beforeHandOff: (shards: ReadonlySet<number>) => Promise<void>,
): Promise<ClusterNode> {
  const layout = await ensureShardLayout(database, config.shardCount);
  return createClusterNode({
    database,
    shardCount: layout.shardCount,
    timing: { heartbeatMs: config.heartbeatMs, selfFenceAfterMs: config.selfFenceAfterMs, deadAfterMs: config.deadAfterMs },
    stableAfterMs: config.rebalanceStableMs,
    maxMovesPerRound: config.maxShardMoves,
    canForward: config.clusterSecret !== undefined,
    beforeHandOff,
    logger,
  });
}
