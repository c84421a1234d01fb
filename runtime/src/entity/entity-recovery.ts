import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { HandlerFailure, initialState } from "@orrery/sdk";
import type { EventSourcedEntity } from "@orrery/sdk";
import type { EventJournal } from "../storage/index.js";
import { ENTITY_DELETED } from "./event-codec.js";
import type { EventCodec } from "./event-codec.js";

/** An entity's state as of its last persisted event. */
export interface RecoveredEntity {
  readonly state: Message;
  readonly seqNr: number;
}

/**
 * Rebuilds an entity from its latest usable snapshot and the events after it.
 * A snapshot of another state type is ignored (full replay); a gap in the
 * sequence numbers refuses to load rather than serve a wrong state.
 */
export async function recoverEntity(
  entity: EventSourcedEntity,
  codec: EventCodec,
  journal: EventJournal,
  entityId: string,
): Promise<RecoveredEntity> {
  const type = entity.spec.type;
  const stored = await journal.load(type, entityId);
  let state = stored.snapshot && codec.decodeState(stored.snapshot.stateType, stored.snapshot.payload);
  let seqNr = state !== undefined ? stored.snapshot!.seqNr : 0;
  let events = stored.events;
  if (state === undefined) {
    state = initialState(entity, entityId);
    if (stored.snapshot !== undefined) events = await journal.readEvents(type, entityId, 1);
  }
  for (const event of events) {
    if (event.seqNr !== seqNr + 1) {
      throw new ConnectError(
        `${type} ${JSON.stringify(entityId)}: the journal has event ${event.seqNr} right after ${seqNr}; refusing to load a history with a gap`,
        Code.DataLoss,
      );
    }
    seqNr = event.seqNr;
    if (event.eventType === ENTITY_DELETED) {
      state = initialState(entity, entityId);
      continue;
    }
    const decoded = codec.decodeEvent(event.eventType, event.payload, event.seqNr, entityId);
    try {
      state = entity.behavior.applyEvent(state, decoded);
    } catch (cause) {
      const kind = cause instanceof Error ? cause.name : typeof cause;
      throw new HandlerFailure("applyEvent", `applyEvent threw on event ${event.seqNr} (${event.eventType}): ${cause instanceof Error ? cause.message : String(cause)}`, {
        cause,
        summary: `applyEvent threw ${/^[aeiou]/i.test(kind) ? "an" : "a"} ${kind} on event ${event.seqNr} (${event.eventType})`,
      });
    }
  }
  return { state, seqNr };
}
