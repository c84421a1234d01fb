// Runs the compiled plans of view queries: binds every parameter as text (the
// SQL casts it), runs the SQL, and turns the `row` column back into messages.
import { fromJson } from "@bufbuild/protobuf";
import type { DescMessage, JsonObject, JsonValue, MessageShape } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { CompiledViewQuery, QueryParameter, ScalarCoercion } from "@orrery/sdk";

/** Runs one statement with its parameters and returns its rows. */
export type RunSql = <Row>(sql: string, parameters: readonly (string | null)[]) => Promise<Row[]>;

/** A bad request value (negative LIMIT, malformed page token): INVALID_ARGUMENT on the wire. */
export class InvalidQueryArgument extends Error {
  override readonly name = "InvalidQueryArgument";
}

/** The text (or null) bound for each `$n` of `plan`, from `request`. */
export function bindParameters(plan: CompiledViewQuery, request: object): (string | null)[] {
  return plan.parameters.map((p) => bindParameter(p, request));
}

/** The text (or null) bound for one parameter; `key` is the row key of a `byKey` query. */
export function bindParameter(p: QueryParameter, request: object, key?: string): string | null {
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
      if (n < 0) throw new InvalidQueryArgument(`${path} must not be negative, got ${n}`);
      return p.coercion.kind === "limit" && n === 0 ? null : String(n);
    }
    case "page-token":
      return String(decodePageToken(String(value ?? ""), path));
    case "list": {
      const { element } = p.coercion;
      return JSON.stringify(((value as unknown[] | undefined) ?? []).map((v) => scalar(v, element)));
    }
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

/** The page token for a page that starts at `offset`: opaque to callers. */
export function encodePageToken(offset: number): string {
  return Buffer.from(String(offset)).toString("base64url");
}

function decodePageToken(token: string, path: string): number {
  if (token === "") return 0;
  const text = Buffer.from(token, "base64url").toString();
  if (!/^(0|[1-9][0-9]*)$/.test(text) || encodePageToken(Number(text)) !== token) {
    throw new InvalidQueryArgument(`${path} is not a page token of this query; pass the next_page_token of the previous page, or "" for the first`);
  }
  return Number(text);
}

/** Runs a unary plan and builds its response; undefined is NOT_FOUND. */
export async function runUnaryQuery<Desc extends DescMessage>(run: RunSql, plan: CompiledViewQuery, request: object, response: Desc): Promise<MessageShape<Desc> | undefined> {
  const values = bindParameters(plan, request);
  const rows = await run<{ row: JsonObject; total_count?: number | bigint | string }>(plan.sql, values);
  const read = (json: JsonValue): MessageShape<Desc> => fromJson(response, json, { ignoreUnknownFields: true });
  const { result } = plan;
  switch (result.kind) {
    case "single":
    case "count":
      return rows[0] === undefined ? undefined : read(rows[0].row);
    case "stream":
      throw new Error("a streaming plan: use runStreamQuery");
    case "many": {
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
          const counted = await run<{ total_count: number | bigint | string }>(result.countQuery.sql, result.countQuery.parameters.map((p) => bindParameter(p, request)));
          total = counted[0]?.total_count ?? 0;
        }
        json[result.totalCount.name] = Number(total ?? 0);
      }
      return read(json);
    }
  }
}

/** Runs a streaming plan's `byKey` query: the response for row `key` as it is now, or undefined when it does not match. */
export async function runByKeyQuery<Desc extends DescMessage>(run: RunSql, plan: CompiledViewQuery, request: object, key: string, response: Desc): Promise<MessageShape<Desc> | undefined> {
  if (plan.result.kind !== "stream") throw new Error(`a ${plan.result.kind} plan has no byKey query`);
  const { sql, parameters } = plan.result.byKey;
  const rows = await run<{ row: JsonObject }>(sql, parameters.map((p) => bindParameter(p, request, key)));
  return rows[0] === undefined ? undefined : fromJson(response, rows[0].row, { ignoreUnknownFields: true });
}

/** Runs a streaming plan: one response per row. */
export async function runStreamQuery<Desc extends DescMessage>(run: RunSql, plan: CompiledViewQuery, request: object, response: Desc): Promise<MessageShape<Desc>[]> {
  if (plan.result.kind !== "stream") throw new Error(`a ${plan.result.kind} plan: use runUnaryQuery`);
  const rows = await run<{ row: JsonObject }>(plan.sql, bindParameters(plan, request));
  return rows.map((r) => fromJson(response, r.row, { ignoreUnknownFields: true }));
}
