import type { DescField } from "@bufbuild/protobuf";
import type {
  CheckedColumn,
  CheckedCondition,
  CheckedCount,
  CheckedOperand,
  CheckedParam,
  CheckedProjection,
  CheckedQuery,
  CheckedTable,
} from "./checked-query.js";
import type { CompiledViewQuery, CountSource, IndexSuggestion, QueryParameter, QueryResultShape, ResponseField } from "./compiled-view-query.js";
import { coercionFor } from "./parameter-coercion.js";
import { castFor, columnValue, jsonPath, textPath, typedValue } from "./sql-expressions.js";
import { viewTableName } from "./view-table-name.js";

/** Where the compiled SQL finds the view's tables. */
export interface CompileOptions {
  /** The view's name (its component id); with a table's name it gives the SQL table, see {@link viewTableName}. */
  readonly view: string;
}

/**
 * Compiles a checked view query into a JSON plan: PostgreSQL with `$1..$n`
 * placeholders (request values and string literals are always bound, never
 * spliced), how to bind each one, what the rows become, and the indexes the
 * query wants.
 *
 * @example
 * const plan = compileViewQuery(checkViewQuery(parseViewQuery(query), context), { view: "customers_view" });
 * // plan.sql: SELECT t0.row AS row FROM "view_customers_view__customers" AS t0 WHERE ... = $1::text ...
 */
export function compileViewQuery(checked: CheckedQuery, options: CompileOptions): CompiledViewQuery {
  return new Compiler(checked, options).compile();
}

type Use = IndexSuggestion["uses"][number];

class Compiler {
  readonly #q: CheckedQuery;
  readonly #options: CompileOptions;
  readonly #sqlNames: string[];
  readonly #parameters: QueryParameter[] = [];
  readonly #placeholders = new Map<string, number>();
  readonly #indexes = new Map<string, { table: CheckedTable; method: "btree" | "gin"; expression: string; opclass?: string | undefined; uses: Set<Use> }>();
  #elements = 0;

  constructor(checked: CheckedQuery, options: CompileOptions) {
    this.#q = checked;
    this.#options = options;
    this.#sqlNames = checked.tables.map((t) => viewTableName(options.view, t.name));
  }

