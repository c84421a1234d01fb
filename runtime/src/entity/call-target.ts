import { createContextKey } from "@connectrpc/connect";

/** The entity a call addressed, once its key was read from the request. */
export interface CallTarget {
  entityType: string | undefined;
  entityId: string | undefined;
}

/**
 * Where a call's {@link CallTarget} is noted, for its access line. Whoever
 * wants it puts an empty target in the call's context values first; without
 * one nothing is noted.
 */
export const callTargetKey = createContextKey<CallTarget | undefined>(undefined, { description: "orrery call target" });
