import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { editDistance } from "../resolve-message.js";
import type { CheckedColumn, CheckedParam, CheckedTable } from "./checked-query.js";
import type { ColumnAst, Name, ParamAst } from "./view-query-ast.js";
import { ViewQueryError } from "./view-query-error.js";
import { describeKind, elementType, fieldValueType } from "./value-type.js";

/** The tables and the request of one query, and the errors that point into its text. */
export interface QueryScope {
  readonly tables: readonly CheckedTable[];
  readonly request: DescMessage;
  /** Resolves a (possibly table-qualified) field path to a column. */
  column(ast: ColumnAst): CheckedColumn;
  /** Resolves `:path` against the request message. */
  param(ast: ParamAst): CheckedParam;
  /** Throws a {@link ViewQueryError} at `column`, naming the token written there. */
  fail(reason: string, column: number): never;
}

/** A scope over `tables` (FROM first, then the joined table) and the request message. */
export function createQueryScope(text: string, tables: readonly CheckedTable[], request: DescMessage, viewTables: readonly string[] = []): QueryScope {
  const fail = (reason: string, column: number): never => {
    throw new ViewQueryError(reason, column, tokenAt(text, column));
  };
  return {
    tables,
    request,
    fail,
    column(ast) {
      const [first, ...rest] = ast.path;
      if (first === undefined) return fail("expected a column", ast.column);
      const qualifier = rest.length > 0 ? tables.find((t) => t.name === first.name) : undefined;
      if (qualifier === undefined && rest.length > 0 && viewTables.includes(first.name) && !tables[0]?.row.fields.some((f) => f.name === first.name)) {
        return fail(`${first.name} is a table of the view but not of this query; JOIN it to use its columns`, first.column);
      }
      const path = qualifier === undefined ? ast.path : rest;
      const table = qualifier ?? pickTable(tables, path[0] as Name, fail);
      return walkColumn(table, path, fail);
    },
    param(ast) {
      const fields: DescField[] = [];
      let message = request;
      for (const [i, segment] of ast.path.entries()) {
        const field = message.fields.find((f) => f.name === segment.name);
        const written = `:${ast.path.map((p) => p.name).join(".")}`;
        if (field === undefined) {
          return fail(`unknown parameter ${written}: the request message ${message.typeName} has no field ${segment.name}${suggest(message, segment.name)}`, ast.column);
        }
        fields.push(field);
        const type = fieldValueType(field);
        if (i === ast.path.length - 1) return { fields, type, path: written.slice(1) };
        if (type.kind !== "message" || type.repeated || type.map || field.message === undefined) {
          return fail(`parameter ${written}: ${segment.name} is ${describeKind(type)} and has no fields`, ast.column);
        }
        message = field.message;
      }
      return fail("expected a parameter", ast.column);
    },
  };
}

function pickTable(tables: readonly CheckedTable[], first: Name, fail: QueryScope["fail"]): CheckedTable {
  const having = tables.filter((t) => t.row.fields.some((f) => f.name === first.name));
  if (having.length > 1) {
    return fail(`column ${first.name} is ambiguous: both ${tables.map((t) => t.name).join(" and ")} have it; qualify it, e.g. ${tables[0]?.name}.${first.name}`, first.column);
  }
  return having[0] ?? (tables[0] as CheckedTable);
}

function walkColumn(table: CheckedTable, path: readonly Name[], fail: QueryScope["fail"]): CheckedColumn {
  const fields: DescField[] = [];
  let message = table.row;
  let repeatedAt: number | undefined;
  const written = path.map((p) => p.name).join(".");
  for (const [i, segment] of path.entries()) {
    const field = message.fields.find((f) => f.name === segment.name);
    if (field === undefined) {
      const where = i === 0 ? `table ${table.name} (${table.row.typeName})` : `${message.typeName}`;
      return fail(`unknown column ${written}: ${where} has no field ${segment.name}${suggest(message, segment.name)}`, segment.column);
    }
    fields.push(field);
    const type = fieldValueType(field);
    if (type.map) return fail(`column ${written}: map fields cannot be queried`, segment.column);
    if (type.repeated) {
      if (repeatedAt !== undefined) return fail(`column ${written} goes through two repeated fields; a path may go through one at most`, segment.column);
      repeatedAt = i;
    }
    if (i === path.length - 1) return { table, fields, repeatedAt, type: elementType(type), path: written };
    if (type.kind !== "message" || field.message === undefined) {
      return fail(`column ${written}: ${segment.name} is ${describeKind(type)} and has no fields`, path[i + 1]?.column ?? segment.column);
    }
    message = field.message;
  }
  return fail("expected a column", path[0]?.column ?? 1);
}

/** "; did you mean x?" for a close field name (also when the JSON name was written), or the list of fields. */
function suggest(message: DescMessage, name: string): string {
  const byJsonName = message.fields.find((f) => f.jsonName === name && f.name !== name);
  if (byJsonName) return `; did you mean ${byJsonName.name}? (queries use proto field names)`;
  const close = message.fields
    .map((f) => ({ name: f.name, distance: editDistance(name.toLowerCase(), f.name.toLowerCase()) }))
    .filter((c) => c.distance <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.distance - b.distance);
  if (close[0] !== undefined) return `; did you mean ${close[0].name}?`;
  return message.fields.length === 0 ? " (it has no fields)" : ` (its fields: ${message.fields.map((f) => f.name).join(", ")})`;
}

/** The token that starts at 1-based `column` of `text`, for error messages. */
function tokenAt(text: string, column: number): string {
  const rest = text.slice(column - 1);
  const m = /^(:?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|'(?:[^']|'')*'?|-?[0-9][0-9.eE+-]*|\S)/.exec(rest);
  return m?.[0] ?? "";
}
