import type { DescField, DescMessage } from "@bufbuild/protobuf";
import type { CheckedColumn, CheckedProjection, CheckedResult, CheckedTable, ProjectionEntry } from "./checked-query.js";
import type { Name, PageFunction, SelectItemAst } from "./view-query-ast.js";
import type { QueryScope } from "./query-scope.js";
import { describeKind, fieldValueType } from "./value-type.js";

/** The method a query answers: its response message and whether it streams. */
export interface QueryMethod {
  readonly response: DescMessage;
  readonly streaming: boolean;
}

/** The select list checked against the response: the result shape, and the joined table that collect() nests, if any. */
export interface CheckedSelection {
  readonly result: CheckedResult;
  readonly collected?: CheckedTable | undefined;
  /** Columns the rows are built from, for DISTINCT's ORDER BY check. */
  readonly selected: readonly CheckedColumn[];
}

/** Resolves the select list and checks that it fills the response message. */
export function checkSelection(scope: QueryScope, items: readonly SelectItemAst[], method: QueryMethod): CheckedSelection {
  const { response, streaming } = method;
  const many = items.filter((i): i is ManyItem => (i.kind === "star" && i.alias !== undefined) || i.kind === "group");
  const counts = items.filter((i) => i.kind === "count");
  const pages = items.filter((i): i is Extract<SelectItemAst, { kind: "page" }> => i.kind === "page");
  const rows = items.filter((i) => !(many as SelectItemAst[]).includes(i) && i.kind !== "count" && i.kind !== "page");
  const selected: CheckedColumn[] = [];
  const state = { collected: undefined as CheckedTable | undefined, selected };

  const second = many[1] ?? counts[many.length > 0 ? 0 : 1];
  if (second !== undefined) return scope.fail("a query fills one result field: select the rows once", second.column);
  const [manyItem] = many;
  if (manyItem !== undefined) {
    if (streaming) {
      return scope.fail("a streaming method sends one response per row: select * or columns, without AS <repeated field>", manyItem.column);
    }
    const stray = rows[0] ?? counts[0];
    if (stray !== undefined) {
      return scope.fail("beside the rows' repeated field, the select list may only hold next_page_token(), has_more() and total_count()", stray.column);
    }
    const alias = manyItem.alias as Name;
    const field = responseField(scope, response, alias);
    if (field.fieldKind !== "list" || field.listKind !== "message") {
      return scope.fail(`${alias.name} must be a repeated message field of ${response.typeName} to hold the rows; it is ${describeKind(fieldValueType(field))}`, alias.column);
    }
    const projection =
      manyItem.kind === "star" ? rowProjection(scope, manyItem, field.message, state) : projectInto(scope, manyItem.items, field.message, state);
    const paging: Partial<Record<PageFunction, DescField>> = {};
    for (const page of pages) {
      if (paging[page.fn] !== undefined) return scope.fail(`${page.fn}() is selected twice`, page.column);
      paging[page.fn] = pageField(scope, response, page);
    }
    return {
      result: { kind: "many", field, projection, nextPageToken: paging.next_page_token, hasMore: paging.has_more, totalCount: paging.total_count },
      collected: state.collected,
      selected,
    };
  }
  if (pages[0] !== undefined) {
    return scope.fail(`${pages[0].fn}() fills a field beside a repeated field of rows: select the rows with * AS <field> or (columns) AS <field>`, pages[0].column);
  }
  const [count] = counts;
  if (count !== undefined) {
    if (rows[0] !== undefined) return scope.fail("count(*) cannot be selected with columns (there is no GROUP BY)", rows[0].column);
    if (streaming) return scope.fail("count(*) answers once: declare the method unary, not streaming", count.column);
    const alias = count.kind === "count" ? count.alias : undefined;
    const name = alias ?? { name: "count", column: count.column };
    const field = responseField(scope, response, name);
    const type = fieldValueType(field);
    if (field.fieldKind !== "scalar" || !type.integer) {
      return scope.fail(`count(*) needs an integer response field; ${response.typeName}.${field.name} is ${describeKind(type)}`, name.column);
    }
    return { result: { kind: "count", field }, selected };
  }
  const [only] = rows;
  const projection =
    rows.length === 1 && only?.kind === "star" ? rowProjection(scope, only, response, state) : projectInto(scope, rows, response, state);
  return { result: { kind: streaming ? "stream" : "single", projection }, collected: state.collected, selected };
}

