import type { DescMessage } from "@bufbuild/protobuf";
import { checkCondition } from "./check-condition.js";
import { checkSelection } from "./check-selection.js";
import type { CheckedColumn, CheckedCount, CheckedQuery, CheckedTable } from "./checked-query.js";
import { createQueryScope } from "./query-scope.js";
import type { QueryScope } from "./query-scope.js";
import type { ColumnAst, CountAst, QueryAst } from "./view-query-ast.js";
import { describeKind, describeType } from "./value-type.js";

/** What a query is checked against: the view's tables and the method that declares the query. */
export interface ViewQueryContext {
  /** The view's tables by name, each with its row message. */
  readonly tables: ReadonlyMap<string, DescMessage>;
  /** The method's request message: where `:param`s are looked up. */
  readonly request: DescMessage;
  /** The method's response message (of one streamed response, for a streaming method). */
  readonly response: DescMessage;
  /** The method is server-streaming: one response per row. */
  readonly streaming: boolean;
}

/**
 * Type-checks a parsed view query against protobuf descriptors: tables and
 * columns exist (nested paths walk message fields), parameters are fields of
 * the request, every comparison, LIKE, text_search, LIMIT and OFFSET fits
 * the types on both sides, and the select list fills the response message.
 * The first problem is thrown as a {@link ViewQueryError} at its column.
 *
 * @example
 * const checked = checkViewQuery(parseViewQuery(query), {
 *   tables: new Map([["customers", CustomerSchema]]),
 *   request: CustomersByCityRequestSchema,
 *   response: CustomersPageSchema,
 *   streaming: false,
 * });
 */
export function checkViewQuery(ast: QueryAst, context: ViewQueryContext): CheckedQuery {
  const tables = [table(ast, context, ast.from.name, ast.from.column, 0)];
  if (ast.join !== undefined) {
    if (ast.join.table.name === ast.from.name) {
      createQueryScope(ast.text, tables, context.request).fail(`a table cannot be joined with itself`, ast.join.table.column);
    }
    tables.push(table(ast, context, ast.join.table.name, ast.join.table.column, 1));
  }
  const scope = createQueryScope(ast.text, tables, context.request, [...context.tables.keys()]);
  const join = ast.join === undefined ? undefined : { type: ast.join.type, ...checkJoin(scope, ast.join.left, ast.join.right) };
  const where = ast.where === undefined ? undefined : checkCondition(scope, ast.where);
  const { result, collected, selected } = checkSelection(scope, ast.select, context);
  const orderBy = ast.orderBy.map((o) => ({ column: orderColumn(scope, o.value), descending: o.descending }));
  const limit = ast.limit === undefined ? undefined : checkCount(scope, ast.limit, "LIMIT");
  const offset = ast.offset === undefined ? undefined : checkCount(scope, ast.offset, "OFFSET");

  const itemAt = (fn: string): number => ast.select.find((i) => i.kind === "page" && i.fn === fn)?.column ?? 1;
  if (result.kind === "many" && result.nextPageToken !== undefined) {
    if (limit === undefined) scope.fail("next_page_token() needs a LIMIT: a page holds LIMIT rows", itemAt("next_page_token"));
    if (offset?.kind !== "page-token") {
      scope.fail("next_page_token() needs OFFSET page_token_offset(:<request field>) to read the token back", ast.offset?.column ?? itemAt("next_page_token"));
    }
  }
  if (result.kind === "many" && result.hasMore !== undefined && limit === undefined) scope.fail("has_more() needs a LIMIT", itemAt("has_more"));
  if (result.kind === "count") {
    const extra = ast.orderBy[0]?.value.column ?? ast.limit?.column ?? ast.offset?.column;
    if (extra !== undefined) scope.fail("count(*) counts every matching row: ORDER BY, LIMIT and OFFSET have no meaning with it", extra);
  }
  if (collected !== undefined) {
    const fromCollected = orderBy.find((o) => o.column.table === collected);
    if (fromCollected) {
      const at = ast.orderBy[orderBy.indexOf(fromCollected)]?.value.column ?? 1;
      scope.fail(`${collected.name}.${fromCollected.column.path} is a column of the collected table ${collected.name}: ORDER BY takes columns of ${tables[0]?.name}`, at);
    }
  }
  if (ast.distinct) checkDistinct(scope, ast, result.kind === "many" && result.totalCount !== undefined, collected, selected, orderBy);
  return { text: ast.text, tables, join, distinct: ast.distinct, where, orderBy, limit, offset, result, collected };
}

