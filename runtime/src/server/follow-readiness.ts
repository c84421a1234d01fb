import type { StorageHealth } from "../storage/index.js";
import type { Readiness } from "./readiness.js";

/** Something a server needs before it may serve: the event store, the node's shards. */
export interface ReadinessCondition {
  /** Why the server cannot serve now; undefined while this condition holds. */
  blocker(): string | undefined;
  /** Calls `listener` whenever `blocker()` may have changed; returns a function that stops it. */
  onChange(listener: () => void): () => void;
}

/**
 * Keeps `readiness` at `serving` while every condition holds and at
 * `unavailable`, with the first blocker as the reason (`/readyz` and the gRPC
 * health check say it), while one does not. It leaves `starting` and
 * `draining` alone. Returns the update, to run once the server is listening.
 */
export function followReadiness(readiness: Readiness, conditions: readonly ReadinessCondition[]): () => void {
  const update = () => {
    if (readiness.state !== "serving" && readiness.state !== "unavailable") return;
    let blocker: string | undefined;
    for (const condition of conditions) if ((blocker = condition.blocker()) !== undefined) break;
    if (blocker === undefined) readiness.set("serving");
    else readiness.set("unavailable", blocker);
  };
  for (const condition of conditions) condition.onChange(update);
  return update;
}

/** The event store must be reachable. */
export function storageReachable(health: StorageHealth): ReadinessCondition {
  return {
    blocker() {
      const outage = health.outage;
      return health.state === "up" || outage === undefined ? undefined : `the event store is unreachable since ${outage.since.toISOString()} (error id ${outage.errorId})`;
    },
    onChange: (listener) => health.onChange(listener),
  };
}
