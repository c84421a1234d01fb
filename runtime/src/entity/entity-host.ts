import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { HandlerFailure, IDEMPOTENCY_KEY_HEADER } from "@orrery/sdk";
import type { ComponentClient, TimerChange } from "@orrery/sdk";
import type { Logger } from "pino";
import { randomUUID } from "node:crypto";
import { NOT_SERVED_HEADER } from "../cluster/peer-calls.js";
import type { AppliedCommand } from "../storage/index.js";
import { CommitOutcomeUnknownError, FencedWriteError, RevisionConflictError, SequenceConflictError, StorageError, StorageUnavailableError } from "../storage/index.js";
import { describeCall } from "./call-description.js";
import { callCycleError } from "./call-scope.js";
import type { CallScope } from "./call-scope.js";
import type { EntityModel, HostedComponent } from "./entity-model.js";
import type { CommandTrace, EntityObserver } from "./entity-observer.js";

/** Per-call facts from the transport. */
export interface CallInfo {
  readonly headers?: Headers;
  readonly signal?: AbortSignal;
  /** The caller's deadline (`performance.now()` time), if it set one. */
  readonly deadline?: number | undefined;
}

/** Hosts the active entities of one entity component (event-sourced or key-value) in this process. */
export interface EntityHost {
  readonly entity: HostedComponent;
  /** The shard of an entity (0 outside a cluster). */
  shardOfEntity(entityId: string): number;
  /** Runs a command on an entity: in arrival order per entity, concurrently across entities. */
  invoke(method: DescMethod, entityId: string, command: Message, call?: CallInfo): Promise<Message>;
  /** Resolves when every queued command has finished. */
  drain(): Promise<void>;
  /** Stops the passivation timer. */
  close(): void;
  /**
   * Drops the entities of `shards` from memory (this node lost them): their
   * queued commands fail with UNAVAILABLE; a batch already running finishes,
   * and its append is fenced if the shard moved on.
   */
  dropShards(shards: ReadonlySet<number>): void;
  /** Lets the entities of `shards` finish their queued commands, then drops them (a hand-off). */
  flushShards(shards: ReadonlySet<number>): Promise<void>;
  /** The number of entities held in memory. */
  readonly activeCount: number;
}

/** Settings of an entity host. */
export interface EntityHostOptions {
  /** How the component's entities are loaded and written (`eventSourcedModel`, `keyValueModel`). */
  readonly model: EntityModel;
  /** The component client of a command's handler, made for the command (see `InProcessComponents.within`). */
  readonly components: (scope: CallScope) => ComponentClient;
  readonly logger: Logger;
  /** Passivate entities idle this long. */
  readonly passivateAfterMs: number;
  /** Keep at most this many entities in memory; the least recently used idle ones go first. */
  readonly maxActive: number;
  /** Commands of one entity handled before one commit, at most (default 256). */
  readonly maxCommandsPerCommit?: number;
  /** How long a command waits for an unreachable store, from its arrival (default 2,000 ms). */
  readonly storageWaitMs?: number;
  /** Commands queued for one entity at most; more are refused with RESOURCE_EXHAUSTED (default 1,000). */
  readonly maxQueuedPerEntity?: number;
  /** Told about recoveries, passivations and commands (metrics, traces). */
  readonly observer?: EntityObserver;
  /** The shards this node serves; without it the host serves every entity and its appends carry no fence. */
  readonly shards?: EntityShards;
  /** Where the handlers' timer changes go once their commands commit; without it a handler that schedules one fails. */
  readonly timers?: EntityTimers;
}

/** What an entity host needs of the timers (a `TimerService` is one). */
export interface EntityTimers {
  /** Throws a `HandlerFailure` when a change cannot be stored (a target this service does not serve). */
  check(changes: readonly TimerChange[]): void;
  /** Stores committed changes, in order. */
  apply(changes: readonly TimerChange[]): Promise<void>;
}

/** What an entity host needs of the cluster (a `ClusterNode` is one). */
export interface EntityShards {
  shardOf(entityType: string, entityId: string): number;
  /** The epoch this node serves `shard` at, or undefined when it does not serve it now. */
  epochOf(shard: number): number | undefined;
  /** Why this node does not serve `shard`, for the caller. */
  whyNotServed(shard: number): string;
  /** The owner's address, for the caller; undefined when unknown. */
  ownerOf(shard: number): { readonly address: string | undefined } | undefined;
  /** A write for `shard` at `epoch` was fenced. */
  fenced(shard: number, epoch: number): void;
}

