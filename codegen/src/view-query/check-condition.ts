import type { CheckedColumn, CheckedCondition, CheckedLiteral, CheckedOperand, CheckedParam } from "./checked-query.js";
import type { ColumnAst, ConditionAst, LiteralAst, OperandAst, ParamAst } from "./view-query-ast.js";
import type { QueryScope } from "./query-scope.js";
import { normalizeTimestamp } from "./timestamp-text.js";
import { comparable, defaultLiteral, describeKind, describeType, elementType } from "./value-type.js";
import type { ValueType } from "./value-type.js";

/** Resolves and type-checks a WHERE condition. */
export function checkCondition(scope: QueryScope, ast: ConditionAst): CheckedCondition {
  switch (ast.kind) {
    case "and":
    case "or":
      return { kind: ast.kind, left: checkCondition(scope, ast.left), right: checkCondition(scope, ast.right) };
    case "not":
      return { kind: "not", operand: checkCondition(scope, ast.operand) };
    case "compare":
      return checkComparison(scope, ast);
    case "any":
      return checkAny(scope, ast);
    case "in": {
      const value = scalarColumn(scope, ast.value, "IN");
      const list = ast.list.map((item) => valueFor(scope, item, value.type, `${value.path} IN (...)`));
      return { kind: "in", value, list, negated: ast.negated };
    }
    case "is-null": {
      const value = scope.column(ast.value);
      if (value.repeatedAt !== undefined) {
        return scope.fail(`IS NULL does not apply to ${value.path}, which is repeated (an empty list is never null)`, ast.value.column);
      }
      if (!value.type.presence) {
        const zero = defaultLiteral(value.type);
        return scope.fail(
          `IS NULL needs a field that can be unset (a message, an optional field or a wrapper); ${value.path} is ${describeKind(value.type)} that reads as ${zero} when unset: compare it with ${zero}`,
          ast.value.column,
        );
      }
      return { kind: "is-null", value, negated: ast.negated };
    }
    case "like": {
      const value = stringColumn(scope, ast.value, "LIKE");
      return { kind: "like", value, pattern: stringValue(scope, ast.pattern, "a LIKE pattern"), negated: ast.negated };
    }
    case "text-search": {
      const value = stringColumn(scope, ast.value, "text_search()");
      return { kind: "text-search", value, query: stringValue(scope, ast.query, "the query of text_search()") };
    }
    case "truth": {
      const value = scalarColumn(scope, ast.value, "a condition");
      if (value.type.kind !== "bool") {
        return scope.fail(`${value.path} is ${describeKind(value.type)}, not a condition; compare it, e.g. ${value.path} = :${value.fields.at(-1)?.name ?? "value"}`, ast.value.column);
      }
      return { kind: "truth", value };
    }
  }
}

function checkComparison(scope: QueryScope, ast: Extract<ConditionAst, { kind: "compare" }>): CheckedCondition {
  const columnSide = ast.left.kind === "column" ? ast.left : ast.right.kind === "column" ? ast.right : undefined;
  if (columnSide === undefined) return scope.fail("a comparison needs a column on one side", ast.left.column);
  const column = scalarColumn(scope, columnSide, `operator ${ast.op}`);
  const other = columnSide === ast.left ? ast.right : ast.left;
  const described = `${column.path} ${ast.op}`;
  if ((column.type.kind === "bool" || column.type.kind === "enum") && !["=", "!="].includes(ast.op)) {
    return scope.fail(`${column.path} is ${describeKind(column.type)}: only = and != compare it`, ast.column);
  }
  const checkedOther = valueFor(scope, other, column.type, described);
  const checkedColumn: CheckedOperand = { kind: "column", column };
  return columnSide === ast.left
    ? { kind: "compare", op: ast.op, left: checkedColumn, right: checkedOther }
    : { kind: "compare", op: ast.op, left: checkedOther, right: checkedColumn };
}

function checkAny(scope: QueryScope, ast: Extract<ConditionAst, { kind: "any" }>): CheckedCondition {
  if (ast.array.kind === "param") {
    const param = scope.param(ast.array);
    if (!param.type.repeated) {
      return scope.fail(`= ANY(:${param.path}) needs a repeated request field; ${param.path} is ${describeKind(param.type)}: compare with = :${param.path}`, ast.array.column);
    }
    if (ast.value.kind !== "column") return scope.fail("= ANY(:param) needs a column on its left", ast.value.column);
    const column = scalarColumn(scope, ast.value, "= ANY(...)");
    const element = elementType(param.type);
    if (!comparable(column.type, element)) {
      return scope.fail(`type mismatch: ${column.path} is ${describeKind(column.type)}, but :${param.path} is ${describeType(param.type)}`, ast.array.column);
    }
    return { kind: "any-param", value: { kind: "column", column }, param };
  }
  const column = scope.column(ast.array);
  if (column.repeatedAt === undefined) {
    return scope.fail(`= ANY(${column.path}) needs a repeated column; ${column.path} is ${describeKind(column.type)}: compare with =`, ast.array.column);
  }
  checkComparable(scope, column, ast.array.column);
  if (ast.value.kind === "column") return scope.fail("value = ANY(column) needs a parameter or a literal on its left", ast.value.column);
  return { kind: "any-column", value: valueFor(scope, ast.value, column.type, `= ANY(${column.path})`), column };
}

