// For service authors.
export { createService } from "./create-service.js";
export type { Component, OrreryService, ServiceOptions } from "./create-service.js";
export { ConfigError, loadConfig } from "./config.js";
export type { LogFormat, RuntimeConfig } from "./config.js";
export { clientAddressKey, signCallsAs } from "./auth/index.js";
export type { AuthConfig, RateLimitKey } from "./auth/index.js";

// What `OrreryService.cluster` shows: this node's shards and their owners.
export type { ClusterChange, ClusterNode, ShardLossReason, ShardOwnerAddress } from "./cluster/index.js";
export type { ShardLease } from "./cluster/index.js";
