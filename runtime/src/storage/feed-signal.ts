import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import type { Database } from "./database.js";
import { channelIn } from "./database-schema.js";
import type { PostgresListener } from "./postgres-listener.js";
import type { StorageLogger } from "./storage-logger.js";

/** The channel on which commits to the journal and the key-value store are announced. */
export const FEED_CHANNEL = "orrery_feed";

/**
 * Wakes the readers of the feeds (views, consumers) soon after a commit: at
 * once for commits of this process, and on PostgreSQL through LISTEN/NOTIFY
 * for commits of other processes. The NOTIFY is sent after the commit, never
 * inside it (measured: `pg_notify` in the append transaction cut its
 * throughput ~3×), and at most once per `notifyEveryMs`. A wake-up only says
 * "look again"; readers also poll, so a lost notification costs latency,
 * never a record.
 */
export interface FeedSignal {
  /** Something committed in this process. */
  committed(): void;
  /** Calls `listener` after commits; returns a function that stops it. */
  subscribe(listener: () => void): () => void;
  close(): Promise<void>;
}

/** Creates the feed signal of one database. */
/** `channel` (default {@link FEED_CHANNEL}) lets another kind of change (timers) have a signal of its own. */
export function createFeedSignal(database: Database, options: { logger?: StorageLogger; notifyEveryMs?: number; channel?: string } = {}): FeedSignal {
  const channel = channelIn(database.schema, options.channel ?? FEED_CHANNEL);
  const listeners = new Set<() => void>();
  const self = randomBytes(6).toString("hex");
  const notifyEveryMs = options.notifyEveryMs ?? 20;
  const remote = database.capabilities.listenNotify && database.listen !== undefined;
  let listener: PostgresListener | undefined;
  let wakeQueued = false;
  let notifyTimer: NodeJS.Timeout | undefined;
  let notifyWanted = false;
  let notifying = false;
  let closed = false;

  function wake(): void {
    if (wakeQueued) return;
    wakeQueued = true;
    setImmediate(() => {
      wakeQueued = false;
      for (const l of [...listeners]) l();
    });
  }

  async function notify(): Promise<void> {
    if (notifying || closed) return;
    notifying = true;
    notifyWanted = false;
    try {
      await sql`select pg_notify(${channel}, ${self})`.execute(database.db);
    } catch (error) {
      options.logger?.debug({ err: error }, "could not announce a commit (readers elsewhere will find it by polling)");
    } finally {
      notifying = false;
      notifyTimer = setTimeout(() => {
        notifyTimer = undefined;
        if (notifyWanted) void notify();
      }, notifyEveryMs);
      notifyTimer.unref();
    }
  }

  return {
    committed() {
      wake();
      if (!remote || closed) return;
      notifyWanted = true;
      if (!notifying && notifyTimer === undefined) void notify();
    },
    subscribe(l) {
      listeners.add(l);
      if (remote && listener === undefined && !closed) {
        // Our own notifications come back too: those commits were announced locally already.
        listener = database.listen!(channel, (payload) => payload !== self && wake());
      }
      return () => listeners.delete(l);
    },
    async close() {
      closed = true;
      clearTimeout(notifyTimer);
      listeners.clear();
      await listener?.close();
    },
  };
}
