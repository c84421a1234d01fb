import type { Message } from "@bufbuild/protobuf";
import { HandlerFailure, processCommand } from "@orrery/sdk";
import type { CommandOutcome, EventSourcedEntity } from "@orrery/sdk";
import { IDEMPOTENCY_METADATA } from "../storage/index.js";
import type { AppliedCommand, EventJournal, JournalEvent } from "../storage/index.js";
import type { BatchWrite, EntityModel } from "./entity-model.js";
import { recoverEntity } from "./entity-recovery.js";
import { createEventCodec, ENTITY_DELETED } from "./event-codec.js";

type Accepted = Extract<CommandOutcome, { kind: "accepted" }>;

/** An event-sourced entity: recovered from snapshot + events, each batch one append (with a snapshot every `snapshotEvery` events). */
export function eventSourcedModel(entity: EventSourcedEntity, journal: EventJournal, defaultSnapshotEvery: number): EntityModel {
  const type = entity.spec.type;
  const codec = createEventCodec(entity);
  const snapshotEvery = entity.snapshotEvery > 0 ? entity.snapshotEvery : defaultSnapshotEvery;

  function encodeEvent(event: Message): { type: string; payload: Uint8Array } {
    try {
      return codec.encode(event);
    } catch (cause) {
      throw new HandlerFailure("event", `an event (${event.$typeName}) could not be encoded: ${String(cause)}`, {
        cause,
        summary: `an event (${event.$typeName}) could not be encoded as protobuf binary`,
      });
    }
  }

  return {
    component: entity,
    load: (entityId) => recoverEntity(entity, codec, journal, entityId),
    appliedCommands: (entityId, withinMs) => journal.appliedCommands(type, entityId, withinMs),
    async handle(run) {
      const outcome = await processCommand({
        entity, entityId: run.entityId, method: run.method, command: run.command, state: run.state, sequenceNumber: run.seqNr,
        metadata: run.metadata, signal: run.signal, components: run.components,
      });
      return outcome.kind === "rejected" ? outcome : { kind: "accepted", state: outcome.state, reply: outcome.reply, change: outcome };
    },
    batch(entityId, startSeqNr): BatchWrite {
      let seqNr = startSeqNr;
      const events: JournalEvent[] = [];
      const recorded = new Map<string, AppliedCommand>();
      return {
        recorded,
        add(outcome, applied) {
          const accepted = outcome.change as Accepted;
          const encoded = accepted.events.map((event) => encodeEvent(event));
          const first = events.length;
          for (const e of encoded) events.push({ seqNr: ++seqNr, eventType: e.type, payload: e.payload });
          if (accepted.deleted) events.push({ seqNr: ++seqNr, eventType: ENTITY_DELETED, payload: new Uint8Array(0) });
          if (applied !== undefined && events.length > first) {
            recorded.set(applied.key, applied);
            // On the command's last event, in the same statement as its events: both commit or neither does.
            const last = events[events.length - 1]!;
            events[events.length - 1] = {
              ...last,
              metadata: {
                [IDEMPOTENCY_METADATA.key]: applied.key,
                [IDEMPOTENCY_METADATA.method]: applied.method,
                [IDEMPOTENCY_METADATA.reply]: Buffer.from(applied.reply).toString("base64"),
              },
            };
          }
          return seqNr;
        },
        get empty() {
          return events.length === 0;
        },
        async commit({ state, failed, deadline, spans, fence }) {
          const snapshotDue = !failed && snapshotEvery > 0 && Math.floor(seqNr / snapshotEvery) > Math.floor(startSeqNr / snapshotEvery);
          const snapshot = snapshotDue ? { seqNr, stateType: entity.spec.state.typeName, payload: codec.encode(state).payload } : undefined;
          await journal.append({ entityType: type, entityId, events, snapshot, deadline, spans, fence });
          return seqNr;
        },
      };
    },
  };
}
