// The read side's engine: the feeds (journal and key-value change feed) read in
// commit order without skipping late commits, the wake-ups after commits, and
// the runner that follows a feed and stores its offset.
export { FEED_START, loadOffset, readEventFeed, readStateFeed, storeOffset } from "./feed.js";
export type { EventRecord, FeedOffset, FeedRecord, StateRecord } from "./feed.js";
export { createProjectionRunner } from "./projection-runner.js";
export type { ProjectionPlacement, ProjectionRunner, ProjectionRunnerOptions, ProjectionSpec, ProjectionStatus } from "./projection-runner.js";
export { consumerProjection } from "./consumer-projection.js";
export { viewTableProjection } from "./view-projection.js";
export { createViewTableDirectory } from "./view-tables.js";
export type { ViewTableDirectory } from "./view-tables.js";
export { registerView } from "./register-view.js";
export type { ViewServing } from "./register-view.js";
export { createViewChanges } from "./view-changes.js";
export type { ViewChange, ViewChanges } from "./view-changes.js";
export { InvalidQueryArgument, runByKeyQuery, runStreamQuery, runUnaryQuery } from "./view-query-executor.js";
export type { RunSql } from "./view-query-executor.js";
