// A view query after type checking: every name resolved to a table, a field
// path or a request field, every comparison known to fit. `compileViewQuery`
// turns it into SQL without looking anything up again.
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import type { ComparisonOp } from "./view-query-ast.js";
import type { ValueType } from "./value-type.js";

/** A table of the view as the query uses it: 0 is the FROM table, 1 the joined one. */
export interface CheckedTable {
  readonly index: 0 | 1;
  readonly name: string;
  readonly row: DescMessage;
}

/** A column: a field path in a table's row message. */
export interface CheckedColumn {
  readonly table: CheckedTable;
  /** The fields from the row message down to the column. */
  readonly fields: readonly DescField[];
  /** Index in `fields` of the repeated field the path goes through, if any (at most one). */
  readonly repeatedAt?: number | undefined;
  /** The column's type; for a path through a repeated field, the type of one element's value. */
  readonly type: ValueType;
  /** The path as written, without the table: "address.city". */
  readonly path: string;
}

/** A request field used as a parameter. */
export interface CheckedParam {
  readonly fields: readonly DescField[];
  readonly type: ValueType;
  readonly path: string;
}

/** A literal, already checked against the type it is compared with. */
export interface CheckedLiteral {
  readonly type: ValueType;
  /** Strings (and enum names, timestamps) are bound as parameters; numbers and bools are written into the SQL. */
  readonly value: string | boolean;
  /** For numbers, the literal as written (validated digits). */
  readonly kind: "string" | "number" | "bool";
}

/** One side of a comparison. */
export type CheckedOperand =
  | { readonly kind: "column"; readonly column: CheckedColumn }
  | { readonly kind: "param"; readonly param: CheckedParam }
  | { readonly kind: "literal"; readonly literal: CheckedLiteral };

/** A WHERE condition with its operands resolved. */
export type CheckedCondition =
  | { readonly kind: "and" | "or"; readonly left: CheckedCondition; readonly right: CheckedCondition }
  | { readonly kind: "not"; readonly operand: CheckedCondition }
  | { readonly kind: "compare"; readonly op: ComparisonOp; readonly left: CheckedOperand; readonly right: CheckedOperand }
  /** A value against the elements of a repeated parameter (`col = ANY(:ids)`). */
  | { readonly kind: "any-param"; readonly value: CheckedOperand; readonly param: CheckedParam }
  /** A value among the elements of a repeated column (`:tag = ANY(tags)`). */
  | { readonly kind: "any-column"; readonly value: CheckedOperand; readonly column: CheckedColumn }
  | { readonly kind: "in"; readonly value: CheckedColumn; readonly list: readonly CheckedOperand[]; readonly negated: boolean }
  | { readonly kind: "is-null"; readonly value: CheckedColumn; readonly negated: boolean }
  | { readonly kind: "like"; readonly value: CheckedColumn; readonly pattern: CheckedOperand; readonly negated: boolean }
  | { readonly kind: "text-search"; readonly value: CheckedColumn; readonly query: CheckedOperand }
  | { readonly kind: "truth"; readonly value: CheckedColumn };

/** How one result row is built as protobuf JSON. */
export type CheckedProjection =
  /** The stored row of a table as it is. */
  | { readonly kind: "row"; readonly table: CheckedTable }
  /** An object of the target message's fields. */
  | { readonly kind: "object"; readonly entries: readonly ProjectionEntry[] };

/** One part of an object projection. */
export type ProjectionEntry =
  /** All of a table's row fields that the target message has (`customers.*`). */
  | { readonly kind: "spread"; readonly table: CheckedTable }
  | { readonly kind: "field"; readonly target: DescField; readonly column: CheckedColumn }
  /** The joined table's rows as an array (`collect(orders) AS orders`). */
  | { readonly kind: "collect"; readonly target: DescField; readonly table: CheckedTable };

/** LIMIT or OFFSET. */
export type CheckedCount =
  | { readonly kind: "literal"; readonly value: number }
  | { readonly kind: "param"; readonly param: CheckedParam }
  | { readonly kind: "page-token"; readonly param: CheckedParam };

/** What the method answers with. */
export type CheckedResult =
  /** A unary method answering with one row (NOT_FOUND when there is none). */
  | { readonly kind: "single"; readonly projection: CheckedProjection }
  /** A server-streaming method sending one response per row. */
  | { readonly kind: "stream"; readonly projection: CheckedProjection }
  /** A unary method answering with every row in a repeated field, plus paging fields. */
  | {
      readonly kind: "many";
      readonly field: DescField;
      readonly projection: CheckedProjection;
      readonly nextPageToken?: DescField | undefined;
      readonly hasMore?: DescField | undefined;
      readonly totalCount?: DescField | undefined;
    }
  /** A unary method answering with the number of matching rows. */
  | { readonly kind: "count"; readonly field: DescField };

/** A type-checked view query: the input of `compileViewQuery`. */
export interface CheckedQuery {
  readonly text: string;
  readonly tables: readonly CheckedTable[];
  readonly join?: { readonly type: "inner" | "left"; readonly left: CheckedColumn; readonly right: CheckedColumn } | undefined;
  readonly distinct: boolean;
  readonly where?: CheckedCondition | undefined;
  readonly orderBy: readonly { readonly column: CheckedColumn; readonly descending: boolean }[];
  readonly limit?: CheckedCount | undefined;
  readonly offset?: CheckedCount | undefined;
  readonly result: CheckedResult;
  /** The joined table whose rows are collected, if `collect()` is used: rows are grouped by the FROM table's key. */
  readonly collected?: CheckedTable | undefined;
}
