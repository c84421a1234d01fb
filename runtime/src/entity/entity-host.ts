import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { HandlerFailure, initialState, processCommand } from "@orrery/sdk";
import type { ComponentClient, EventSourcedEntity } from "@orrery/sdk";
import type { Logger } from "pino";
import { randomUUID } from "node:crypto";
import type { EventJournal } from "../storage/index.js";
import { SequenceConflictError, StorageUnavailableError } from "../storage/index.js";
import { describeCall } from "./call-description.js";
import { createEventCodec, ENTITY_DELETED } from "./event-codec.js";
import type { EventCodec } from "./event-codec.js";

/** Per-call facts from the transport. */
export interface CallInfo {
  readonly headers?: Headers;
  readonly signal?: AbortSignal;
}

/** Hosts the active entities of one event-sourced component in this process. */
export interface EntityHost {
  readonly entity: EventSourcedEntity;
  /** Runs a command on an entity: in arrival order per entity, concurrently across entities. */
  invoke(method: DescMethod, entityId: string, command: Message, call?: CallInfo): Promise<Message>;
  /** Resolves when every queued command has finished. */
  drain(): Promise<void>;
  /** Stops the passivation timer. */
  close(): void;
  /** The number of entities held in memory. */
  readonly activeCount: number;
}

/** Settings of an entity host. */
export interface EntityHostOptions {
  readonly entity: EventSourcedEntity;
  readonly journal: EventJournal;
  readonly components: ComponentClient;
  readonly logger: Logger;
  /** Snapshot every this many events, when the entity does not say. */
  readonly snapshotEvery: number;
  /** Passivate entities idle this long. */
  readonly passivateAfterMs: number;
  /** Keep at most this many entities in memory; the least recently used idle ones go first. */
  readonly maxActive: number;
}

interface Slot {
  readonly id: string;
  loaded: boolean;
  state: Message | undefined;
  seqNr: number;
  pending: number;
  tail: Promise<unknown>;
  lastUsed: number;
}

