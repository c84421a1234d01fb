import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { EventSourcedEntity } from "@orrery/sdk";

/** The event type recorded when an entity is deleted; it carries no payload. */
export const ENTITY_DELETED = "orrery.v1.EntityDeleted";

/**
 * Encodes events and snapshots as protobuf binary under their full message
 * name, and decodes them by that name (schema evolution by field numbers).
 */
export interface EventCodec {
  encode(message: Message): { type: string; payload: Uint8Array };
  /** Decodes an event; throws with the entity type and the fix when the type is not declared. */
  decodeEvent(type: string, payload: Uint8Array, seqNr: number, entityId: string): Message;
  /** Decodes a snapshot, or returns undefined when it was written for another state type. */
  decodeState(type: string, payload: Uint8Array): Message | undefined;
}

/** Creates the codec of one entity type. */
export function createEventCodec(entity: EventSourcedEntity): EventCodec {
  const byName = new Map<string, DescMessage>();
  for (const desc of [...entity.spec.events, entity.spec.state]) byName.set(desc.typeName, desc);
  const stateDesc = entity.spec.state;
  return {
    encode(message) {
      const desc = byName.get(message.$typeName);
      if (desc === undefined) throw new Error(`${message.$typeName} is not an event or the state of "${entity.spec.type}"`);
      return { type: desc.typeName, payload: toBinary(desc, message) };
    },
    decodeEvent(type, payload, seqNr, entityId) {
      const desc = byName.get(type);
      if (desc === undefined || desc === stateDesc) {
        throw new Error(
          `event ${seqNr} of ${entity.spec.type} "${entityId}" has type ${type}, which is not among the entity's events ` +
            `(${entity.spec.events.map((e) => e.typeName).join(", ")}); an event type that was ever persisted must stay declared`,
        );
      }
      return fromBinary(desc, payload);
    },
    decodeState(type, payload) {
      return type === stateDesc.typeName ? fromBinary(stateDesc, payload) : undefined;
    },
  };
}
