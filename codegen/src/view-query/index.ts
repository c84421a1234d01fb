// The view query language: parsed, type-checked against protobuf descriptors
// and compiled to a PostgreSQL plan at `buf generate` time.
//
//   const plan = planViewQuery(text, context, { view });
//   // = compileViewQuery(checkViewQuery(parseViewQuery(text), context), { view })
//
// See docs/view-queries.md for the grammar, the type rules and the limits.
export { planViewQuery } from "./plan-view-query.js";
export { parseViewQuery } from "./parse-view-query.js";
export { checkViewQuery } from "./check-view-query.js";
export type { ViewQueryContext } from "./check-view-query.js";
export { compileViewQuery } from "./compile-view-query.js";
export type { CompileOptions } from "./compile-view-query.js";
export { viewTableName } from "./view-table-name.js";
export { ViewQueryError } from "./view-query-error.js";
export type { QueryAst } from "./view-query-ast.js";
export type { CheckedQuery } from "./checked-query.js";
export type {
  CompiledViewQuery,
  Coercion,
  CountSource,
  FieldPath,
  IndexSuggestion,
  QueryParameter,
  QueryResultShape,
  QueryTable,
  ResponseField,
  ScalarCoercion,
} from "./compiled-view-query.js";