/** A column that is one value (not repeated) of a type that can be compared. */
function scalarColumn(scope: QueryScope, ast: ColumnAst, use: string): CheckedColumn {
  const column = scope.column(ast);
  if (column.repeatedAt !== undefined) {
    const last = column.repeatedAt === column.fields.length - 1;
    const through = last ? "" : ` (through ${column.fields[column.repeatedAt]?.name})`;
    return scope.fail(`${column.path} is repeated${through}: ${use} does not apply to it; test whether a value is among its elements with :value = ANY(${column.path})`, ast.column);
  }
  checkComparable(scope, column, ast.column);
  return column;
}

function checkComparable(scope: QueryScope, column: CheckedColumn, at: number): void {
  if (column.type.kind === "message") {
    return scope.fail(`${column.path} is ${describeKind(column.type)}: compare its fields (e.g. ${column.path}.${column.type.message?.fields[0]?.name ?? "field"}) or test IS NULL`, at);
  }
  if (column.type.kind === "bytes") return scope.fail(`${column.path} is bytes, which queries cannot compare`, at);
}

function stringColumn(scope: QueryScope, ast: ColumnAst, use: string): CheckedColumn {
  const column = scalarColumn(scope, ast, use);
  if (column.type.kind !== "string") return scope.fail(`${use} needs a string column; ${column.path} is ${describeKind(column.type)}`, ast.column);
  return column;
}

function stringValue(scope: QueryScope, ast: ParamAst | LiteralAst, what: string): CheckedOperand {
  if (ast.kind === "param") {
    const param = scope.param(ast);
    if (param.type.kind !== "string" || param.type.repeated) return scope.fail(`${what} must be a string; :${param.path} is ${describeKind(param.type)}`, ast.column);
    return { kind: "param", param };
  }
  if (ast.kind !== "string") return scope.fail(`${what} must be a string`, ast.column);
  return { kind: "literal", literal: { type: stringType, value: ast.value, kind: "string" } };
}

const stringType: ValueType = { kind: "string", integer: false, repeated: false, map: false, presence: false, label: "string" };

/** A parameter, literal or column compared with a value of `type`. */
function valueFor(scope: QueryScope, ast: OperandAst, type: ValueType, described: string): CheckedOperand {
  if (ast.kind === "column") {
    const column = scalarColumn(scope, ast, described);
    if (!comparable(column.type, type)) return scope.fail(`type mismatch: ${described} needs ${describeKind(type)}, but ${column.path} is ${describeKind(column.type)}`, ast.column);
    return { kind: "column", column };
  }
  if (ast.kind === "param") return { kind: "param", param: paramFor(scope, ast, type, described) };
  return { kind: "literal", literal: literalFor(scope, ast, type, described) };
}

function paramFor(scope: QueryScope, ast: ParamAst, type: ValueType, described: string): CheckedParam {
  const param = scope.param(ast);
  if (param.type.repeated) {
    return scope.fail(`:${param.path} is ${describeKind(param.type)}; compare a column with the elements of a repeated parameter using = ANY(:${param.path})`, ast.column);
  }
  if (!comparable(param.type, type)) {
    return scope.fail(`type mismatch: ${described} needs ${describeKind(type)}, but :${param.path} is ${describeType(param.type)}`, ast.column);
  }
  return param;
}

function literalFor(scope: QueryScope, ast: LiteralAst, type: ValueType, described: string): CheckedLiteral {
  const mismatch = (found: string): never => scope.fail(`type mismatch: ${described} needs ${describeKind(type)}, found ${found}`, ast.column);
  switch (ast.kind) {
    case "number":
      if (type.kind !== "number") return mismatch(`the number ${ast.text}`);
      return { type, value: ast.text, kind: "number" };
    case "bool":
      if (type.kind !== "bool") return mismatch(`${ast.value}`);
      return { type, value: ast.value, kind: "bool" };
    case "string":
      if (type.kind === "string") return { type, value: ast.value, kind: "string" };
      if (type.kind === "enum" && type.enum !== undefined) {
        const names = type.enum.values.map((v) => v.name);
        if (!names.includes(ast.value)) {
          return scope.fail(`'${ast.value}' is not a value of enum ${type.enum.typeName}; its values: ${names.join(", ")}`, ast.column);
        }
        return { type, value: ast.value, kind: "string" };
      }
      if (type.kind === "timestamp") {
        const normalized = normalizeTimestamp(ast.value);
        if (normalized === undefined) {
          return scope.fail(`'${ast.value}' is not an RFC 3339 timestamp such as '2024-05-01T12:00:00Z'`, ast.column);
        }
        return { type, value: normalized, kind: "string" };
      }
      return mismatch(`the string '${ast.value}'`);
  }
}
