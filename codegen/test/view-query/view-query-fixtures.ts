// The view and methods the view query tests check queries against: tables
// customers (Customer) and orders (Order), QueryRequest for parameters.
import type { DescMessage } from "@bufbuild/protobuf";
import { checkViewQuery, compileViewQuery, parseViewQuery } from "../../src/view-query/index.js";
import type { CheckedQuery, CompiledViewQuery } from "../../src/view-query/index.js";
import { CustomerPageSchema, CustomerSchema, OrderSchema, QueryRequestSchema } from "../gen/viewtest/v1/viewtest_pb.js";

/** The view's tables. */
export const tables: ReadonlyMap<string, DescMessage> = new Map<string, DescMessage>([
  ["customers", CustomerSchema],
  ["orders", OrderSchema],
]);

/** The view name the compiled SQL's tables derive from. */
export const view = "viewtest";

/** The method a query is declared on; defaults: QueryRequest → CustomerPage, unary. */
export interface MethodShape {
  readonly request?: DescMessage;
  readonly response?: DescMessage;
  readonly streaming?: boolean;
}

/** Parses and checks `query` as a method of shape `method`. */
export function check(query: string, method: MethodShape = {}): CheckedQuery {
  return checkViewQuery(parseViewQuery(query), {
    tables,
    request: method.request ?? QueryRequestSchema,
    response: method.response ?? CustomerPageSchema,
    streaming: method.streaming ?? false,
  });
}

/** Parses, checks and compiles `query`. */
export function compile(query: string, method: MethodShape = {}): CompiledViewQuery {
  return compileViewQuery(check(query, method), { view });
}