type ManyItem = Extract<SelectItemAst, { kind: "star" | "group" }>;

interface ProjectionState {
  collected: CheckedTable | undefined;
  readonly selected: CheckedColumn[];
}

/** `*` or `t.*` as the whole row, checked to fit `target`. */
function rowProjection(scope: QueryScope, item: Extract<SelectItemAst, { kind: "star" }>, target: DescMessage, state: ProjectionState): CheckedProjection {
  const table = starTable(scope, item);
  checkRowFits(scope, table, target, item.column);
  state.selected.push(...table.row.fields.map((f) => wholeField(table, f)));
  return { kind: "row", table };
}

function projectInto(scope: QueryScope, items: readonly SelectItemAst[], target: DescMessage, state: ProjectionState): CheckedProjection {
  const entries: ProjectionEntry[] = [];
  const filled = new Map<string, number>();
  const fill = (field: DescField, column: number): void => {
    if (filled.has(field.name)) scope.fail(`response field ${target.typeName}.${field.name} is filled twice`, column);
    filled.set(field.name, column);
  };
  for (const item of items) {
    switch (item.kind) {
      case "star": {
        if (item.alias !== undefined) return scope.fail("* AS <field> cannot be nested in a parenthesised select list", item.column);
        const table = starTable(scope, item);
        if (table === state.collected) return scope.fail(`${table.name} is collected; its rows are in collect(${table.name})`, item.column);
        checkRowFits(scope, table, target, item.column, true);
        for (const f of table.row.fields) {
          const t = target.fields.find((tf) => tf.name === f.name);
          if (t !== undefined) fill(t, item.column);
          state.selected.push(wholeField(table, f));
        }
        entries.push({ kind: "spread", table });
        break;
      }
      case "column": {
        const column = scope.column(item.value);
        const name = item.alias ?? item.value.path.at(-1) ?? { name: "", column: item.column };
        if (column.repeatedAt !== undefined && column.repeatedAt < column.fields.length - 1) {
          return scope.fail(`${column.path} goes through the repeated field ${column.fields[column.repeatedAt]?.name}; selecting a column inside repeated messages is not supported (select ${column.fields[column.repeatedAt]?.name} itself)`, item.column);
        }
        const field = responseField(scope, target, name);
        const source = fieldValueType(column.fields.at(-1) as DescField);
        const want = fieldValueType(field);
        if (want.label !== source.label) {
          return scope.fail(`type mismatch: ${column.path} is ${source.label} but ${target.typeName}.${field.name} is ${want.label}`, name.column);
        }
        fill(field, name.column);
        state.selected.push(column);
        entries.push({ kind: "field", target: field, column });
        break;
      }
      case "collect": {
        const joined = scope.tables[1];
        if (joined === undefined) return scope.fail("collect() nests the rows of a joined table; the query has no JOIN", item.column);
        if (item.table.name !== joined.name) {
          return scope.fail(`collect() takes the joined table ${joined.name}${item.table.name === scope.tables[0]?.name ? `; ${item.table.name} is the FROM table, whose rows are grouped` : ""}`, item.table.column);
        }
        if (state.collected !== undefined) return scope.fail(`${joined.name} is collected twice`, item.column);
        const field = responseField(scope, target, item.alias);
        if (field.fieldKind !== "list" || field.listKind !== "message") {
          return scope.fail(`collect(${joined.name}) needs a repeated message field; ${target.typeName}.${field.name} is ${describeKind(fieldValueType(field))}`, item.alias.column);
        }
        checkRowFits(scope, joined, field.message, item.alias.column);
        fill(field, item.alias.column);
        state.collected = joined;
        entries.push({ kind: "collect", target: field, table: joined });
        break;
      }
      default:
        return scope.fail("only columns, table.* and collect() can be selected into a row", item.column);
    }
  }
  if (state.collected !== undefined) {
    const fromCollected = entries.find((e) => e.kind === "field" && e.column.table === state.collected);
    if (fromCollected?.kind === "field") {
      const at = filled.get(fromCollected.target.name) ?? 1;
      return scope.fail(`${state.collected.name}.${fromCollected.column.path} is a column of the collected table ${state.collected.name}; only collect(${state.collected.name}) may use its rows`, at);
    }
  }
  return { kind: "object", entries };
}

