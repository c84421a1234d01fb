import { fromBinary, fromJson, isMessage, toJson } from "@bufbuild/protobuf";
import type { DescMessage, JsonValue, Message } from "@bufbuild/protobuf";
import { createViewUpdateContext } from "@orrery/sdk";
import type { View, ViewTableSpec, ViewUpdateEffect } from "@orrery/sdk";
import { type Kysely, sql } from "kysely";
import { ENTITY_DELETED } from "../entity/event-codec.js";
import type { OrreryTables } from "../storage/index.js";
import type { FeedRecord } from "./feed.js";
import { RecordFailure } from "./projection-runner.js";
import type { ProjectionSpec } from "./projection-runner.js";
import type { ViewChanges } from "./view-changes.js";

/**
 * The projection that keeps one table of a view: each record of its source
 * (an event, or a key-value entity's latest state) goes to the update handler
 * of its type with the entity's current row, and the row is stored, deleted
 * or left, in the same transaction as the projection's offset: every update
 * takes effect exactly once. A key-value entity's deletion deletes its row.
 */
export function viewTableProjection(view: View, table: ViewTableSpec, changes?: ViewChanges): ProjectionSpec {
  assertQuoted(table.sqlName);
  const messages = new Map<string, DescMessage>(table.messages.map((desc) => [desc.typeName, desc]));
  const ignored = new Set(table.ignored);
  const where = `${view.spec.service.typeName} table ${table.name}`;
  /** The update of one record (undefined: nothing to do), or the deletion of the entity's row. */
  function updateOf(record: FeedRecord): { update: Message; sequenceNumber: number } | "delete" | undefined {
    if (record.feed === "states") {
      if (record.state === undefined) return "delete";
      return { update: decode(messages, record.state.type, record.state.payload, where), sequenceNumber: record.revision };
    }
    if (record.eventType === ENTITY_DELETED || ignored.has(record.eventType)) return undefined;
    return { update: decode(messages, record.eventType, record.payload, where), sequenceNumber: record.seqNr };
  }

  /** Runs the handler of one update over the row as it is; returns the row after it (undefined: none). */
  async function apply(record: FeedRecord, current: Message | undefined): Promise<Message | undefined> {
    const change = updateOf(record);
    if (change === undefined) return current;
    if (change === "delete") return undefined;
    const handlerName = table.updates[change.update.$typeName];
    const handler = handlerName === undefined ? undefined : view.handler(handlerName);
    if (handler === undefined) throw new Error(`${where} has no update handler for ${change.update.$typeName} of "${table.source}"; regenerate the code (npx buf generate)`);
    const effect: ViewUpdateEffect<Message> = await handler(current, change.update,
      createViewUpdateContext({ entityId: record.entityId, entityType: record.entityType, sequenceNumber: change.sequenceNumber }));
    if (effect.kind === "ignore") return current;
    if (effect.kind === "delete") return undefined;
    if (!isMessage(effect.row, table.row)) {
      throw new Error(`${where}: the ${handlerName} handler stored ${describe(effect.row)} as a row; the table's rows are ${table.row.typeName}`);
    }
    return effect.row;
  }

  const read = (json: JsonValue) => fromJson(table.row, json, { ignoreUnknownFields: true });
  const encode = (row: Message) => JSON.stringify(toJson(table.row, row, { useProtoFieldName: true }));

  /** The keys the batch being handled changed, for streaming queries once it commits. */
  let changedKeys: string[] = [];
  return {
    name: `${view.spec.name}/${table.name}`,
    feed: table.feed,
    entityTypes: [table.source],
    delivery: "in-transaction",
    async handle(record, db) {
      await this.handleBatch!([record], db);
    },
    // One read of the batch's rows, the handlers in order in memory, one write of the rows that changed.
    async handleBatch(records, db) {
      changedKeys = [];
      const keys = [...new Set(records.map((r) => r.entityId))];
      const { rows } = await sql<{ key: string; row: JsonValue }>`select key, row from ${sql.raw(table.sqlName)} where key = any(${keys}::text[])`.execute(db);
      const current = new Map<string, Message | undefined>(rows.map((r) => [r.key, read(r.row)]));
      const changed = new Set<string>();
      for (const [index, record] of records.entries()) {
        try {
          const before = current.get(record.entityId);
          const after = await apply(record, before);
          if (after !== before || after !== undefined) changed.add(record.entityId); // handlers may change a row in place
          current.set(record.entityId, after);
        } catch (error) {
          throw new RecordFailure(index, error);
        }
      }
      const kept = [...changed].filter((key) => current.get(key) !== undefined);
      const gone = [...changed].filter((key) => current.get(key) === undefined);
      if (gone.length > 0) await sql`delete from ${sql.raw(table.sqlName)} where key = any(${gone}::text[])`.execute(db);
      if (kept.length > 0) {
        await sql`insert into ${sql.raw(table.sqlName)} (key, row)
          select k, r::jsonb from unnest(${kept}::text[], ${kept.map((key) => encode(current.get(key)!))}::text[]) as u(k, r)
          on conflict (key) do update set row = excluded.row`.execute(db);
      }
      if (changes?.watched(table.sqlName)) {
        changedKeys = [...changed];
        await changes.announce(db, table.sqlName, changedKeys);
      }
    },
    afterCommit() {
      if (changedKeys.length > 0) changes?.committed(table.sqlName, changedKeys);
      changedKeys = [];
    },
  };
}

function decode(messages: ReadonlyMap<string, DescMessage>, type: string, payload: Uint8Array, where: string): Message {
  const desc = messages.get(type);
  if (desc === undefined) throw new Error(`${where}: its source holds ${type}, which the view does not know; regenerate the code (npx buf generate)`);
  return fromBinary(desc, payload);
}

// Table names are generated, never user input; still, only a quoted identifier is ever spliced into SQL.
function assertQuoted(name: string): void {
  if (!/^"[a-z0-9_]+"$/.test(name)) throw new Error(`view table name ${name} is not a quoted lower-case identifier`);
}

function describe(value: unknown): string {
  return value !== null && typeof value === "object" && "$typeName" in value ? String(value.$typeName) : typeof value;
}