/** Creates the host of one event-sourced component. */
export function createEntityHost(options: EntityHostOptions): EntityHost {
  const { entity, journal, logger } = options;
  const type = entity.spec.type;
  const codec = createEventCodec(entity);
  const snapshotEvery = entity.snapshotEvery > 0 ? entity.snapshotEvery : options.snapshotEvery;
  const active = new Map<string, Slot>();
  const sweepMs = Math.max(50, Math.min(options.passivateAfterMs / 2, 30_000));
  const timer = setInterval(() => passivate(active, Date.now() - options.passivateAfterMs, options.maxActive), sweepMs);
  timer.unref();

  async function run(slot: Slot, method: DescMethod, command: Message, call: CallInfo): Promise<Message> {
    if (call.signal?.aborted) throw ConnectError.from(call.signal.reason, Code.Canceled);
    if (!slot.loaded) await load(slot, method);
    const where = describeCall(method, type, slot.id);
    let outcome;
    try {
      outcome = await processCommand({
        entity, entityId: slot.id, method, command, state: slot.state!, sequenceNumber: slot.seqNr,
        metadata: call.headers, signal: call.signal, components: options.components,
      });
    } catch (cause) {
      throw internalError(slot, where, cause);
    }
    if (outcome.kind === "rejected") throw new ConnectError(`${where}: ${outcome.message}`, outcome.code);
    if (outcome.events.length === 0 && !outcome.deleted) return outcome.reply;

    let seqNr = slot.seqNr;
    let events;
    try {
      events = outcome.events.map((event) => ({ seqNr: ++seqNr, ...encodeEvent(codec, event) }));
    } catch (cause) {
      throw internalError(slot, where, new HandlerFailure("event", `an event could not be encoded: ${String(cause)}`, { cause }));
    }
    if (outcome.deleted) events.push({ seqNr: ++seqNr, eventType: ENTITY_DELETED, payload: new Uint8Array(0) });
    const snapshotDue = snapshotEvery > 0 && Math.floor(seqNr / snapshotEvery) > Math.floor(slot.seqNr / snapshotEvery);
    const snapshot = snapshotDue ? { seqNr, stateType: entity.spec.state.typeName, payload: codec.encode(outcome.state).payload } : undefined;
    try {
      await journal.append({ entityType: type, entityId: slot.id, events, snapshot });
    } catch (cause) {
      slot.loaded = false;
      slot.state = undefined;
      throw storageError(where, cause);
    }
    slot.state = outcome.state;
    slot.seqNr = seqNr;
    return outcome.reply;
  }

  async function load(slot: Slot, method: DescMethod): Promise<void> {
    let stored;
    try {
      stored = await journal.load(type, slot.id);
    } catch (cause) {
      throw storageError(describeCall(method, type, slot.id), cause);
    }
    let state = stored.snapshot && codec.decodeState(stored.snapshot.stateType, stored.snapshot.payload);
    let seqNr = state ? stored.snapshot!.seqNr : 0;
    let events = stored.events;
    if (state === undefined) {
      state = initialState(entity, slot.id);
      if (stored.snapshot) events = await journal.readEvents(type, slot.id, 1);
    }
    for (const event of events) {
      if (event.seqNr !== seqNr + 1) {
        throw new ConnectError(`${type} "${slot.id}": journal has event ${event.seqNr} after ${seqNr}; refusing to load a history with a gap`, Code.DataLoss);
      }
      seqNr = event.seqNr;
      state = event.eventType === ENTITY_DELETED
        ? initialState(entity, slot.id)
        : entity.behavior.applyEvent(state, codec.decodeEvent(event.eventType, event.payload, event.seqNr, slot.id));
    }
    slot.state = state;
    slot.seqNr = seqNr;
    slot.loaded = true;
  }

  function internalError(slot: Slot, where: string, cause: unknown): ConnectError {
    slot.loaded = false;
    slot.state = undefined;
    const errorId = randomUUID().slice(0, 8);
    logger.error({ err: cause, errorId, entityType: type, entityId: slot.id }, `${where}: ${String((cause as Error)?.message ?? cause)}`);
    const what = cause instanceof HandlerFailure ? cause.message : "unexpected failure";
    return new ConnectError(`${where}: ${what} (error id ${errorId}); the entity's state is unchanged`, Code.Internal, undefined, undefined, cause);
  }

  return {
    entity,
    invoke(method, entityId, command, call = {}) {
      let slot = active.get(entityId);
      if (slot === undefined) {
        slot = { id: entityId, loaded: false, state: undefined, seqNr: 0, pending: 0, tail: Promise.resolve(), lastUsed: 0 };
        active.set(entityId, slot);
      }
      const s = slot;
      s.pending++;
      s.lastUsed = Date.now();
      const result = s.tail.then(() => run(s, method, command, call));
      s.tail = result.then(
        () => { s.pending--; },
        () => { s.pending--; },
      );
      return result;
    },
    async drain() {
      await Promise.all([...active.values()].map((s) => s.tail));
    },
    close() {
      clearInterval(timer);
    },
    get activeCount() {
      return active.size;
    },
  };
}

function encodeEvent(codec: EventCodec, event: Message): { eventType: string; payload: Uint8Array } {
  const { type, payload } = codec.encode(event);
  return { eventType: type, payload };
}

function storageError(where: string, cause: unknown): ConnectError {
  if (cause instanceof ConnectError) return cause;
  if (cause instanceof SequenceConflictError) {
    return new ConnectError(`${where}: another writer appended to this entity; it was reloaded, retry the command`, Code.Aborted, undefined, undefined, cause);
  }
  const code = cause instanceof StorageUnavailableError ? Code.Unavailable : Code.Internal;
  return new ConnectError(`${where}: the event store failed: ${String((cause as Error)?.message ?? cause)}`, code, undefined, undefined, cause);
}

/** Drops idle entities: those unused since `idleBefore`, then the least recently used past `maxActive`. */
function passivate(active: Map<string, Slot>, idleBefore: number, maxActive: number): void {
  const idle: Slot[] = [];
  for (const [id, slot] of active) {
    if (slot.pending > 0) continue;
    if (slot.lastUsed < idleBefore) active.delete(id);
    else idle.push(slot);
  }
  const excess = active.size - maxActive;
  if (excess <= 0) return;
  idle.sort((a, b) => a.lastUsed - b.lastUsed);
  for (const slot of idle.slice(0, excess)) active.delete(slot.id);
}
