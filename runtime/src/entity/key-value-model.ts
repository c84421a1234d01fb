import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Message } from "@bufbuild/protobuf";
import { HandlerFailure, initialKeyValueState, processKeyValueCommand } from "@orrery/sdk";
import type { KeyValueEntity, KeyValueOutcome } from "@orrery/sdk";
import type { AppliedCommand, KeyValueStore } from "../storage/index.js";
import type { BatchWrite, EntityModel } from "./entity-model.js";

type Accepted = Extract<KeyValueOutcome, { kind: "accepted" }>;

/**
 * A key-value entity: loaded from its state row (no replay), each batch of
 * commands one write of the final state over the revision it was loaded at.
 */
export function keyValueModel(entity: KeyValueEntity, store: KeyValueStore): EntityModel {
  const type = entity.spec.type;
  const stateDesc = entity.spec.state;

  function encodeState(state: Message): Uint8Array {
    try {
      return toBinary(stateDesc, state);
    } catch (cause) {
      throw new HandlerFailure("state", `the state (${state.$typeName}) could not be encoded: ${String(cause)}`, {
        cause,
        summary: `the state (${state.$typeName}) could not be encoded as protobuf binary`,
      });
    }
  }

  return {
    component: entity,
    async load(entityId) {
      const stored = await store.load(type, entityId);
      if (stored === undefined) return { state: initialKeyValueState(entity, entityId), seqNr: 0 };
      if (stored.state === undefined) return { state: initialKeyValueState(entity, entityId), seqNr: stored.revision };
      if (stored.state.type !== stateDesc.typeName) {
        throw new HandlerFailure("state",
          `the stored state of ${type} "${entityId}" is a ${stored.state.type}, but the entity's state is ${stateDesc.typeName}; ` +
            "a key-value entity's state message may gain and lose fields, but not change its name",
        );
      }
      return { state: fromBinary(stateDesc, stored.state.payload), seqNr: stored.revision };
    },
    async handle(run) {
      const outcome = await processKeyValueCommand({
        entity, entityId: run.entityId, method: run.method, command: run.command, state: run.state,
        metadata: run.metadata, signal: run.signal, components: run.components,
      });
      return outcome.kind === "rejected" ? outcome : { kind: "accepted", state: outcome.state, reply: outcome.reply, change: outcome, timers: outcome.timers };
    },
    appliedCommands: (entityId) => store.appliedCommands(type, entityId),
    batch(entityId, revision): BatchWrite {
      let write: { payload: Uint8Array | undefined } | undefined;
      const recorded = new Map<string, AppliedCommand>();
      return {
        recorded,
        add(outcome, applied) {
          const accepted = outcome.change as Accepted;
          // Encoded per command, so a state that cannot be encoded fails the command that stored it.
          if (accepted.changed) {
            write = { payload: accepted.deleted ? undefined : encodeState(accepted.state) };
            if (applied !== undefined) recorded.set(applied.key, applied);
          }
          return revision;
        },
        get empty() {
          return write === undefined;
        },
        async commit({ deadline, spans, fence, applied }) {
          const payload = write!.payload;
          await store.write({
            entityType: type, entityId, revision: revision + 1,
            state: payload === undefined ? undefined : { type: stateDesc.typeName, payload },
            deadline, spans, fence,
            // The row keeps the recent keys: all of them are written with the state that applied a new one.
            applied: recorded.size === 0 ? undefined : keptKeys(applied, recorded),
          });
          return revision + 1;
        },
      };
    },
  };
}

/** A key-value entity keeps at most this many idempotency keys, the most recent ones. */
export const MAX_KEPT_KEYS = 1_000;
/** Keys older than this are forgotten at the next write that stores a key. */
const KEPT_FOR_MS = 7 * 24 * 3600 * 1000;

/** The keys to store with the state: the known ones and the batch's, minus the expired and the oldest beyond the bound. */
export function keptKeys(known: ReadonlyMap<string, AppliedCommand> | undefined, added: ReadonlyMap<string, AppliedCommand>): Map<string, AppliedCommand> {
  const since = Date.now() - KEPT_FOR_MS;
  const all = [...(known ?? []), ...added].filter(([, a]) => a.at >= since).sort(([, a], [, b]) => a.at - b.at);
  return new Map(all.slice(Math.max(0, all.length - MAX_KEPT_KEYS)));
}
