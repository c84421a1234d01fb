import type { StorageHealth } from "../storage/index.js";
import type { Readiness } from "./readiness.js";

/** `/readyz` and the gRPC health check say "not serving", with the reason, while the event store is unreachable. */
export function followStorageHealth(health: StorageHealth, readiness: Readiness): void {
  health.onChange((state) => {
    if (readiness.state !== "serving" && readiness.state !== "unavailable") return;
    const outage = health.outage;
    if (state === "up" || outage === undefined) readiness.set("serving");
    else readiness.set("unavailable", `the event store is unreachable since ${outage.since.toISOString()} (error id ${outage.errorId})`);
  });
}
