import { randomUUID } from "node:crypto";
import type { StorageLogger } from "./storage-logger.js";
import { describeError } from "./storage-errors.js";

/** An event store outage, from the first failed statement until a statement or probe succeeds again. */
export interface StorageOutage {
  /** Names the outage in the log and in every error a caller receives during it. */
  readonly errorId: string;
  readonly since: Date;
  /** Calls that failed because of it so far. */
  readonly failedCalls: number;
}

/** Options for `createStorageHealth`. */
export interface StorageHealthOptions {
  /** One cheap round trip (`select 1`); rejects while the database cannot be reached. */
  probe(): Promise<void>;
  /** Where the data lives, for the log only. */
  readonly target: string;
  readonly logger?: StorageLogger | undefined;
  /** Pause between probes while down (default 200 ms). */
  readonly probeIntervalMs?: number;
  /** While down, a reminder is logged this often (default 10 s). */
  readonly reminderMs?: number;
}

/**
 * Whether the event store can be reached, as learnt from the statements that
 * run anyway: a connection failure takes it down at once (calls wait), and
 * once a probe fails too, or a call fails for it, the outage is reported (one
 * warning, with an error id that every caller failed by it also gets; `onChange`
 * listeners hear of it then) — a single lost connection is only logged at
 * debug level. A probe every
 * `probeIntervalMs` notices its return (one line saying how long it lasted
 * and how many calls failed), and the outage is otherwise logged at most
 * every `reminderMs`, so an outage cannot flood the log.
 */
export interface StorageHealth {
  readonly state: "up" | "down";
  /** The current outage; undefined while up. */
  readonly outage: StorageOutage | undefined;
  /**
   * A statement failed because the database could not be reached: goes down
   * (or stays down) and returns the outage's error id.
   */
  connectionFailed(error: unknown, context: string): string;
  /** A statement succeeded: the database is reachable. */
  succeeded(): void;
  /**
   * A statement has had no answer for a while (a partition or a hung server
   * fails nothing): goes down and reports it at once, so readiness says so;
   * the statement's answer, or a probe, brings it back up.
   */
  stalled(context: string, ms: number): void;
  /** Counts a call that failed because of the current outage. */
  countFailedCall(): void;
  /** Resolves true once up, or false at `deadline` (a `performance.now()` time) or on close. */
  whenUp(deadline: number): Promise<boolean>;
  /** Calls `listener` on every change of `state`; returns a function that stops it. */
  onChange(listener: (state: "up" | "down") => void): () => void;
  /** Stops probing; `whenUp` resolves false from now on. */
  close(): void;
}

interface Outage {
  readonly errorId: string;
  readonly since: Date;
  readonly startedAt: number;
  failedCalls: number;
  lastError: string;
  remindedAt: number;
  /** Once a probe failed too, or a call failed for it: a single lost connection is no outage to report. */
  confirmed: boolean;
  readonly context: string;
  readonly firstError: unknown;
}

