// Runs compiled view query plans in the SQL tests through the runtime's own
// executor, so the tests check what the runtime runs: bind every parameter as
// text, run the SQL, turn the `row` column back into messages.
import { toJson } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { CompiledViewQuery } from "../../src/view-query/index.js";
import {
  bindParameters,
  encodePageToken,
  InvalidQueryArgument as InvalidArgument,
  runByKeyQuery,
  runStreamQuery,
  runUnaryQuery,
} from "../../../runtime/src/projection/view-query-executor.js";
import type { RunSql } from "../../../runtime/src/projection/view-query-executor.js";
import type { SqlDatabase } from "./view-databases.js";

export { bindParameters, encodePageToken, InvalidArgument };

const runOn = (db: SqlDatabase): RunSql => async (sql, parameters) => (await db.query(sql, parameters)).rows as never;

/** Creates `plan`'s tables (if missing) and its suggested indexes. */
export async function createTables(db: SqlDatabase, plan: CompiledViewQuery): Promise<void> {
  for (const t of plan.tables) await db.exec(`CREATE TABLE IF NOT EXISTS ${t.sqlName} (key text PRIMARY KEY, row jsonb NOT NULL)`);
  for (const ix of plan.indexes) await db.exec(ix.sql);
}

/** Stores `rows` (key → message) in table `sqlName` as protobuf JSON with proto field names. */
export async function insertRows<Desc extends DescMessage>(db: SqlDatabase, sqlName: string, schema: Desc, rows: Record<string, MessageShape<Desc>>): Promise<void> {
  for (const [key, row] of Object.entries(rows)) {
    await db.query(`INSERT INTO ${sqlName} (key, row) VALUES ($1, $2::jsonb)`, [key, JSON.stringify(toJson(schema, row, { useProtoFieldName: true }))]);
  }
}

/** Runs a unary plan and builds its response; undefined is NOT_FOUND. */
export function runUnary<Desc extends DescMessage>(db: SqlDatabase, plan: CompiledViewQuery, request: object, response: Desc): Promise<MessageShape<Desc> | undefined> {
  return runUnaryQuery(runOn(db), plan, request, response);
}

/** Runs a streaming plan's `byKey` query: the response for row `key` as it is now, or undefined when it does not match. */
export function runByKey<Desc extends DescMessage>(db: SqlDatabase, plan: CompiledViewQuery, request: object, key: string, response: Desc): Promise<MessageShape<Desc> | undefined> {
  return runByKeyQuery(runOn(db), plan, request, key, response);
}

/** Runs a streaming plan: one response per row. */
export function runStream<Desc extends DescMessage>(db: SqlDatabase, plan: CompiledViewQuery, request: object, response: Desc): Promise<MessageShape<Desc>[]> {
  return runStreamQuery(runOn(db), plan, request, response);
}