interface Command {
  /** `performance.now()` when it was queued. */
  readonly arrivedAt: number;
  /**
   * Where it is: waiting (queued, or its entity loading: nothing decided), its
   * handler running, or its batch's write sent; "answered" once told early
   * (see `answerBeforeDeadline`), after which the batch skips it.
   */
  stage: "waiting" | "handling" | "committing" | "answered";
  readonly method: DescMethod;
  readonly message: Message;
  readonly call: CallInfo;
  readonly trace: CommandTrace | undefined;
  resolve(reply: Message): void;
  reject(error: unknown): void;
}

interface Slot {
  readonly id: string;
  /** Its shard (0 outside a cluster) and the epoch it was loaded at: the fence of its appends. */
  readonly shard: number;
  epoch: number;
  loaded: boolean;
  state: Message | undefined;
  /** The last sequence number (event-sourced) or the state's revision (key-value). */
  seqNr: number;
  readonly queue: Command[];
  running: Promise<void> | undefined;
  lastUsed: number;
  /** The commands applied under an idempotency key (recent ones, by key), read at the first keyed command after a load. */
  applied: Map<string, AppliedCommand> | undefined;
}

/** How long an idempotency key is honoured: a retry within it returns the first reply. */
export const IDEMPOTENCY_WINDOW_MS = 7 * 24 * 3600 * 1000;
/** The longest idempotency key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

/**
 * Creates the host of one entity component. Each entity has a mailbox;
 * whatever queued up while the previous commit was in flight is handled in
 * arrival order against the in-memory state and committed as one write (an
 * append of events, or the new state), and every reply (rejections
 * included) is released only after that commit.
 */
