// The plan of a view query: plain JSON, so generated code can embed it as a
// constant and the runtime can run it without parsing anything.

/** A field of the request or response, by proto name and by protobuf-es property name. */
export interface FieldPath {
  /** Proto field names from the message down, e.g. ["filter", "city"]. */
  readonly names: readonly string[];
  /** The same fields' protobuf-es property names (localName), e.g. ["filter", "city"]. */
  readonly localNames: readonly string[];
}

/** A coercion of one scalar request value into the text bound for its placeholder. */
export type ScalarCoercion =
  /** The string as is. */
  | { readonly kind: "string" }
  /** A number or bigint in decimal (NaN and ±Infinity as "NaN", "Infinity", "-Infinity"). */
  | { readonly kind: "number" }
  /** "true" or "false". */
  | { readonly kind: "bool" }
  /** The enum value's name from `names` (number → name); an unknown number in decimal. */
  | { readonly kind: "enum"; readonly names: Readonly<Record<string, string>> }
  /** A google.protobuf.Timestamp in the fixed-width UTC form "2024-05-01T12:00:00.500000000". */
  | { readonly kind: "timestamp" };

/** How the runtime turns a request value into the text bound for its placeholder. */
export type Coercion =
  | ScalarCoercion
  /** A repeated field: a JSON array of its elements, each coerced as `element` (as JSON strings). */
  | { readonly kind: "list"; readonly element: ScalarCoercion }
  /** LIMIT: a whole number; 0 (the unset default) binds null, which is no limit; negative is INVALID_ARGUMENT. */
  | { readonly kind: "limit" }
  /** OFFSET: a whole number; negative is INVALID_ARGUMENT. */
  | { readonly kind: "offset" }
  /** An opaque page token: "" is offset 0, else base64url of the offset in decimal; anything else is INVALID_ARGUMENT. */
  | { readonly kind: "page-token" };

/** The value bound for one placeholder: `parameters[i]` is `$<i+1>`. Every value is bound as text (or null); the SQL casts it. */
export type QueryParameter =
  | {
      readonly kind: "request";
      readonly field: FieldPath;
      readonly coercion: Coercion;
      /** The field can be unset (message, optional, wrapper): unset binds null. Otherwise unset reads as the default. */
      readonly nullable: boolean;
    }
  /** A string literal of the query, bound rather than spliced into the SQL. */
  | { readonly kind: "literal"; readonly value: string }
  /** The key of one row of the FROM table (only in `byKey` of a stream). */
  | { readonly kind: "row-key" };

/** Where a LIMIT or OFFSET comes from, so the runtime knows the page it served. */
export type CountSource =
  | { readonly kind: "literal"; readonly value: number }
  /** The coerced value of `parameters[index]` (null for an unset limit: no limit). */
  | { readonly kind: "parameter"; readonly index: number };

/** A field of the response message. */
export interface ResponseField {
  readonly name: string;
  readonly localName: string;
}

/**
 * What the rows of the SQL become. Every row has a jsonb column `row`: the
 * protobuf JSON of one result message (read it with `fromJson(schema, row,
 * { ignoreUnknownFields: true })`), and `total_count` when `totalCount` is set.
 */
export type QueryResultShape =
  /** Unary: the first row is the response; no row is NOT_FOUND. */
  | { readonly kind: "single" }
  /** Unary, always one row (count(*)): the row is the response. */
  | { readonly kind: "count" }
  /**
   * Server streaming: every row is one response, in order. `byKey` is the same query for the
   * FROM table's row with one key, to learn after a change whether (and as what) that row
   * matches now, for streaming updates. With a JOIN, a change in the joined table needs a
   * re-run for the FROM rows it joins.
   */
  | { readonly kind: "stream"; readonly byKey: { readonly sql: string; readonly parameters: readonly QueryParameter[] } }
  /** Unary: the rows go into the repeated field `field` of one response. */
  | {
      readonly kind: "many";
      readonly field: ResponseField;
      readonly limit?: CountSource | undefined;
      readonly offset?: CountSource | undefined;
      /**
       * The SQL asks for LIMIT + 1 rows: with more than LIMIT rows, drop the extra row, set
       * `hasMore` true, and `nextPageToken` to base64url(offset + LIMIT); otherwise false and "".
       */
      readonly fetchesOneMore: boolean;
      readonly nextPageToken?: ResponseField | undefined;
      readonly hasMore?: ResponseField | undefined;
      /**
       * Filled from the `total_count` column of the first row; when the page is empty (an offset
       * past the end), from `countQuery`, which counts the matching rows with its own parameters.
       */
      readonly totalCount?: ResponseField | undefined;
      readonly countQuery?: { readonly sql: string; readonly parameters: readonly QueryParameter[] } | undefined;
    };

/** A table of the view that the SQL reads: `CREATE TABLE <sqlName> (key text primary key, row jsonb not null)`. */
export interface QueryTable {
  readonly name: string;
  readonly sqlName: string;
  /** Full name of the row message. */
  readonly rowType: string;
}

/** An index the query wants, on an expression over the table's `row`. */
export interface IndexSuggestion {
  readonly table: string;
  readonly sqlTable: string;
  readonly method: "btree" | "gin";
  /** The indexed expression, exactly as the query's SQL computes it (so the planner can use it). */
  readonly expression: string;
  /** An operator class, for LIKE prefix patterns ("text_pattern_ops"). */
  readonly opclass?: string | undefined;
  /** Why: the query filters, joins, sorts, LIKE-matches or text-searches on it. */
  readonly uses: readonly ("filter" | "join" | "sort" | "like" | "text-search")[];
  /** A ready statement: CREATE INDEX IF NOT EXISTS ... */
  readonly sql: string;
}

/** A compiled view query: SQL for PostgreSQL with `$1..$n` placeholders, how to bind them, and what the rows become. */
export interface CompiledViewQuery {
  /** The plan format; bumped when the runtime must read plans differently. */
  readonly version: 1;
  /** The query as written in the proto. */
  readonly query: string;
  /** Rows are stored as protobuf JSON with proto field names (`toJson(schema, row, { useProtoFieldName: true })`). */
  readonly rowEncoding: "protobuf-json-proto-names";
  readonly sql: string;
  readonly parameters: readonly QueryParameter[];
  readonly result: QueryResultShape;
  readonly tables: readonly QueryTable[];
  readonly indexes: readonly IndexSuggestion[];
  /**
   * Set when the query has `stream_updates`: the stream stays open, and each
   * matching row is sent again when it changes; a row that stops matching is
   * sent as a response with only `keyField` (its localName) set to the row's key.
   */
  readonly streamUpdates?: { readonly keyField: string };
}
