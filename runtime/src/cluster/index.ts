// The cluster: shard layout, membership with heartbeats in the database's
// clock, weighted rendezvous placement, shard leases with fencing epochs, and
// the node loop that keeps this node's shards right.

export { createClusterNode } from "./cluster-node.js";
export type { ClusterChange, ClusterLogger, ClusterNode, ClusterNodeOptions, ClusterStatus, ShardLossReason, ShardOwnerAddress } from "./cluster-node.js";
export { openCluster } from "./open-cluster.js";
export type { ClusterConfig } from "./open-cluster.js";
export { nodeIdentity } from "./node-identity.js";
export { checkMembershipTiming, defaultMembershipTiming, joinMembership } from "./membership.js";
export type { HeartbeatOutcome, Member, Membership, MembershipTiming, NodeIdentity } from "./membership.js";
export { desiredOwner, desiredShards } from "./placement.js";
export type { PlacementNode } from "./placement.js";
export { defaultShardCount, shardHashName, shardOf } from "./shard-hash.js";
export { ensureShardLayout, ShardLayoutMismatchError } from "./shard-layout.js";
export type { ShardLayout } from "./shard-layout.js";
export { claimFreeShards, handOffShard, handOffShards, releaseShards, shardOwners } from "./shard-leases.js";
export type { Claimant, ShardLease, ShardOwner } from "./shard-leases.js";
export { createCallSigner, createCallVerifier, defaultSignatureWindowMs, MIN_CLUSTER_SECRET_LENGTH } from "./call-signature.js";
export type { CallSigner, CallVerifier, SignedCall } from "./call-signature.js";
export { createPeerCalls, NOT_SERVED_HEADER } from "./peer-calls.js";
export type { CallToForward, ForwardOutcome, PeerCalls } from "./peer-calls.js";
export { registerNodeService } from "./node-service.js";
export type { LocalComponent, NodeServiceOptions } from "./node-service.js";
export { CLUSTER_STATUS_PATH, clusterStatusRoute } from "./status-route.js";