export function createEntityHost(options: EntityHostOptions): EntityHost {
  const { model, logger, observer, shards } = options;
  const entity = model.component;
  const traceCommand = observer?.command?.bind(observer);
  const type = entity.spec.type;
  const storeName = entity.kind === "event-sourced-entity" ? "event store" : "key-value store";
  const maxBatch = options.maxCommandsPerCommit ?? 256;
  const storageWaitMs = options.storageWaitMs ?? 2_000;
  const maxQueued = options.maxQueuedPerEntity ?? 1_000;
  const active = new Map<string, Slot>();
  const sweepMs = Math.max(50, Math.min(options.passivateAfterMs / 2, 30_000));
  const timer = setInterval(() => {
    const dropped = passivate(active, Date.now() - options.passivateAfterMs, options.maxActive);
    if (dropped > 0) observer?.passivated?.(type, dropped);
  }, sweepMs);
  timer.unref();

  async function drainMailbox(slot: Slot): Promise<void> {
    while (slot.queue.length > 0) {
      const batch = slot.queue.splice(0, maxBatch);
      try {
        await runBatch(slot, batch);
      } catch (cause) {
        // Not expected (runBatch settles its own failures); never leave a caller hanging.
        slot.loaded = false;
        slot.state = undefined;
        const error = internalError(describeCall(batch[0]!.method, type, slot.id), slot.id, cause);
        for (const command of batch) command.reject(error);
      }
    }
    slot.running = undefined;
  }

  async function runBatch(slot: Slot, batch: Command[]): Promise<void> {
    if (!slot.loaded) {
      if (shards !== undefined) {
        const epoch = shards.epochOf(slot.shard);
        if (epoch === undefined) {
          if (active.get(slot.id) === slot) active.delete(slot.id);
          const error = notServed(describeCall(batch[0]!.method, type, slot.id), slot.shard);
          for (const command of batch.concat(slot.queue.splice(0))) command.reject(error);
          return;
        }
        slot.epoch = epoch; // read before the load: if the shard moves on meanwhile, the append is fenced
      }
      slot.applied = undefined;
      try {
        const recovered = await model.load(slot.id);
        slot.state = recovered.state;
        slot.seqNr = recovered.seqNr;
        slot.loaded = true;
        observer?.recovered?.(type);
      } catch (cause) {
        const where = describeCall(batch[0]!.method, type, slot.id);
        const error = cause instanceof StorageError || cause instanceof ConnectError
          ? storageError(where, cause, "could not be loaded", storeName)
          : internalError(where, slot.id, recoveryFailure(cause), false);
        for (const command of batch) command.reject(error);
        return;
      }
    }
    let state = slot.state!;
    let seqNr = slot.seqNr;
    const write = model.batch(slot.id, seqNr);
    const settled: Array<() => void> = [];
    let failed = false;
    // Timer changes of accepted commands, stored once their writes commit; if that fails, those commands fail.
    const timerChanges: TimerChange[] = [];
    let timerFailure: ConnectError | undefined;
    for (let i = 0; i < batch.length; i++) {
      const command = batch[i]!;
      const where = () => describeCall(command.method, type, slot.id); // only errors need it
      if (command.stage === "answered") continue; // told "not applied" before its deadline: it must not run now
      if (command.call.signal?.aborted) {
        settled.push(() => command.reject(ConnectError.from(command.call.signal!.reason, Code.Canceled)));
        continue;
      }
      const key = idempotencyKeyOf(command);
      if (key !== undefined) {
        // Still waiting while its entity's keys are read (from a store that may not answer): nothing has run yet.
        const earlier = await appliedEarlier(slot, command, key, write.recorded);
        if ((command.stage as Command["stage"]) === "answered") continue; // answered meanwhile
        if (earlier !== undefined) {
          settled.push(earlier.kind === "reply" ? () => command.resolve(earlier.reply) : () => command.reject(earlier.error));
          continue;
        }
      }
      command.stage = "handling";
      try {
        const run = () => model.handle({
          entityId: slot.id, method: command.method, command: command.message, state, seqNr,
          metadata: command.call.headers, signal: command.call.signal,
          components: lazyClient(() => options.components({ headers: command.call.headers, deadline: command.call.deadline, caller: { type, id: slot.id } })),
        });
        const outcome = await (command.trace === undefined ? run() : command.trace.run(run));
        if (outcome.kind === "rejected") {
          const error = new ConnectError(`${where()}: ${outcome.message}`, outcome.code);
          settled.push(() => command.reject(error));
          continue;
        }
        if (outcome.timers.length > 0) checkTimers(outcome.timers);
        const applied = key === undefined ? undefined : { key, method: command.method.name, reply: toBinary(command.method.output, outcome.reply), at: Date.now() };
        seqNr = write.add(outcome, applied);
        state = outcome.state;
        timerChanges.push(...outcome.timers);
        const withTimers = outcome.timers.length > 0;
        settled.push(() => (withTimers && timerFailure !== undefined ? command.reject(timerFailure) : command.resolve(outcome.reply)));
      } catch (cause) {
        // The state may be half-updated: commit what the earlier commands decided,
        // then reload from the journal for the commands after this one.
        const error = thrownConnectError(where(), cause) ?? internalError(where(), slot.id, cause);
        settled.push(() => command.reject(error));
        slot.queue.unshift(...batch.slice(i + 1));
        failed = true;
        break;
      }
    }
    if (!write.empty) {
      for (const command of batch) if (command.stage === "handling") command.stage = "committing";
      try {
        // The oldest command of the batch decides how long it may wait for an unreachable store.
        const spans = traceCommand === undefined ? undefined : batch.flatMap((command) => (command.trace === undefined ? [] : [command.trace.span]));
        const fence = shards === undefined ? undefined : { shard: slot.shard, epoch: slot.epoch };
        seqNr = await write.commit({ state, failed, deadline: batch[0]!.arrivedAt + storageWaitMs, spans, fence, applied: slot.applied });
      } catch (cause) {
        slot.loaded = false;
        slot.state = undefined;
        if (cause instanceof FencedWriteError) {
          if (active.get(slot.id) === slot) active.delete(slot.id);
          shards?.fenced(cause.shard, cause.epoch);
        }
        // Nothing of this batch is committed (or it is not known), so no reply may stand, rejections included.
        const error = storageError(describeCall(batch[0]!.method, type, slot.id), cause, "was not applied", storeName);
        for (const command of batch) command.reject(error);
        return;
      }
    }
    for (const [key, applied] of write.recorded) slot.applied?.set(key, applied);
    if (timerChanges.length > 0) timerFailure = await applyTimers(timerChanges, describeCall(batch[0]!.method, type, slot.id));
    if (failed) {
      slot.loaded = false;
      slot.state = undefined;
    } else {
      slot.state = state;
    }
    slot.seqNr = seqNr;
    for (const settle of settled) settle();
  }

  function checkTimers(changes: readonly TimerChange[]): void {
    if (options.timers === undefined) throw new HandlerFailure("handler", "the handler scheduled or cancelled a timer, but this entity host has no timers");
    options.timers.check(changes);
  }

  /** Stores the batch's committed timer changes; the error for the commands that made them when that fails. */
  async function applyTimers(changes: readonly TimerChange[], where: string): Promise<ConnectError | undefined> {
    try {
      await options.timers!.apply(changes);
      return undefined;
    } catch (cause) {
      const names = [...new Set(changes.map((c) => `"${c.name}"`))].join(", ");
      const errorId = randomUUID().slice(0, 8);
      logger.error({ err: cause, errorId, entityType: type, timers: names }, `${where}: its writes committed, but its timer changes (${names}) were not stored`);
      return new ConnectError(
        `${where}: the command was applied, but its timer changes (${names}) could not be stored (error id ${errorId}); ` +
          "read the entity, and schedule or cancel the timers again", Code.Unavailable, undefined, undefined, cause,
      );
    }
  }

  /** The command's idempotency key; undefined when it has none or is a read (which has no effect to repeat). */
  function idempotencyKeyOf(command: Command): string | undefined {
    const key = command.call.headers?.get(IDEMPOTENCY_KEY_HEADER);
    if (key === null || key === undefined || key === "") return undefined;
    const spec = (entity.spec.methods as Record<string, { readOnly?: boolean } | undefined>)[command.method.localName];
    return spec?.readOnly === true ? undefined : key;
  }

  /**
   * What a keyed command gets without running: the reply of the command
   * applied earlier under its key, or an error (a key of another rpc, a key
   * this kind of entity cannot honour, an unreadable store); undefined when
   * the key is new and the command runs.
   */
  async function appliedEarlier(
    slot: Slot, command: Command, key: string, applying: ReadonlyMap<string, AppliedCommand>,
  ): Promise<{ kind: "reply"; reply: Message } | { kind: "error"; error: ConnectError } | undefined> {
    const where = describeCall(command.method, type, slot.id);
    const fail = (message: string, code: Code) => ({ kind: "error" as const, error: new ConnectError(`${where}: ${message}`, code) });
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      return fail(`the ${IDEMPOTENCY_KEY_HEADER} header is ${key.length} characters; at most ${MAX_IDEMPOTENCY_KEY_LENGTH} are allowed`, Code.InvalidArgument);
    }
    if (model.appliedCommands === undefined) {
      return fail(`idempotency keys (${IDEMPOTENCY_KEY_HEADER}) are not supported yet by these entities; call without the header`, Code.Unimplemented);
    }
    if (slot.applied === undefined) {
      try {
        slot.applied = await model.appliedCommands(slot.id, IDEMPOTENCY_WINDOW_MS);
      } catch (cause) {
        return { kind: "error", error: storageError(where, cause, "was not applied", storeName) };
      }
    }
    const earlier = applying.get(key) ?? slot.applied.get(key);
    if (earlier === undefined) return undefined;
    if (earlier.method !== command.method.name) {
      return fail(`the idempotency key ${JSON.stringify(key)} was already used for ${earlier.method} on this entity; use a new key for each distinct call`, Code.FailedPrecondition);
    }
    return { kind: "reply", reply: fromBinary(command.method.output, earlier.reply) };
  }

  function internalError(where: string, entityId: string, cause: unknown, stateUnchanged = true): ConnectError {
    const errorId = randomUUID().slice(0, 8);
    logger.error({ err: cause, errorId, entityType: type, entityId }, `${where}: ${String((cause as Error)?.message ?? cause)}`);
    const what = cause instanceof HandlerFailure ? cause.summary : "unexpected failure";
    const tail = stateUnchanged ? "; the entity's state is unchanged" : "";
    return new ConnectError(`${where}: ${what} (error id ${errorId})${tail}`, Code.Internal, undefined, undefined, cause);
  }

  /** UNAVAILABLE: this node does not serve the entity's shard; the owner's address, when known, is in the `orrery-shard-owner` header. */
  function notServed(where: string, shard: number): ConnectError {
    const address = shards?.ownerOf(shard)?.address;
    const metadata = new Headers({ [NOT_SERVED_HEADER]: String(shard) });
    if (address !== undefined) metadata.set("orrery-shard-owner", address);
    return new ConnectError(`${where}: ${shards!.whyNotServed(shard)}`, Code.Unavailable, metadata);
  }

  /**
   * Answers a command while its caller still listens, a tenth of its time (20
   * to 250 ms) before its deadline, when it is still waiting then (its entity
   * busy, or loading from an unreachable store: "not applied", safe to retry,
   * and it will not run) or its write was sent and not answered (a store that
   * went silent: "not known whether applied"). A command whose handler runs
   * then is left to finish. Without this the caller's own DEADLINE_EXCEEDED
   * would come first, telling it nothing.
   */
  function answerBeforeDeadline(slot: Slot, command: Command, deadline: number, armed: (timer: NodeJS.Timeout) => void, at?: number): void {
    const margin = Math.min(250, Math.max(20, (deadline - command.arrivedAt) / 10));
    const timer = setTimeout(() => {
      const where = describeCall(command.method, type, slot.id);
      if (command.stage === "waiting") {
        const at = slot.queue.indexOf(command);
        if (at >= 0) slot.queue.splice(at, 1);
        command.stage = "answered";
        const why = slot.loaded ? `${at >= 0 ? at : "some"} commands of this entity were ahead of it` : `the entity could not be loaded from the ${storeName} in time`;
        command.reject(new ConnectError(`${where}: the command was not applied before the caller's deadline (${why}); it is safe to retry`, Code.Unavailable));
      } else if (command.stage === "committing") {
        command.reject(new ConnectError(
          `${where}: the ${storeName} did not confirm the command's write before the caller's deadline; whether it was applied is not known; read the entity before retrying`,
          Code.Unavailable,
        ));
      } else if (command.stage === "handling" && performance.now() < deadline) {
        answerBeforeDeadline(slot, command, deadline, armed, performance.now() + 5); // its handler runs: look again shortly
      }
    }, Math.max(0, (at ?? deadline - margin) - performance.now()));
    timer.unref();
    armed(timer);
  }

  function slotsOf(set: ReadonlySet<number>): Slot[] {
    return [...active.values()].filter((slot) => set.has(slot.shard));
  }

  return {
    entity,
    shardOfEntity(entityId) {
      return active.get(entityId)?.shard ?? (shards === undefined ? 0 : shards.shardOf(type, entityId));
    },
    invoke(method, entityId, message, call = {}) {
      const cycle = callCycleError(call.headers, method, type, entityId);
      if (cycle !== undefined) return Promise.reject(cycle);
      let slot = active.get(entityId);
      const shard = slot?.shard ?? (shards === undefined ? 0 : shards.shardOf(type, entityId));
      if (shards !== undefined && shards.epochOf(shard) === undefined) return Promise.reject(notServed(describeCall(method, type, entityId), shard));
      if (slot === undefined) {
        slot = { id: entityId, shard, epoch: 0, loaded: false, state: undefined, seqNr: 0, queue: [], running: undefined, lastUsed: 0, applied: undefined };
        active.set(entityId, slot);
      }
      const s = slot;
      s.lastUsed = Date.now();
      if (s.queue.length >= maxQueued) {
        return Promise.reject(new ConnectError(
          `${describeCall(method, type, entityId)}: ${s.queue.length} commands are already waiting for this entity; slow down and retry`,
          Code.ResourceExhausted,
        ));
      }
      const trace = traceCommand?.(type, entityId, method);
      return new Promise<Message>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        let settled = false;
        // Settled once: a command answered before its deadline is settled again by its batch, which is then ignored.
        const done = () => {
          if (timer !== undefined) clearTimeout(timer);
          const first = !settled;
          settled = true;
          return first;
        };
        const settle = trace === undefined
          ? {
              resolve(reply: Message) {
                if (done()) resolve(reply);
              },
              reject(error: unknown) {
                if (done()) reject(error);
              },
            }
          : {
              resolve(reply: Message) {
                if (!done()) return;
                trace.end();
                resolve(reply);
              },
              reject(error: unknown) {
                if (!done()) return;
                trace.end(error);
                reject(error);
              },
            };
        const command: Command = { arrivedAt: performance.now(), stage: "waiting", method, message, call, trace, ...settle };
        s.queue.push(command);
        if (call.deadline !== undefined) answerBeforeDeadline(s, command, call.deadline, (t) => (timer = t));
        s.running ??= drainMailbox(s);
      });
    },
    async drain() {
      await Promise.all([...active.values()].map((s) => s.running));
    },
    close() {
      clearInterval(timer);
    },
    dropShards(set) {
      for (const slot of slotsOf(set)) {
        active.delete(slot.id);
        const queued = slot.queue.splice(0);
        if (queued.length === 0) continue;
        const error = notServed(describeCall(queued[0]!.method, type, slot.id), slot.shard);
        for (const command of queued) command.reject(error);
      }
    },
    async flushShards(set) {
      const slots = slotsOf(set);
      await Promise.all(slots.map((slot) => slot.running));
      for (const slot of slots) if (active.get(slot.id) === slot) active.delete(slot.id);
    },
    get activeCount() {
      return active.size;
    },
  };
}

