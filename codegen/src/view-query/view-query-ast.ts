// The syntax tree of a view query, as parsed and before any type checking.
// Every node carries the 1-based column where it starts in the query string.

/** A name as written, with its position. */
export interface Name {
  readonly name: string;
  readonly column: number;
}

/** A column: a field path, optionally qualified by a table (`customers.address.city`); resolved by the checker. */
export interface ColumnAst {
  readonly kind: "column";
  readonly path: readonly Name[];
  readonly column: number;
}

/** A request field: `:page_size`, `:filter.city`. */
export interface ParamAst {
  readonly kind: "param";
  readonly path: readonly Name[];
  readonly column: number;
}

/** A literal constant. Numbers keep their text; strings are unescaped. */
export type LiteralAst =
  | { readonly kind: "string"; readonly value: string; readonly column: number }
  | { readonly kind: "number"; readonly text: string; readonly column: number }
  | { readonly kind: "bool"; readonly value: boolean; readonly column: number };

/** A value on either side of a comparison. */
export type OperandAst = ColumnAst | ParamAst | LiteralAst;

/** A comparison operator, with `<>` read as `!=`. */
export type ComparisonOp = "=" | "!=" | "<" | "<=" | ">" | ">=";

/** A WHERE condition. */
export type ConditionAst =
  | { readonly kind: "and" | "or"; readonly left: ConditionAst; readonly right: ConditionAst; readonly column: number }
  | { readonly kind: "not"; readonly operand: ConditionAst; readonly column: number }
  | { readonly kind: "compare"; readonly op: ComparisonOp; readonly left: OperandAst; readonly right: OperandAst; readonly column: number }
  /** `x = ANY(y)`: a value against a repeated parameter, or a value in a repeated column. */
  | { readonly kind: "any"; readonly value: OperandAst; readonly array: ColumnAst | ParamAst; readonly column: number }
  | { readonly kind: "in"; readonly value: ColumnAst; readonly list: readonly (ParamAst | LiteralAst)[]; readonly negated: boolean; readonly column: number }
  | { readonly kind: "is-null"; readonly value: ColumnAst; readonly negated: boolean; readonly column: number }
  | { readonly kind: "like"; readonly value: ColumnAst; readonly pattern: ParamAst | LiteralAst; readonly negated: boolean; readonly column: number }
  | { readonly kind: "text-search"; readonly value: ColumnAst; readonly query: ParamAst | LiteralAst; readonly column: number }
  /** A bare boolean column used as a condition: `WHERE active`. */
  | { readonly kind: "truth"; readonly value: ColumnAst; readonly column: number };

/** The functions that fill paging fields of the response. */
export type PageFunction = "next_page_token" | "has_more" | "total_count";

/** One entry of the select list. */
export type SelectItemAst =
  /** `*`, `customers.*`, `* AS customers`. */
  | { readonly kind: "star"; readonly table?: Name | undefined; readonly alias?: Name | undefined; readonly column: number }
  | { readonly kind: "column"; readonly value: ColumnAst; readonly alias?: Name | undefined; readonly column: number }
  /** `(name, email) AS customers`: each row projected into an element of a repeated field. */
  | { readonly kind: "group"; readonly items: readonly SelectItemAst[]; readonly alias: Name; readonly column: number }
  /** `collect(orders) AS orders`: the joined rows nested into a repeated field. */
  | { readonly kind: "collect"; readonly table: Name; readonly alias: Name; readonly column: number }
  | { readonly kind: "page"; readonly fn: PageFunction; readonly alias?: Name | undefined; readonly column: number }
  | { readonly kind: "count"; readonly alias?: Name | undefined; readonly column: number };

/** `JOIN orders ON orders.customer_id = customers.customer_id`. */
export interface JoinAst {
  readonly type: "inner" | "left";
  readonly table: Name;
  readonly left: ColumnAst;
  readonly right: ColumnAst;
  readonly column: number;
}

/** One ORDER BY key. */
export interface OrderAst {
  readonly value: ColumnAst;
  readonly descending: boolean;
}

/** LIMIT and OFFSET take a literal, a parameter, or (OFFSET only) `page_token_offset(:token)`. */
export type CountAst =
  | { readonly kind: "number"; readonly text: string; readonly column: number }
  | ParamAst
  | { readonly kind: "page-token"; readonly token: ParamAst; readonly column: number };

/** A parsed view query. */
export interface QueryAst {
  /** The query string the positions refer to. */
  readonly text: string;
  readonly distinct: boolean;
  readonly select: readonly SelectItemAst[];
  readonly from: Name;
  readonly join?: JoinAst | undefined;
  readonly where?: ConditionAst | undefined;
  readonly orderBy: readonly OrderAst[];
  readonly limit?: CountAst | undefined;
  readonly offset?: CountAst | undefined;
}