  compile(): CompiledViewQuery {
    const q = this.#q;
    const { result } = q;
    const grouped = q.collected !== undefined;
    const rowSql = result.kind === "count" ? `jsonb_build_object('${result.field.name}', count(*))` : this.#projection(result.projection);
    const columns = [`${rowSql} AS row`];
    if (result.kind === "many" && result.totalCount !== undefined) columns.push("count(*) OVER () AS total_count");

    const from = [`FROM ${this.#sqlNames[0]} AS t0`];
    if (q.join !== undefined) {
      const left = this.#column(q.join.left, "join");
      const right = this.#column(q.join.right, "join");
      from.push(`${q.join.type === "left" ? "LEFT JOIN" : "JOIN"} ${this.#sqlNames[1]} AS t1 ON ${left} = ${right}`);
    }
    const where = q.where === undefined ? undefined : this.#condition(q.where);
    const limit = q.limit === undefined ? undefined : this.#count(q.limit, "limit");
    const offset = q.offset === undefined ? undefined : this.#count(q.offset, "offset");
    const fetchesOneMore = result.kind === "many" && limit !== undefined && (result.hasMore !== undefined || result.nextPageToken !== undefined);

    const order = q.orderBy.map(({ column, descending }) => `${this.#sortKey(column)}${descending ? " DESC" : ""}`);
    const paged = q.orderBy.length > 0 || limit !== undefined || offset !== undefined;
    let orderSql: string[] = [];
    if (q.distinct) {
      // DISTINCT needs its ORDER BY keys in the select list; they are functions of the selected columns.
      order.forEach((o, i) => columns.push(`${o.replace(/ DESC$/, "")} AS o${i + 1}`));
      orderSql = q.orderBy.map((o, i) => `o${i + 1}${o.descending ? " DESC" : ""}`);
      if (paged) orderSql.push("row");
    } else if (paged) {
      // The keys make the order total, so pages neither overlap nor skip rows.
      orderSql = [...order, "t0.key", ...(q.join !== undefined && !grouped ? ["t1.key"] : [])];
    }

    const sql = [`SELECT ${q.distinct ? "DISTINCT " : ""}${columns.join(", ")}`, ...from];
    if (where !== undefined) sql.push(`WHERE ${where}`);
    if (grouped) sql.push("GROUP BY t0.key");
    if (orderSql.length > 0) sql.push(`ORDER BY ${orderSql.join(", ")}`);
    if (limit !== undefined) sql.push(`LIMIT ${limit.sql}${fetchesOneMore ? " + 1" : ""}`);
    else if (result.kind === "single") sql.push("LIMIT 1");
    if (offset !== undefined) sql.push(`OFFSET ${offset.sql}`);

    return {
      version: 1,
      query: q.text,
      rowEncoding: "protobuf-json-proto-names",
      sql: sql.join(" "),
      parameters: this.#parameters,
      result: this.#shape(limit?.source, offset?.source, fetchesOneMore),
      tables: q.tables.map((t, i) => ({ name: t.name, sqlName: this.#sqlNames[i] as string, rowType: t.row.typeName })),
      indexes: [...this.#indexes.values()].map((ix) => this.#suggestion(ix)),
    };
  }

  /** The query restricted to the FROM table's row with one key, without ORDER BY, LIMIT and OFFSET. */
  #forKey(): { sql: string; parameters: QueryParameter[] } {
    const q = this.#q;
    if (q.result.kind === "count") throw new Error("a count has no rows by key");
    const select = `SELECT ${q.distinct ? "DISTINCT " : ""}${this.#projection(q.result.projection)} AS row`;
    const sql = [select, ...this.#filtered(() => `t0.key = ${this.#bind("row-key", { kind: "row-key" })}::text`)];
    if (q.collected !== undefined) sql.push("GROUP BY t0.key");
    return { sql: sql.join(" "), parameters: this.#parameters };
  }

  /** The number of result rows of the query without LIMIT and OFFSET. */
  #forCount(): { sql: string; parameters: QueryParameter[] } {
    const counted = this.#q.collected !== undefined ? "count(DISTINCT t0.key)" : "count(*)";
    return { sql: [`SELECT ${counted} AS total_count`, ...this.#filtered()].join(" "), parameters: this.#parameters };
  }

  /** FROM, JOIN and WHERE of the query, with `extra` ANDed to the condition (bound after it). */
  #filtered(extra?: () => string): string[] {
    const q = this.#q;
    const sql = [`FROM ${this.#sqlNames[0]} AS t0`];
    if (q.join !== undefined) {
      sql.push(`${q.join.type === "left" ? "LEFT JOIN" : "JOIN"} ${this.#sqlNames[1]} AS t1 ON ${this.#column(q.join.left, undefined)} = ${this.#column(q.join.right, undefined)}`);
    }
    const conditions = [...(q.where === undefined ? [] : [this.#condition(q.where)]), ...(extra === undefined ? [] : [extra()])];
    if (conditions.length > 0) sql.push(`WHERE ${conditions.join(" AND ")}`);
    return sql;
  }

  #shape(limit: CountSource | undefined, offset: CountSource | undefined, fetchesOneMore: boolean): QueryResultShape {
    const { result } = this.#q;
    if (result.kind === "stream") return { kind: "stream", byKey: new Compiler(this.#q, this.#options).#forKey() };
    if (result.kind !== "many") return { kind: result.kind };
    // Keys are left out rather than undefined: the plan is embedded as a JSON constant.
    return {
      kind: "many",
      field: responseField(result.field),
      ...(limit && { limit }),
      ...(offset && { offset }),
      fetchesOneMore,
      ...(result.nextPageToken && { nextPageToken: responseField(result.nextPageToken) }),
      ...(result.hasMore && { hasMore: responseField(result.hasMore) }),
      ...(result.totalCount && { totalCount: responseField(result.totalCount), countQuery: new Compiler(this.#q, this.#options).#forCount() }),
    };
  }

  #projection(projection: CheckedProjection): string {
    if (projection.kind === "row") return `t${projection.table.index}.row`;
    const parts: string[] = [];
    const pairs: string[] = [];
    for (const entry of projection.entries) {
      if (entry.kind === "spread") parts.push(`t${entry.table.index}.row`);
      else if (entry.kind === "field") pairs.push(`'${entry.target.name}', ${jsonPath(`t${entry.column.table.index}.row`, entry.column.fields.map((f) => f.name))}`);
      else {
        const t = `t${entry.table.index}`;
        pairs.push(`'${entry.target.name}', coalesce(jsonb_agg(${t}.row ORDER BY ${t}.key) FILTER (WHERE ${t}.key IS NOT NULL), '[]'::jsonb)`);
      }
    }
    // jsonb_build_object takes at most 100 arguments.
    for (let i = 0; i < pairs.length; i += 50) parts.push(`jsonb_build_object(${pairs.slice(i, i + 50).join(", ")})`);
    if (parts.length === 0) return "'{}'::jsonb";
    return parts.length === 1 ? (parts[0] as string) : `(${parts.join(" || ")})`;
  }

  #condition(c: CheckedCondition): string {
    switch (c.kind) {
      case "and":
      case "or":
        return `(${this.#condition(c.left)} ${c.kind.toUpperCase()} ${this.#condition(c.right)})`;
      case "not":
        return `(NOT ${this.#condition(c.operand)})`;
      case "compare":
        return `${this.#operand(c.left, "filter")} ${c.op === "!=" ? "<>" : c.op} ${this.#operand(c.right, "filter")}`;
      case "in": {
        const list = c.list.map((v) => this.#operand(v, "filter")).join(", ");
        return `${this.#column(c.value, "filter")} ${c.negated ? "NOT IN" : "IN"} (${list})`;
      }
      case "any-param": {
        const value = this.#operand(c.value, "filter");
        const type = c.value.kind === "column" ? c.value.column.type : c.param.type;
        return `${value} = ANY(ARRAY(SELECT jsonb_array_elements_text(${this.#param(c.param, "list")}::jsonb))::${castFor(type)}[])`;
      }
      case "any-column": {
        const { column } = c;
        const at = column.repeatedAt as number;
        const names = column.fields.map((f) => f.name);
        const e = `e${++this.#elements}`;
        const element = typedValue(textPath(`${e}.v`, names.slice(at + 1)), column.type);
        const array = jsonPath(`t${column.table.index}.row`, names.slice(0, at + 1));
        return `EXISTS (SELECT 1 FROM jsonb_array_elements(${array}) AS ${e}(v) WHERE ${element} = ${this.#operand(c.value, "filter")})`;
      }
      case "is-null":
        return `${jsonPath(`t${c.value.table.index}.row`, c.value.fields.map((f) => f.name))} IS ${c.negated ? "NOT " : ""}NULL`;
      case "like":
        return `${this.#column(c.value, "like")} ${c.negated ? "NOT LIKE" : "LIKE"} ${this.#operand(c.pattern, "filter")} ESCAPE '\\'`;
      case "text-search": {
        const vector = `to_tsvector('simple', ${columnValue(c.value, `t${c.value.table.index}.row`)})`;
        this.#index(c.value.table, "gin", `to_tsvector('simple', ${columnValue(c.value, "row")})`, "text-search");
        return `${vector} @@ websearch_to_tsquery('simple', ${this.#operand(c.query, "filter")})`;
      }
      case "truth":
        return this.#column(c.value, undefined);
    }
  }

  #operand(o: CheckedOperand, use: Use): string {
    if (o.kind === "column") return this.#column(o.column, use);
    if (o.kind === "param") return `${this.#param(o.param)}::${castFor(o.param.type)}`;
    const { literal } = o;
    if (literal.kind === "bool") return literal.value ? "true" : "false";
    // The lexer only lets digits, one dot, an exponent and a leading minus through.
    if (literal.kind === "number") return `${literal.value}`.startsWith("-") ? `(${literal.value})` : `${literal.value}`;
    return `${this.#bind(`literal:${String(literal.value)}`, { kind: "literal", value: String(literal.value) })}::text`;
  }

  /** A column to order by: enums by their numbers, as protobuf declares them, not by name. */
  #sortKey(column: CheckedColumn): string {
    if (column.type.kind !== "enum") return this.#column(column, "sort");
    const key = (base: string): string => enumNumber(columnValue(column, base), column.type.enum?.values ?? []);
    this.#index(column.table, "btree", key("row"), "sort");
    return key(`t${column.table.index}.row`);
  }

  #column(column: CheckedColumn, use: Use | undefined): string {
    if (use !== undefined) {
      const opclass = use === "like" ? "text_pattern_ops" : undefined;
      this.#index(column.table, "btree", columnValue(column, "row"), use, opclass);
    }
    return columnValue(column, `t${column.table.index}.row`);
  }

  #param(param: CheckedParam, as?: "list" | "limit" | "offset" | "page-token"): string {
    const coercion = coercionFor(param.type, as);
    const field = { names: param.fields.map((f) => f.name), localNames: param.fields.map((f) => f.localName) };
    // An unset parent message reads as a parent whose fields all have their defaults.
    const nullable = !param.type.repeated && param.type.presence;
    return this.#bind(`request:${param.path}:${JSON.stringify(coercion)}`, { kind: "request", field, coercion, nullable });
  }

  #count(count: CheckedCount, clause: "limit" | "offset"): { sql: string; source: CountSource } {
    if (count.kind === "literal") return { sql: String(count.value), source: count };
    const placeholder = this.#param(count.param, count.kind === "page-token" ? "page-token" : clause);
    return { sql: `${placeholder}::bigint`, source: { kind: "parameter", index: Number(placeholder.slice(1)) - 1 } };
  }

  #bind(key: string, parameter: QueryParameter): string {
    let index = this.#placeholders.get(key);
    if (index === undefined) {
      this.#parameters.push(parameter);
      index = this.#parameters.length;
      this.#placeholders.set(key, index);
    }
    return `$${index}`;
  }

  #index(table: CheckedTable, method: "btree" | "gin", expression: string, use: Use, opclass?: string): void {
    const key = `${table.index}:${method}:${opclass ?? ""}:${expression}`;
    const entry = this.#indexes.get(key) ?? { table, method, expression, opclass, uses: new Set<Use>() };
    entry.uses.add(use);
    this.#indexes.set(key, entry);
  }

  #suggestion(ix: { table: CheckedTable; method: "btree" | "gin"; expression: string; opclass?: string | undefined; uses: Set<Use> }): IndexSuggestion {
    const sqlTable = this.#sqlNames[ix.table.index] as string;
    const name = `${sqlTable.slice(1, -1).slice(0, 50)}_${shortHash(`${ix.method}${ix.opclass ?? ""}${ix.expression}`)}`;
    const key = `(${ix.expression})${ix.opclass === undefined ? "" : ` ${ix.opclass}`}`;
    return {
      table: ix.table.name,
      sqlTable,
      method: ix.method,
      expression: ix.expression,
      ...(ix.opclass !== undefined && { opclass: ix.opclass }),
      uses: [...ix.uses],
      sql: `CREATE INDEX IF NOT EXISTS "${name}" ON ${sqlTable} USING ${ix.method} (${key})`,
    };
  }
}

/** The number of the enum value named by `name` (SQL); a value stored as a number (unknown to the schema) casts. */
function enumNumber(name: string, values: readonly { readonly name: string; readonly number: number }[]): string {
  // Value names are proto identifiers, safe to write as SQL string literals.
  const cases = values.map((v) => `WHEN '${v.name}' THEN ${v.number}`).join(" ");
  return `(CASE ${name} ${cases} ELSE CASE WHEN ${name} ~ '^-?[0-9]+$' THEN (${name})::integer END END)`;
}

function responseField(field: DescField): ResponseField {
  return { name: field.name, localName: field.localName };
}

/** 8 hex digits of FNV-1a: stable index names without a crypto import per call. */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
