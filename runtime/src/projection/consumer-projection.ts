import { create, fromBinary } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { DescMessage } from "@bufbuild/protobuf";
import type { ComponentClient, Consumer, Timers } from "@orrery/sdk";
import { ENTITY_DELETED } from "../entity/event-codec.js";
import type { ProjectionSpec } from "./projection-runner.js";

/**
 * The projection that feeds a consumer: the source entity's events (or a
 * key-value entity's changes and deletions), each decoded and handed to the
 * consumer's handler for its type, at least once and in order per entity. An event type the consumer declares ignored is
 * passed over; one it does not know stops it (retried and logged, never
 * skipped) until the consumer is regenerated for the source's events.
 */
export function consumerProjection(consumer: Consumer, components: ComponentClient, signal: AbortSignal, timers: Timers = noTimers): ProjectionSpec {
  const { spec } = consumer;
  const byType = new Map<string, DescMessage>(spec.events.map((desc) => [desc.typeName, desc]));
  const ignored = new Set(spec.ignored);
  return {
    name: spec.name,
    feed: spec.feed,
    entityTypes: [spec.source],
    delivery: "at-least-once",
    async handle(record) {
      const ctx = { entityId: record.entityId, entityType: record.entityType, signal, components, timers };
      if (record.feed === "states") {
        // A change brings the state; a deletion calls the handler of google.protobuf.Empty, if there is one.
        const type = record.state === undefined ? EmptySchema.typeName : record.state.type;
        const handler = consumer.handlerFor(type);
        if (handler === undefined && record.state === undefined) return;
        const desc = record.state === undefined ? EmptySchema : byType.get(type);
        if (handler === undefined || desc === undefined) {
          throw new Error(`${spec.service.typeName} has no handler for state ${type} of "${spec.source}"; regenerate the code (npx buf generate)`);
        }
        await handler(record.state === undefined ? create(EmptySchema) : fromBinary(desc, record.state.payload), { ...ctx, sequenceNumber: record.revision });
        return;
      }
      if (record.eventType === ENTITY_DELETED || ignored.has(record.eventType)) return;
      const handler = consumer.handlerFor(record.eventType);
      const desc = byType.get(record.eventType);
      if (handler === undefined || desc === undefined) {
        throw new Error(
          `${spec.service.typeName} has no handler for ${record.eventType}, an event of "${spec.source}"; ` +
            "regenerate the code (npx buf generate) and handle or ignore it",
        );
      }
      await handler(fromBinary(desc, record.payload), { ...ctx, sequenceNumber: record.seqNr });
    },
  };
}

/** The timers of a consumer run without a service (tests): every change is refused. */
const noTimers: Timers = {
  schedule: (name) => Promise.reject(new Error(`timer "${name}": this consumer runs without timers (createService gives it the service's)`)),
  cancel: (name) => Promise.reject(new Error(`timer "${name}": this consumer runs without timers (createService gives it the service's)`)),
};