function table(ast: QueryAst, context: ViewQueryContext, name: string, column: number, index: 0 | 1): CheckedTable {
  const row = context.tables.get(name);
  if (row === undefined) {
    const known = [...context.tables.keys()].join(", ");
    return createQueryScope(ast.text, [], context.request).fail(`unknown table ${name}; the view's tables are ${known === "" ? "(none)" : known}`, column);
  }
  return { index, name, row };
}

function checkJoin(scope: QueryScope, leftAst: ColumnAst, rightAst: ColumnAst): { left: CheckedColumn; right: CheckedColumn } {
  const left = scope.column(leftAst);
  const right = scope.column(rightAst);
  if (left.table === right.table) {
    return scope.fail(`a join condition compares a column of ${scope.tables[0]?.name} with one of ${scope.tables[1]?.name}; both sides are columns of ${left.table.name}`, rightAst.column);
  }
  for (const [column, at] of [[left, leftAst.column], [right, rightAst.column]] as const) {
    if (column.repeatedAt !== undefined || column.type.kind === "message" || column.type.kind === "bytes") {
      scope.fail(`${column.table.name}.${column.path} is ${describeKind(column.type)}${column.repeatedAt !== undefined ? " (repeated)" : ""} and cannot be joined on`, at);
    }
  }
  if (left.type.kind !== right.type.kind || left.type.enum?.typeName !== right.type.enum?.typeName) {
    scope.fail(`type mismatch in the join condition: ${left.table.name}.${left.path} is ${describeKind(left.type)}, ${right.table.name}.${right.path} is ${describeKind(right.type)}`, rightAst.column);
  }
  return { left, right };
}

function orderColumn(scope: QueryScope, ast: ColumnAst): CheckedColumn {
  const column = scope.column(ast);
  if (column.repeatedAt !== undefined) return scope.fail(`${column.path} is repeated and cannot be ordered by`, ast.column);
  if (column.type.kind === "message" || column.type.kind === "bytes") {
    return scope.fail(`${column.path} is ${describeKind(column.type)} and cannot be ordered by; order by one of its fields`, ast.column);
  }
  return column;
}

function checkCount(scope: QueryScope, ast: CountAst, clause: "LIMIT" | "OFFSET"): CheckedCount {
  if (ast.kind === "number") {
    const value = Number(ast.text);
    if (!Number.isSafeInteger(value)) return scope.fail(`${clause} ${ast.text} is too large`, ast.column);
    return { kind: "literal", value };
  }
  if (ast.kind === "page-token") {
    const param = scope.param(ast.token);
    if (param.type.kind !== "string" || param.type.repeated) {
      return scope.fail(`page_token_offset() needs a string parameter holding the token; :${param.path} is ${describeKind(param.type)}`, ast.token.column);
    }
    return { kind: "page-token", param };
  }
  const param = scope.param(ast);
  if (!param.type.integer || param.type.repeated) {
    return scope.fail(`${clause} needs an integer parameter; :${param.path} is ${describeType(param.type)}`, ast.column);
  }
  return { kind: "param", param };
}

function checkDistinct(
  scope: QueryScope,
  ast: QueryAst,
  totalCount: boolean,
  collected: CheckedTable | undefined,
  selected: readonly CheckedColumn[],
  orderBy: readonly { readonly column: CheckedColumn }[],
): void {
  const at = ast.select[0]?.column ?? 1;
  if (collected !== undefined) scope.fail("DISTINCT cannot be combined with collect()", at);
  if (totalCount) scope.fail("DISTINCT cannot be combined with total_count()", at);
  if (ast.select.some((i) => i.kind === "count")) scope.fail("count(DISTINCT ...) is not supported", at);
  for (const [i, { column }] of orderBy.entries()) {
    const isSelected = selected.some(
      (s) => s.table === column.table && s.fields.every((f, j) => column.fields[j] === f),
    );
    if (!isSelected) {
      scope.fail(`with DISTINCT, ORDER BY takes selected columns only; ${column.path} is not selected`, ast.orderBy[i]?.value.column ?? at);
    }
  }
}
