import { checkViewQuery } from "./check-view-query.js";
import type { ViewQueryContext } from "./check-view-query.js";
import { compileViewQuery } from "./compile-view-query.js";
import type { CompileOptions } from "./compile-view-query.js";
import type { CompiledViewQuery } from "./compiled-view-query.js";
import { parseViewQuery } from "./parse-view-query.js";

/**
 * Parses, checks and compiles one query: what the plugin's view support calls
 * per query method. Throws a {@link ViewQueryError} for the first problem.
 *
 * @example
 * try {
 *   const plan = planViewQuery(query, { tables, request: method.input, response: method.output, streaming: method.methodKind === "server_streaming" }, { view: service.typeName });
 * } catch (e) {
 *   if (!(e instanceof ViewQueryError)) throw e;
 *   report.add({ service, method, option: "(orrery.v1.method).view_query.query" }, `the query ${e.message}`, "correct the query (docs/view-queries.md)");
 * }
 */
export function planViewQuery(text: string, context: ViewQueryContext, options: CompileOptions): CompiledViewQuery {
  return compileViewQuery(checkViewQuery(parseViewQuery(text), context), options);
}