/**
 * The caller's view of a storage failure: what happened to the call and
 * whether retrying is safe, with the error id under which the details
 * (driver message, database address) are logged — never those details.
 */
function storageError(where: string, cause: unknown, outcome: "was not applied" | "could not be loaded", store: string): ConnectError {
  if (cause instanceof ConnectError) return cause;
  if (cause instanceof FencedWriteError) {
    return new ConnectError(
      `${where}: shard ${cause.shard} of this entity moved to another node while the command ran (its write carried epoch ${cause.epoch}, ` +
        `the shard is at ${cause.currentEpoch ?? "no epoch"}); the command was not applied and this node dropped the entity; retry the call`,
      Code.Unavailable, undefined, undefined, cause,
    );
  }
  if (cause instanceof SequenceConflictError) {
    return new ConnectError(`${where}: another writer appended to this entity; it was reloaded, retry the command`, Code.Aborted, undefined, undefined, cause);
  }
  if (cause instanceof RevisionConflictError) {
    return new ConnectError(`${where}: another writer changed this entity's state; it was reloaded, retry the command`, Code.Aborted, undefined, undefined, cause);
  }
  const id = cause instanceof StorageError && cause.errorId !== undefined ? ` (error id ${cause.errorId})` : "";
  if (cause instanceof CommitOutcomeUnknownError) {
    return new ConnectError(
      `${where}: the ${store} became unreachable while the command was being committed, and whether it was applied ` +
        `is not known${id}; read the entity before retrying`,
      Code.Unavailable, undefined, undefined, cause,
    );
  }
  const what = outcome === "was not applied" ? "the command was not applied" : "the entity could not be loaded";
  if (cause instanceof StorageUnavailableError) {
    return new ConnectError(`${where}: the ${store} is unreachable or overloaded; ${what} and the call is safe to retry${id}`, Code.Unavailable, undefined, undefined, cause);
  }
  return new ConnectError(`${where}: the ${store} failed; ${what}${id}`, Code.Internal, undefined, undefined, cause);
}