function starTable(scope: QueryScope, item: Extract<SelectItemAst, { kind: "star" }>): CheckedTable {
  if (item.table === undefined) {
    if (scope.tables.length > 1) return scope.fail(`with a JOIN, say whose columns: ${scope.tables.map((t) => `${t.name}.*`).join(" or ")}`, item.column);
    return scope.tables[0] as CheckedTable;
  }
  const name = item.table.name;
  const table = scope.tables.find((t) => t.name === name);
  if (table === undefined) return scope.fail(`${name}.* names no table of the query (${scope.tables.map((t) => t.name).join(", ")})`, item.column);
  return table;
}

/**
 * A row fits a message that is the row message itself, or one whose fields all exist in the row
 * with the same types (the row's other fields are dropped). With `partly`, the message may have
 * fields the row has not (a row spread beside other columns).
 */
function checkRowFits(scope: QueryScope, table: CheckedTable, target: DescMessage, at: number, partly = false): void {
  if (target.typeName === table.row.typeName) return;
  const rowsField = target.fields.find((f) => f.fieldKind === "list" && f.message?.typeName === table.row.typeName);
  if (rowsField !== undefined && !partly) {
    return scope.fail(`the response ${target.typeName} is not the row message ${table.row.typeName}; to answer with many rows, select them into its repeated field: * AS ${rowsField.name}`, at);
  }
  for (const field of target.fields) {
    const source = table.row.fields.find((f) => f.name === field.name);
    if (source === undefined && partly) continue;
    const want = fieldValueType(field).label;
    if (source === undefined || fieldValueType(source).label !== want) {
      const found = source === undefined ? `${table.row.typeName} has no field ${field.name}` : `${field.name} is ${want} there but ${fieldValueType(source).label} in the row`;
      return scope.fail(
        `the rows of ${table.name} (${table.row.typeName}) do not fit ${target.typeName}: ${found}; use ${table.row.typeName} there, or select columns by name`,
        at,
      );
    }
  }
}

function responseField(scope: QueryScope, message: DescMessage, name: Name): DescField {
  const field = message.fields.find((f) => f.name === name.name);
  if (field === undefined) {
    const fields = message.fields.map((f) => f.name).join(", ");
    return scope.fail(`the response message ${message.typeName} has no field ${name.name}${fields === "" ? "" : ` (its fields: ${fields})`}`, name.column);
  }
  return field;
}

function pageField(scope: QueryScope, response: DescMessage, item: Extract<SelectItemAst, { kind: "page" }>): DescField {
  const name = item.alias ?? { name: item.fn, column: item.column };
  const field = responseField(scope, response, name);
  const type = fieldValueType(field);
  const fits = field.fieldKind === "scalar" && (item.fn === "next_page_token" ? type.kind === "string" : item.fn === "has_more" ? type.kind === "bool" : type.integer);
  if (!fits) {
    const want = { next_page_token: "a string", has_more: "a bool", total_count: "an integer" }[item.fn];
    return scope.fail(`${item.fn}() needs ${want} response field; ${response.typeName}.${field.name} is ${type.label}`, name.column);
  }
  return field;
}

function wholeField(table: CheckedTable, field: DescField): CheckedColumn {
  const type = fieldValueType(field);
  return { table, fields: [field], type, path: field.name, repeatedAt: type.repeated ? 0 : undefined };
}
