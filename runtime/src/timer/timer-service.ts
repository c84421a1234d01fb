import { randomUUID } from "node:crypto";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, Message, MessageInitShape } from "@bufbuild/protobuf";
import { checkTimerName, dueTime, HandlerFailure, timerSchedule } from "@orrery/sdk";
import type { ComponentClient, TimerChange, TimerTarget, Timers, TimerWhen } from "@orrery/sdk";
import type { Database, FeedSignal, ShardFence, StorageHealth, StorageLogger } from "../storage/index.js";
import { FencedWriteError } from "../storage/index.js";
import { createFailureLog } from "../storage/failure-log.js";
import { createStoreAccess } from "../storage/store-access.js";
import { earliestTimers, settleTimer, writeTimers } from "./timer-rows.js";
import type { NewTimer, TimerRow } from "./timer-rows.js";
import { createWakeUp } from "../wake-up.js";

/** The NOTIFY channel on which a node announces that it stored timers. */
export const TIMER_CHANNEL = "orrery_timers";

/** A timer's call carries its name and its due time (ms since the epoch) in these headers (`ctx.metadata`). */
export const TIMER_HEADER = "orrery-timer";
export const TIMER_DUE_HEADER = "orrery-timer-due";

/** The shard every timer name hashes to under this entity type: `shardOf("orrery.timer", name)`. */
export const TIMER_SHARD_TYPE = "orrery.timer";

/** What the timer service needs of the cluster (a `ClusterNode` is one). */
export interface TimerPlacement {
  shardOf(entityType: string, entityId: string): number;
  /** The epoch this node serves `shard` at, or undefined when it does not serve it now. */
  epochOf(shard: number): number | undefined;
  ownedShards(): ReadonlyArray<{ readonly shard: number; readonly epoch: number }>;
  /** A write for `shard` at `epoch` was fenced: this node stops serving the shard. */
  fenced(shard: number, epoch: number): void;
  onChange(listener: () => void): () => void;
}

/** Settings of {@link createTimerService}. */
export interface TimerServiceOptions {
  readonly database: Database;
  /** Local wake-ups and, on PostgreSQL, NOTIFY between nodes when a timer is scheduled (its own channel). */
  readonly signal: FeedSignal;
  readonly placement: TimerPlacement;
  /** Calls the targets, through the routing point. */
  readonly components: ComponentClient;
  /** The services timers may call (the served entities'). */
  readonly services: readonly DescService[];
  /** Shared with the stores of the same database. */
  readonly health: StorageHealth;
  readonly logger: StorageLogger & { info(fields: Record<string, unknown>, message: string): void };
  /** How long a timer statement waits for an unreachable database (default 2,000 ms). */
  readonly storageWaitMs?: number;
  /** Look again after this long without a wake-up (default 2,000 ms): a lost NOTIFY costs at most this. */
  readonly pollMs?: number;
  /** The first retry delay of a failed call, doubled per attempt up to `maxRetryMs` (defaults 100 and 30,000 ms). */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** How long a timer's call may take (default 10,000 ms). */
  readonly callTimeoutMs?: number;
  /** Calls in flight at most (default 64). */
  readonly maxInFlight?: number;
}

/** Durable timers of one service; see {@link createTimerService}. */
export interface TimerService {
  /** Schedules and cancels at once (consumers, `service.timers`). */
  readonly timers: Timers;
  /** Throws a `HandlerFailure` naming the fix when a change targets a method this service does not serve. */
  check(changes: readonly TimerChange[]): void;
  /** Stores a committed command's timer changes, in order, as one write. */
  apply(changes: readonly TimerChange[]): Promise<void>;
  /** Starts firing the due timers of the shards this node owns. */
  start(): void;
  /** Stops firing; resolves once the calls in flight settled. */
  stop(): Promise<void>;
}

