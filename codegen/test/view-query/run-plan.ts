// A reference executor of compiled view query plans, as the runtime will run
// them: bind every parameter as text, run the SQL, turn the `row` column back
// into messages. The SQL tests run plans through it against PGlite and PostgreSQL.
import { fromJson, toJson } from "@bufbuild/protobuf";
import type { DescMessage, JsonObject, JsonValue, MessageShape } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { CompiledViewQuery, QueryParameter, ScalarCoercion } from "../../src/view-query/index.js";
import type { SqlDatabase } from "./view-databases.js";

/** A bad request value (negative LIMIT, malformed page token): INVALID_ARGUMENT on the wire. */
export class InvalidArgument extends Error {
  override readonly name = "InvalidArgument";
}

/** The text (or null) bound for each `$n` of `plan`, from `request`. */
export function bindParameters(plan: CompiledViewQuery, request: object): (string | null)[] {
  return plan.parameters.map((p) => bindParameter(p, request));
}

function bindParameter(p: QueryParameter, request: object, key?: string): string | null {
  if (p.kind === "literal") return p.value;
  if (p.kind === "row-key") {
    if (key === undefined) throw new Error("a row key parameter needs the key");
    return key;
  }
  let value: unknown = request;
  for (const name of p.field.localNames) value = value === undefined ? undefined : (value as Record<string, unknown>)[name];
  const path = p.field.names.join(".");
  switch (p.coercion.kind) {
    case "limit":
    case "offset": {
      const n = Number(value ?? 0);
      if (n < 0) throw new InvalidArgument(`${path} must not be negative, got ${n}`);
      return p.coercion.kind === "limit" && n === 0 ? null : String(n);
    }
    case "page-token":
      return String(decodePageToken(String(value ?? ""), path));
    case "list":
      const { element } = p.coercion;
      return JSON.stringify(((value as unknown[] | undefined) ?? []).map((v) => scalar(v, element)));
    default:
      if (value === undefined && p.nullable) return null;
      return scalar(value, p.coercion);
  }
}

function scalar(value: unknown, coercion: ScalarCoercion): string | null {
  switch (coercion.kind) {
    case "string":
      return String(value ?? "");
    case "number":
      return String(value ?? 0);
    case "bool":
      return String(value ?? false);
    case "enum":
      return coercion.names[String(value ?? 0)] ?? String(value);
    case "timestamp": {
      if (value === undefined) return null;
      const t = value as Timestamp;
      return `${new Date(Number(t.seconds) * 1000).toISOString().slice(0, 19)}.${String(t.nanos).padStart(9, "0")}`;
    }
  }
}

/** The page token for a page that starts at `offset`. */
export function encodePageToken(offset: number): string {
  return Buffer.from(String(offset)).toString("base64url");
}

function decodePageToken(token: string, path: string): number {
  if (token === "") return 0;
  const text = Buffer.from(token, "base64url").toString();
  if (!/^(0|[1-9][0-9]*)$/.test(text) || encodePageToken(Number(text)) !== token) {
    throw new InvalidArgument(`${path} is not a page token of this query`);
  }
  return Number(text);
}

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
export async function runUnary<Desc extends DescMessage>(db: SqlDatabase, plan: CompiledViewQuery, request: object, response: Desc): Promise<MessageShape<Desc> | undefined> {
  const { rows } = await db.query<{ row: JsonObject; total_count?: number | bigint }>(plan.sql, bindParameters(plan, request));
  const read = (json: JsonValue): MessageShape<Desc> => fromJson(response, json, { ignoreUnknownFields: true });
  const { result } = plan;
  switch (result.kind) {
    case "single":
    case "count":
      return rows[0] === undefined ? undefined : read(rows[0].row);
    case "stream":
      throw new Error("a streaming plan: use runStream");
    case "many": {
      const values = bindParameters(plan, request);
      const countOf = (source: typeof result.limit): number | null =>
        source === undefined ? null : source.kind === "literal" ? source.value : values[source.index] === null ? null : Number(values[source.index]);
      const limit = countOf(result.limit);
      const offset = countOf(result.offset) ?? 0;
      const hasMore = result.fetchesOneMore && limit !== null && rows.length > limit;
      const page = hasMore ? rows.slice(0, limit) : rows;
      const json: JsonObject = { [result.field.name]: page.map((r) => r.row) };
      if (result.hasMore) json[result.hasMore.name] = hasMore;
      if (result.nextPageToken) json[result.nextPageToken.name] = hasMore && limit !== null ? encodePageToken(offset + limit) : "";
      if (result.totalCount) {
        let total = rows[0]?.total_count;
        if (total === undefined && result.countQuery !== undefined) {
          const counted = await db.query<{ total_count: number | bigint | string }>(result.countQuery.sql, result.countQuery.parameters.map((p) => bindParameter(p, request)));
          total = Number(counted.rows[0]?.total_count ?? 0);
        }
        json[result.totalCount.name] = Number(total ?? 0);
      }
      return read(json);
    }
  }
}

/** Runs a streaming plan's `byKey` query: the response for row `key` as it is now, or undefined when it does not match. */
export async function runByKey<Desc extends DescMessage>(db: SqlDatabase, plan: CompiledViewQuery, request: object, key: string, response: Desc): Promise<MessageShape<Desc> | undefined> {
  if (plan.result.kind !== "stream") throw new Error(`a ${plan.result.kind} plan has no byKey query`);
  const { sql, parameters } = plan.result.byKey;
  const { rows } = await db.query<{ row: JsonObject }>(sql, parameters.map((p) => bindParameter(p, request, key)));
  return rows[0] === undefined ? undefined : fromJson(response, rows[0].row, { ignoreUnknownFields: true });
}

/** Runs a streaming plan: one response per row. */
export async function runStream<Desc extends DescMessage>(db: SqlDatabase, plan: CompiledViewQuery, request: object, response: Desc): Promise<MessageShape<Desc>[]> {
  if (plan.result.kind !== "stream") throw new Error(`a ${plan.result.kind} plan: use runUnary`);
  const { rows } = await db.query<{ row: JsonObject }>(plan.sql, bindParameters(plan, request));
  return rows.map((r) => fromJson(response, r.row, { ignoreUnknownFields: true }));
}
