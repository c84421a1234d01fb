import assert from "node:assert/strict";
import { create, toJson } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { normalizeTimestamp, timestampSql } from "../../src/view-query/timestamp-text.js";
import { compile } from "./view-query-fixtures.js";
import { bindParameters } from "./run-plan.js";
import { viewDatabases } from "./view-databases.js";
import { QueryRequestSchema } from "../gen/viewtest/v1/viewtest_pb.js";

describe("timestamps in view queries", function () {
  this.timeout(30_000);

  it("normalises RFC 3339 literals to fixed-width UTC", () => {
    assert.equal(normalizeTimestamp("2024-05-01T12:00:00Z"), "2024-05-01T12:00:00.000000000");
    assert.equal(normalizeTimestamp("2024-05-01t12:00:00.5z"), "2024-05-01T12:00:00.500000000");
    assert.equal(normalizeTimestamp("2024-05-01T12:00:00.123456789Z"), "2024-05-01T12:00:00.123456789");
    assert.equal(normalizeTimestamp("2024-05-01T00:30:00.25+02:00"), "2024-04-30T22:30:00.250000000");
    assert.equal(normalizeTimestamp("2024-05-01T23:30:00-01:00"), "2024-05-02T00:30:00.000000000");
    for (const bad of ["2024-05-01", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00", "2024-05-01T12:00:00.1234567890Z", "2024-02-30T00:00:00Z", "2024-05-01T25:00:00Z", "x"]) {
      assert.equal(normalizeTimestamp(bad), undefined, bad);
    }
  });

  for (const database of viewDatabases()) it(`reads every fraction width protobuf JSON writes as the form parameters bind, in time order, on ${database.name}`, async () => {
    const times = [
      { seconds: 1_714_564_800n, nanos: 0 },
      { seconds: 1_714_564_800n, nanos: 1 },
      { seconds: 1_714_564_800n, nanos: 1_000 },
      { seconds: 1_714_564_800n, nanos: 123_000_000 },
      { seconds: 1_714_564_800n, nanos: 123_456_000 },
      { seconds: 1_714_564_800n, nanos: 123_456_789 },
      { seconds: 1_714_564_800n, nanos: 500_000_000 },
      { seconds: 1_714_564_801n, nanos: 0 },
      { seconds: -62_135_596_800n, nanos: 0 },
      { seconds: 253_402_300_799n, nanos: 999_999_999 },
    ].map((t) => create(TimestampSchema, t));
    const plan = compile("SELECT * AS customers FROM customers WHERE created_at = :at");
    const db = await database.open();
    try {
      const stored: string[] = [];
      for (const t of times) {
        const json = toJson(TimestampSchema, t) as string;
        const { rows } = await db.query<{ v: string }>(`SELECT ${timestampSql("$1::text")} AS v`, [json]);
        const bound = bindParameters(plan, create(QueryRequestSchema, { at: t }))[0];
        assert.equal(rows[0]?.v, bound, json);
        stored.push(rows[0]?.v ?? "");
      }
      const byTime = [...times.keys()].sort((a, b) => {
        const [x, y] = [times[a], times[b]];
        return x === undefined || y === undefined ? 0 : Number(x.seconds - y.seconds) || x.nanos - y.nanos;
      });
      assert.deepEqual([...stored].sort(), byTime.map((i) => stored[i]));
      assert.equal(new Set(stored).size, times.length);
    } finally {
      await db.close();
    }
  });
});