/** Creates the health of one database, `up` to begin with. */
export function createStorageHealth(options: StorageHealthOptions): StorageHealth {
  const probeIntervalMs = options.probeIntervalMs ?? 200;
  const reminderMs = options.reminderMs ?? 10_000;
  const listeners = new Set<(state: "up" | "down") => void>();
  let outage: Outage | undefined;
  let upWaiters: { promise: Promise<void>; resolve: () => void } | undefined;
  let closed = false;
  let probing = false;

  function notify(state: "up" | "down"): void {
    for (const listener of [...listeners]) listener(state);
  }

  function recovered(how: string): void {
    if (outage === undefined) return;
    const seconds = ((performance.now() - outage.startedAt) / 1000).toFixed(1);
    if (!outage.confirmed) {
      options.logger?.debug(
        { err: outage.firstError, errorId: outage.errorId, target: options.target },
        `a connection to the event store was lost (error id ${outage.errorId}): ${outage.lastError}; the store still answers`,
      );
      outage = undefined;
      upWaiters?.resolve();
      upWaiters = undefined;
      return;
    }
    options.logger?.info?.(
      { errorId: outage.errorId, target: options.target, outageSeconds: Number(seconds), failedCalls: outage.failedCalls },
      `the event store is reachable again after ${seconds} s (${how}; error id ${outage.errorId}); ${outage.failedCalls} calls failed during the outage`,
    );
    outage = undefined;
    upWaiters?.resolve();
    upWaiters = undefined;
    notify("up");
  }

  function newOutage(context: string, lastError: string, firstError: unknown): Outage {
    const now = performance.now();
    return { errorId: randomUUID().slice(0, 8), since: new Date(), startedAt: now, failedCalls: 0, lastError, remindedAt: now, confirmed: false, context, firstError };
  }

  /** Reports the outage: one warning with its error id, and listeners hear "down". */
  function confirm(current: Outage, what: string, detail: string, tail: string): void {
    current.confirmed = true;
    current.remindedAt = performance.now();
    options.logger?.warn(
      { err: current.firstError, errorId: current.errorId, target: options.target },
      `the event store at ${options.target} ${what} (error id ${current.errorId}): ${detail}; ` +
        `calls wait for it briefly, then fail with UNAVAILABLE${tail}`,
    );
    notify("down");
  }

  async function probeUntilUp(): Promise<void> {
    if (probing) return;
    probing = true;
    try {
      while (outage !== undefined && !closed) {
        try {
          await options.probe();
          recovered("a probe succeeded");
          return;
        } catch (error) {
          const current = outage;
          if (current === undefined) return;
          current.lastError = describeError(error);
          if (!current.confirmed) confirm(current, "is unreachable", `${current.context}: ${current.lastError}`, "; probing until it is back");
          if (performance.now() - current.remindedAt >= reminderMs) {
            current.remindedAt = performance.now();
            const seconds = ((current.remindedAt - current.startedAt) / 1000).toFixed(0);
            options.logger?.warn(
              { errorId: current.errorId, target: options.target, failedCalls: current.failedCalls },
              `the event store is still unreachable after ${seconds} s (error id ${current.errorId}): ${current.lastError}; ` +
                `${current.failedCalls} calls failed so far`,
            );
          }
        }
        await new Promise((resolve) => setTimeout(resolve, probeIntervalMs).unref());
      }
    } finally {
      probing = false;
    }
  }

  return {
    get state() {
      return outage === undefined ? "up" : "down";
    },
    get outage() {
      return outage && { errorId: outage.errorId, since: outage.since, failedCalls: outage.failedCalls };
    },
    connectionFailed(error, context) {
      if (outage !== undefined) {
        outage.lastError = describeError(error);
        return outage.errorId;
      }
      outage = newOutage(context, describeError(error), error);
      void probeUntilUp();
      return outage.errorId;
    },
    stalled(context, ms) {
      if (outage?.confirmed) return;
      const lastError = `no answer for ${ms} ms`;
      // A lost connection's outage, unconfirmed while its probe hangs in the same partition, is confirmed by the stall.
      outage ??= newOutage(context, lastError, undefined);
      confirm(outage, "is not answering", `${context}: ${lastError}`, "");
      void probeUntilUp();
    },
    succeeded() {
      if (outage !== undefined) recovered("a statement succeeded");
    },
    countFailedCall() {
      if (outage === undefined) return;
      outage.failedCalls++;
      // A call failed for it: report it even if no probe has failed yet.
      if (!outage.confirmed) confirm(outage, "is unreachable", `${outage.context}: ${outage.lastError}`, "");
    },
    async whenUp(deadline) {
      if (outage === undefined) return true;
      if (closed) return false;
      const wait = deadline - performance.now();
      if (wait <= 0) return false;
      upWaiters ??= (() => {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        return { promise, resolve };
      })();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(resolve, wait, false)));
      const up = await Promise.race([upWaiters.promise.then(() => true), timedOut]);
      clearTimeout(timer);
      return up && !closed;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      upWaiters?.resolve();
      upWaiters = undefined;
    },
  };
}
