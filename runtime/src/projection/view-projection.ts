import { fromBinary, fromJson, isMessage, toJson } from "@bufbuild/protobuf";
import type { DescMessage, JsonValue, Message } from "@bufbuild/protobuf";
import { createViewUpdateContext } from "@orrery/sdk";
import type { View, ViewTableSpec, ViewUpdateEffect } from "@orrery/sdk";
import { type Kysely, sql } from "kysely";
import { ENTITY_DELETED } from "../entity/event-codec.js";
import type { OrreryTables } from "../storage/index.js";
import type { ProjectionSpec } from "./projection-runner.js";

/**
 * Creates the tables of a view and their indexes, if they are not there yet,
 * under a lock: nodes starting together would otherwise race on the catalog.
 */
export async function ensureViewTables(db: Kysely<OrreryTables>, view: View): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('orrery view tables'))`.execute(trx);
    for (const table of view.spec.tables) {
      assertQuoted(table.sqlName);
      await sql.raw(`create table if not exists ${table.sqlName} (key text primary key, row jsonb not null)`).execute(trx);
      for (const index of table.indexes) await sql.raw(index).execute(trx);
    }
  });
}

/**
 * The projection that keeps one table of a view: each record of its source
 * (an event, or a key-value entity's latest state) goes to the update handler
 * of its type with the entity's current row, and the row is stored, deleted
 * or left, in the same transaction as the projection's offset: every update
 * takes effect exactly once. A key-value entity's deletion deletes its row.
 */
export function viewTableProjection(view: View, table: ViewTableSpec): ProjectionSpec {
  assertQuoted(table.sqlName);
  const messages = new Map<string, DescMessage>(table.messages.map((desc) => [desc.typeName, desc]));
  const ignored = new Set(table.ignored);
  const where = `${view.spec.service.typeName} table ${table.name}`;
  return {
    name: `${view.spec.name}/${table.name}`,
    feed: table.feed,
    entityTypes: [table.source],
    delivery: "in-transaction",
    async handle(record, db) {
      let update: Message;
      let sequenceNumber: number;
      if (record.feed === "states") {
        if (record.state === undefined) {
          await sql`delete from ${sql.raw(table.sqlName)} where key = ${record.entityId}`.execute(db);
          return;
        }
        update = decode(messages, record.state.type, record.state.payload, where);
        sequenceNumber = record.revision;
      } else {
        if (record.eventType === ENTITY_DELETED || ignored.has(record.eventType)) return;
        update = decode(messages, record.eventType, record.payload, where);
        sequenceNumber = record.seqNr;
      }
      const handlerName = table.updates[update.$typeName];
      const handler = handlerName === undefined ? undefined : view.handler(handlerName);
      if (handler === undefined) throw new Error(`${where} has no update handler for ${update.$typeName} of "${table.source}"; regenerate the code (npx buf generate)`);
      const { rows } = await sql<{ row: JsonValue }>`select row from ${sql.raw(table.sqlName)} where key = ${record.entityId}`.execute(db);
      const current = rows[0] === undefined ? undefined : fromJson(table.row, rows[0].row, { ignoreUnknownFields: true });
      const effect: ViewUpdateEffect<Message> = await handler(current, update, createViewUpdateContext({ entityId: record.entityId, entityType: record.entityType, sequenceNumber }));
      if (effect.kind === "ignore") return;
      if (effect.kind === "delete") {
        await sql`delete from ${sql.raw(table.sqlName)} where key = ${record.entityId}`.execute(db);
        return;
      }
      if (!isMessage(effect.row, table.row)) {
        throw new Error(`${where}: the ${handlerName} handler stored ${describe(effect.row)} as a row; the table's rows are ${table.row.typeName}`);
      }
      const json = JSON.stringify(toJson(table.row, effect.row, { useProtoFieldName: true }));
      await sql`insert into ${sql.raw(table.sqlName)} (key, row) values (${record.entityId}, ${json}::jsonb)
        on conflict (key) do update set row = excluded.row`.execute(db);
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