/**
 * A handler that let a ConnectError through (typically a failed call to
 * another component: `await ctx.components.forService(…).…`) rejects its
 * command with that error's code, so the caller sees what went wrong where.
 */
function thrownConnectError(where: string, cause: unknown): ConnectError | undefined {
  if (!(cause instanceof HandlerFailure) || cause.phase !== "handler" || !(cause.cause instanceof ConnectError)) return undefined;
  const inner = cause.cause;
  // A call to the entity itself already names it.
  const message = inner.rawMessage.startsWith(`${where}: `) ? inner.rawMessage : `${where}: ${inner.rawMessage}`;
  const error = new ConnectError(message, inner.code, undefined, undefined, inner);
  error.details.push(...inner.details);
  return error;
}

/** A component client made only when the handler first uses it: most handlers call nothing. */
function lazyClient(make: () => ComponentClient): ComponentClient {
  let client: ComponentClient | undefined;
  return { forService: (service) => (client ??= make()).forService(service) };
}

function recoveryFailure(cause: unknown): HandlerFailure {
  const message = `could not recover the entity from its journal: ${cause instanceof Error ? cause.message : String(cause)}`;
  // Our own codec explains an undeclared event type and the fix; what user code threw stays in the log.
  const summary = cause instanceof HandlerFailure ? `could not recover the entity from its journal: ${cause.summary}` : message;
  return new HandlerFailure("applyEvent", message, { cause, summary });
}

/** Drops idle entities: those unused since `idleBefore`, then the least recently used past `maxActive`; returns how many. */
function passivate(active: Map<string, Slot>, idleBefore: number, maxActive: number): number {
  const before = active.size;
  const idle: Slot[] = [];
  for (const [id, slot] of active) {
    if (slot.running !== undefined || slot.queue.length > 0) continue;
    if (slot.lastUsed < idleBefore) active.delete(id);
    else idle.push(slot);
  }
  const excess = active.size - maxActive;
  if (excess > 0) {
    idle.sort((a, b) => a.lastUsed - b.lastUsed);
    for (const slot of idle.slice(0, excess)) active.delete(slot.id);
  }
  return before - active.size;
}
