import { sql } from "kysely";
import type { Database, StorageHealth, StorageLogger } from "../storage/index.js";
import { createFailureLog } from "../storage/failure-log.js";
import { createStoreAccess } from "../storage/store-access.js";
import { createWakeUp } from "../wake-up.js";

/** What the sweeper needs of the cluster (a `ClusterNode` is one). */
export interface SweeperPlacement {
  ownedShards(): ReadonlyArray<{ readonly shard: number }>;
  onChange(listener: () => void): () => void;
}

/** The engines the sweeper wakes, by workflow type. */
export interface SweptEngine {
  wake(workflowId: string): Promise<void>;
  isRunning(workflowId: string): boolean;
}

/** Options of {@link createWorkflowSweeper}. */
export interface WorkflowSweeperOptions {
  readonly database: Database;
  readonly engines: ReadonlyMap<string, SweptEngine>;
  readonly placement: SweeperPlacement;
  readonly health: StorageHealth;
  readonly logger: StorageLogger;
  /** Look again after this long at the latest (default 1,000 ms). */
  readonly pollMs?: number;
  /** Wakes in flight at most (default 32). */
  readonly maxInFlight?: number;
}

/** Wakes the workflows of this node's shards when something is due; see {@link createWorkflowSweeper}. */
export interface WorkflowSweeper {
  /** A workflow must be looked at again at `at` (ms since the epoch): sleep no longer than that. */
  notify(at: number): void;
  start(): void;
  stop(): Promise<void>;
}

interface Row {
  readonly type: string;
  readonly id: string;
  readonly wakeAt: number;
}

/**
 * Finds, with one indexed read of `orrery_kv_state` (`wake_at` and the row's
 * shard, written with the workflow's record), the workflows of this node's
 * shards whose deadline, retry or timed pause is due, and wakes each through
 * its own mailbox. When this node gains shards (at its start, or when a
 * node died) it wakes every workflow of those shards that has something
 * pending, so the steps that were running on the lost node resume here at
 * once rather than at their deadline.
 */
export function createWorkflowSweeper(options: WorkflowSweeperOptions): WorkflowSweeper {
  const { database, engines, placement, logger } = options;
  const { db } = database;
  const types = [...engines.keys()];
  const pollMs = options.pollMs ?? 1_000;
  const maxInFlight = options.maxInFlight ?? 32;
  const access = createStoreAccess({
    health: options.health,
    failures: createFailureLog(logger),
    waitMs: 2_000,
    maxPending: 1_000,
    stallMs: 2_000,
    storeName: "the workflow store",
    writeNoun: "workflow reads",
    describeBatch: (size) => `reading ${size} workflows`,
    describeWrite: () => "reading workflows",
  });
  let stopped = false;
  let loop: Promise<void> | undefined;
  let sleepingUntil = Infinity;
  const { wake, sleep } = createWakeUp(() => stopped);
  const inFlight = new Map<string, Promise<void>>();
  /** Rows woken, by key, with the wake_at they had: one that comes back unchanged is not woken again at once. */
  const woken = new Map<string, { wakeAt: number; at: number }>();
  let known = new Set<number>();
  let unsubscribe: (() => void) | undefined;

  function wakeRow(row: Row): void {
    const key = `${row.type}\u0000${row.id}`;
    if (inFlight.has(key)) return;
    const engine = engines.get(row.type)!;
    const last = woken.get(key);
    if (last !== undefined && last.wakeAt === row.wakeAt && Date.now() - last.at < pollMs) return;
    woken.set(key, { wakeAt: row.wakeAt, at: Date.now() });
    const done = engine.wake(row.id).catch((error: unknown) => {
      // Not served here any more, or the store is down: the row stays due, and is looked at again.
      logger.warn({ err: error, workflowType: row.type, workflowId: row.id }, `${row.type} "${row.id}": could not wake the workflow: ${error instanceof Error ? error.message : String(error)}`);
    }).finally(() => {
      inFlight.delete(key);
      wake();
    });
    inFlight.set(key, done);
  }

  /** Wakes every pending workflow of `shards` that no step runs for here (this node just gained them). */
  async function resume(shards: number[]): Promise<void> {
    let after = { type: "", id: "" };
    for (;;) {
      const { rows } = await access.read("reading the workflows to resume", () => sql<{ entity_type: string; entity_id: string; wake_at: Date }>`
        select entity_type, entity_id, wake_at from orrery_kv_state
         where wake_at is not null and shard = any(${shards}::int[]) and entity_type = any(${types}::text[])
           and (entity_type, entity_id) > (${after.type}, ${after.id})
         order by entity_type, entity_id limit 200`.execute(db));
      for (const r of rows) {
        if (stopped) return;
        while (inFlight.size >= maxInFlight) await Promise.race(inFlight.values());
        if (!engines.get(r.entity_type)!.isRunning(r.entity_id)) wakeRow({ type: r.entity_type, id: r.entity_id, wakeAt: r.wake_at.getTime() });
      }
      if (rows.length < 200) return;
      const last = rows[rows.length - 1]!;
      after = { type: last.entity_type, id: last.entity_id };
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopped) {
      const owned = placement.ownedShards().map((s) => s.shard);
      try {
        const gained = owned.filter((s) => !known.has(s));
        known = new Set(owned);
        if (gained.length > 0) await resume(gained);
        let next = Date.now() + pollMs;
        if (owned.length > 0) {
          const { rows } = await access.read("reading the due workflows", () => sql<{ entity_type: string; entity_id: string; wake_at: Date }>`
            select entity_type, entity_id, wake_at from orrery_kv_state
             where wake_at is not null and shard = any(${owned}::int[]) and entity_type = any(${types}::text[])
             order by wake_at limit 100`.execute(db));
          const now = Date.now();
          for (const r of rows) {
            const at = r.wake_at.getTime();
            if (at > now) {
              next = Math.min(next, at);
              break;
            }
            if (inFlight.size >= maxInFlight) break; // a wake that settles wakes the loop
            wakeRow({ type: r.entity_type, id: r.entity_id, wakeAt: at });
          }
        }
        failures = 0;
        for (const [key, w] of woken) if (Date.now() - w.at >= pollMs) woken.delete(key);
        sleepingUntil = next;
        await sleep(next - Date.now());
        sleepingUntil = Infinity;
      } catch (error) {
        failures++;
        known = new Set(); // read the gained shards again
        const delay = Math.min(1_000, 100 * 2 ** Math.min(failures - 1, 4));
        logger.warn({ err: error, failures, retryInMs: delay }, `workflows: reading the due workflows failed (${error instanceof Error ? error.message : String(error)}); retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  }

  return {
    notify(at) {
      if (at < sleepingUntil) wake();
    },
    start() {
      if (loop !== undefined || engines.size === 0) return;
      unsubscribe = placement.onChange(wake);
      loop = run();
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      wake();
      await loop;
      await Promise.all(inFlight.values());
    },
  };
}
