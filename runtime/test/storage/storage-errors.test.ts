import assert from "node:assert/strict";
import { StorageError, StorageUnavailableError, toStorageError } from "../../src/storage/index.js";

const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("toStorageError", () => {
  const retryable: Array<[string, unknown]> = [
    ["a connection failure (08006)", withCode("08006")],
    ["a server shutdown (57P01)", withCode("57P01")],
    ["a statement timeout (57014)", withCode("57014")],
    ["a serialization failure (40001)", withCode("40001")],
    ["too many connections (53300)", withCode("53300")],
    ["a refused connection", withCode("ECONNREFUSED")],
    ["a connection pg reports as terminated", new Error("Connection terminated unexpectedly")],
    ["an AggregateError of refused connections", new AggregateError([withCode("ECONNREFUSED")], "")],
  ];
  for (const [what, error] of retryable) {
    it(`classifies ${what} as retryable`, () => {
      const classified = toStorageError(error, "reading");
      assert.ok(classified instanceof StorageUnavailableError);
      assert.equal(classified.retryable, true);
      assert.equal(classified.cause, error);
    });
  }

  const terminal: Array<[string, unknown]> = [
    ["a missing table (42P01)", withCode("42P01")],
    ["a check violation (23514)", withCode("23514")],
    ["a missing database (3D000)", withCode("3D000")],
    ["a plain Error", new Error("bug")],
    ["a thrown string", "oops"],
  ];
  for (const [what, error] of terminal) {
    it(`classifies ${what} as terminal`, () => {
      const classified = toStorageError(error, "reading");
      assert.ok(classified instanceof StorageError && !(classified instanceof StorageUnavailableError));
      assert.equal(classified.retryable, false);
    });
  }

  it("keeps an existing StorageError and prefixes the context otherwise", () => {
    const existing = new StorageError("already classified");
    assert.equal(toStorageError(existing, "x"), existing);
    assert.equal(toStorageError(withCode("42P01", "relation missing"), "reading events").message, "reading events failed: relation missing");
  });
});