/**
 * Creates the timers of a service. A timer is a row (name, due time, target
 * method, request); each name hashes to a shard and only that shard's owner
 * fires it. The firing loop sleeps until the earliest due timer of its shards
 * (an in-process timeout), and is woken when one is scheduled here or, through
 * NOTIFY, on another node. A fired timer's call goes through the routing
 * point (the entity may live on another node); on success the row is
 * deleted, on failure it is moved to a retry time with doubling backoff and
 * logged. Both writes carry the shard's epoch as a fence and touch only the
 * generation that was fired: a node that lost the shard stops firing it, and
 * a reschedule meanwhile is kept. A crash between the call and the delete
 * fires the timer again: at least once.
 */
export function createTimerService(options: TimerServiceOptions): TimerService {
  const { database, signal, placement, components, logger } = options;
  const { db } = database;
  const pollMs = options.pollMs ?? 2_000;
  const retryMs = options.retryMs ?? 100;
  const maxRetryMs = options.maxRetryMs ?? 30_000;
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  const maxInFlight = options.maxInFlight ?? 64;
  const fenceWrites = !database.capabilities.exclusiveWriter;
  const access = createStoreAccess({
    health: options.health,
    failures: createFailureLog(logger),
    waitMs: options.storageWaitMs ?? 2_000,
    maxPending: 10_000,
    stallMs: 2_000,
    storeName: "the timer store",
    writeNoun: "timer writes",
    describeBatch: (size) => `writing ${size} timers`,
    describeWrite: (write) => `writing timer "${write.entityId}"`,
  });
  const targets = new Map<string, DescMethod>();
  for (const service of options.services) for (const method of service.methods) targets.set(`${service.typeName}/${method.name}`, method);
  const inFlight = new Map<string, Promise<void>>();
  let started = false;
  let stopped = false;
  let loop: Promise<void> | undefined;
  const { wake, sleep } = createWakeUp(() => stopped);
  let failures = 0;
  const unsubscribe: Array<() => void> = [];

  function unserved(name: string, method: DescMethod): string | undefined {
    if (targets.get(`${method.parent.typeName}/${method.name}`) === method) return undefined;
    return `timer "${name}" targets ${method.parent.typeName}/${method.name}, which this service does not serve; ` +
      `a timer can call a method of an entity passed to createService({ components })`;
  }

  function check(changes: readonly TimerChange[]): void {
    for (const change of changes) {
      const problem = change.kind === "schedule" ? unserved(change.name, change.method) : undefined;
      if (problem !== undefined) throw new HandlerFailure("handler", problem);
    }
  }

  async function apply(changes: readonly TimerChange[]): Promise<void> {
    check(changes);
    // Each name's last change is the one that stands.
    const last = new Map<string, TimerChange>();
    for (const change of changes) {
      last.delete(change.name);
      last.set(change.name, change);
    }
    const now = Date.now();
    const schedule: NewTimer[] = [];
    const cancel: string[] = [];
    for (const change of last.values()) {
      if (change.kind === "cancel") {
        cancel.push(change.name);
        continue;
      }
      schedule.push({
        name: change.name, shard: placement.shardOf(TIMER_SHARD_TYPE, change.name), generation: randomUUID(),
        dueAt: new Date(dueTime(change.when, now)), service: change.method.parent.typeName, method: change.method.name,
        payload: toBinary(change.method.input, change.request),
      });
    }
    const names = [...last.keys()].map((n) => `"${n}"`).join(", ");
    // Every timer write is safe to repeat (it sets a whole row of a generation of its own, or deletes by name).
    await access.read(`storing timer ${names}`, () => writeTimers(db, schedule, cancel));
    signal.committed();
  }

  function backoff(attempt: number): number {
    return Math.min(maxRetryMs, retryMs * 2 ** Math.min(attempt - 1, 20));
  }

  async function call(timer: TimerRow): Promise<void> {
    const method = targets.get(`${timer.service}/${timer.method}`);
    if (method === undefined) {
      throw new Error(`${timer.service}/${timer.method} is not served by this node (a node running other code scheduled it?); deploy the component or cancel the timer`);
    }
    const request = fromBinary(method.input, timer.payload);
    const client = components.forService(method.parent) as unknown as Record<string, (r: Message, o: object) => Promise<Message>>;
    await client[method.localName]!(request, { timeoutMs: callTimeoutMs, headers: { [TIMER_HEADER]: timer.name, [TIMER_DUE_HEADER]: String(timer.dueAt.getTime()) } });
  }

  async function fire(timer: TimerRow, fence: ShardFence | undefined): Promise<void> {
    const target = `${timer.service}/${timer.method}`;
    let retry: { at: Date; attempts: number; error: string } | undefined;
    try {
      await call(timer);
    } catch (error) {
      const attempts = timer.attempts + 1;
      const delay = backoff(attempts);
      const message = error instanceof Error ? error.message : String(error);
      retry = { at: new Date(Date.now() + delay), attempts, error: message };
      logger.warn(
        { err: error, timer: timer.name, service: timer.service, method: timer.method, attempt: attempts, retryInMs: delay },
        `timer "${timer.name}": calling ${target} failed (attempt ${attempts}): ${message}; retrying in ${delay} ms`,
      );
    }
    try {
      await access.read(`settling timer "${timer.name}"`, () => settleTimer(db, timer, fence, retry));
    } catch (error) {
      if (error instanceof FencedWriteError) {
        logger.info({ timer: timer.name, shard: error.shard }, `timer "${timer.name}": its shard ${error.shard} moved to another node; it fires there now`);
        placement.fenced(error.shard, error.epoch);
        return;
      }
      // Still stored as it was: it is due again, and fires again (at least once).
      logger.warn({ err: error, timer: timer.name, service: timer.service, method: timer.method }, `timer "${timer.name}": could not record its call to ${target}; it will fire again`);
    }
  }

  async function run(): Promise<void> {
    while (!stopped) {
      const owned = placement.ownedShards();
      if (owned.length === 0) {
        await sleep(pollMs);
        continue;
      }
      let rows: TimerRow[];
      const limit = 100;
      try {
        rows = await access.read("reading the due timers", () => earliestTimers(db, owned.map((s) => s.shard), [...inFlight.keys()], limit));
        failures = 0;
      } catch (error) {
        failures++;
        // At most a second: a timer due during an outage fires soon after it (each read waits for the database first).
        const delay = Math.min(1_000, backoff(failures));
        logger.warn({ err: error, failures, retryInMs: delay }, `timers: reading the due timers failed (${error instanceof Error ? error.message : String(error)}); retrying in ${delay} ms`);
        await sleep(delay);
        continue;
      }
      const now = Date.now();
      let next = now + pollMs;
      let fired = 0;
      for (const row of rows) {
        if (row.dueAt.getTime() > now) {
          next = Math.min(next, row.dueAt.getTime());
          break;
        }
        if (inFlight.size >= maxInFlight) break; // a call that settles wakes the loop
        const epoch = placement.epochOf(row.shard);
        if (epoch === undefined) continue;
        const firing = fire(row, fenceWrites ? { shard: row.shard, epoch } : undefined).finally(() => {
          inFlight.delete(row.name);
          wake();
        });
        inFlight.set(row.name, firing);
        fired++;
      }
      if (fired === rows.length && rows.length === limit) next = now;
      await sleep(next - Date.now());
    }
  }

  function notStarted(): Error | undefined {
    if (stopped) return new Error("the service is stopped; timers can no longer be scheduled through it");
    return started ? undefined : new Error("the service has not started yet; call start() first");
  }

  const timers: Timers = {
    schedule<I extends DescMessage>(name: string, when: TimerWhen, method: TimerTarget<I>, request: MessageInitShape<I>): Promise<void> {
      try {
        const error = notStarted();
        if (error !== undefined) throw error;
        return apply([timerSchedule(name, when, method, request)]);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    cancel(name) {
      try {
        const error = notStarted();
        if (error !== undefined) throw error;
        checkTimerName(name);
        return apply([{ kind: "cancel", name }]);
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };

  return {
    timers,
    check,
    apply,
    start() {
      if (started) return;
      started = true;
      unsubscribe.push(signal.subscribe(wake), placement.onChange(wake));
      loop = run();
    },
    async stop() {
      stopped = true;
      for (const u of unsubscribe.splice(0)) u();
      wake();
      await loop;
      await Promise.all(inFlight.values());
    },
  };
}
