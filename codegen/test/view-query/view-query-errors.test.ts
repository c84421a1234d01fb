// The golden table of every view query error: query → exact message, with
// the column and token the message names checked against the query itself.
import assert from "node:assert/strict";
import { ViewQueryError } from "../../src/view-query/index.js";
import { errorCases } from "./error-cases.js";
import { methodFor } from "./error-methods.js";
import { check } from "./view-query-fixtures.js";

describe("view query errors", () => {
  it("has one case per query", () => {
    const queries = errorCases.map(([q, , m]) => `${m ?? ""}|${q}`);
    assert.equal(new Set(queries).size, queries.length);
    assert.ok(errorCases.length >= 100, `${errorCases.length} cases`);
  });

  for (const [query, expected, method] of errorCases) {
    it(`rejects ${JSON.stringify(query)}${method ? ` (${method})` : ""}`, () => {
      let error: unknown;
      try {
        check(query, methodFor(method));
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof ViewQueryError, `expected a ViewQueryError, got ${String(error)}`);
      assert.equal(error.message, expected);
      // The position is where the named token is written.
      assert.equal(error.message.startsWith(`at column ${error.column} `), true);
      if (error.token === "") assert.equal(error.column, query.length + 1);
      else assert.equal(query.slice(error.column - 1, error.column - 1 + error.token.length), error.token);
      assert.equal(error.message.endsWith(error.reason), true);
    });
  }
});
