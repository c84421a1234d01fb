import type { StorageLogger } from "./storage-logger.js";

/** Logs failures at error level, at most `burst` lines per window; the rest are counted and summarised. */
export interface FailureLog {
  /** Logs one failure (its fields should carry an `errorId`), or counts it when the window's lines are used up. */
  failed(fields: Record<string, unknown> & { errorId: string }, message: string): void;
}

/**
 * Creates a rate-limited failure log: the first `burst` failures of every
 * `windowMs` are logged in full; past that only their error ids are kept,
 * and one line at the end of the window says how many were left out and
 * names the first of them, so a storm of failures cannot flood the log yet
 * every error id a caller was given can be found.
 */
export function createFailureLog(logger: StorageLogger | undefined, options: { burst?: number; windowMs?: number } = {}): FailureLog {
  const burst = options.burst ?? 10;
  const windowMs = options.windowMs ?? 10_000;
  let windowStart = 0;
  let logged = 0;
  let skipped: string[] = [];
  let skippedCount = 0;
  let timer: NodeJS.Timeout | undefined;
  const log = (fields: Record<string, unknown>, message: string) => (logger?.error ?? logger?.warn)?.call(logger, fields, message);

  function summarise(): void {
    clearTimeout(timer); // summarised early (a busy loop held the timer past its window): it would cut the next window short
    timer = undefined;
    if (skippedCount === 0) return;
    log(
      { skipped: skippedCount, errorIds: skipped },
      `${skippedCount} more storage failures in the last ${windowMs / 1000} s were not logged in full; their error ids begin with: ${skipped.join(", ")}`,
    );
    skipped = [];
    skippedCount = 0;
  }

  return {
    failed(fields, message) {
      const now = performance.now();
      if (now - windowStart >= windowMs) {
        summarise();
        windowStart = now;
        logged = 0;
      }
      if (logged < burst) {
        logged++;
        log(fields, message);
        return;
      }
      skippedCount++;
      if (skipped.length < 20) skipped.push(fields.errorId);
      timer ??= setTimeout(summarise, windowMs - (now - windowStart)).unref();
    },
  };
}
