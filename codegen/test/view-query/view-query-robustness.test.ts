// Mangled queries fail with a ViewQueryError, never with a crash, and the
// ones that pass compile to SQL PostgreSQL accepts: tokens of accepted
// queries deleted, repeated and swapped, with a fixed seed.
import assert from "node:assert/strict";
import { ViewQueryError } from "../../src/view-query/index.js";
import { CustomerSchema, CustomerWithOrdersSchema } from "../gen/viewtest/v1/viewtest_pb.js";
import { compile } from "./view-query-fixtures.js";
import { createTables } from "./run-plan.js";
import { viewDatabases } from "./view-databases.js";
import type { CompiledViewQuery } from "../../src/view-query/index.js";
import type { MethodShape } from "./view-query-fixtures.js";

const seeds: [string, MethodShape][] = [
  ["SELECT * AS customers, next_page_token(), has_more(), total_count() FROM customers WHERE address.city = :filter.city AND (age > 3 OR NOT active) ORDER BY name DESC LIMIT :limit OFFSET page_token_offset(:page_token)", {}],
  ["SELECT customers.*, collect(orders) AS orders FROM customers LEFT JOIN orders ON orders.customer_id = customers.customer_id WHERE text_search(name, :text) AND tier IN ('TIER_GOLD', :tier) AND :text = ANY(tags) ORDER BY name", { response: CustomerWithOrdersSchema, streaming: true }],
  ["SELECT DISTINCT name, email FROM customers WHERE nickname IS NOT NULL AND email LIKE 'a\\%%' AND points = ANY(:bigs) AND created_at > '2024-01-01T00:00:00Z' ORDER BY name LIMIT 5 OFFSET 2", { response: CustomerSchema, streaming: true }],
];

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const accepted = new Map<string, CompiledViewQuery>();

describe("view query robustness", function () {
  this.timeout(60_000);

  it("accepts the seed queries", () => {
    for (const [query, method] of seeds) assert.ok(compile(query, method).sql.startsWith("SELECT"));
  });

  it("answers 3,000 mangled queries with a plan or a ViewQueryError", () => {
    const next = random(8);
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const [query, method] = seeds[i % seeds.length] as [string, MethodShape];
      const parts = query.split(/(?<=[ (),.])|(?=[ (),.])/).filter((p) => p.trim() !== "");
      for (let edits = 1 + Math.floor(next() * 2); edits > 0; edits--) {
        const at = Math.floor(next() * parts.length);
        const other = Math.floor(next() * parts.length);
        const op = next();
        if (op < 0.4) parts.splice(at, 1);
        else if (op < 0.7) parts.splice(at, 0, parts[other] ?? "");
        else [parts[at], parts[other]] = [parts[other] ?? "", parts[at] ?? ""];
      }
      const mangled = parts.join(" ");
      try {
        accepted.set(mangled, compile(mangled, method));
      } catch (e) {
        if (!(e instanceof ViewQueryError)) assert.fail(`${String(e)} for ${JSON.stringify(mangled)}`);
        assert.ok(e.column >= 1 && e.column <= mangled.length + 1, mangled);
        rejected++;
      }
    }
    // Most mangled queries are wrong; the test would prove little if none were.
    assert.ok(rejected > 2000, `${rejected} rejected`);
    assert.ok(accepted.size >= 10, `${accepted.size} accepted`);
  });

  for (const database of viewDatabases()) {
    it(`runs every accepted mangled query on ${database.name}`, async () => {
      const db = await database.open();
      try {
        for (const [query, plan] of accepted) {
          await createTables(db, plan);
          // Placeholders get their casts in the SQL, so EXPLAIN with nulls checks the whole statement.
          await db.query(`EXPLAIN ${plan.sql}`, plan.parameters.map(() => null)).catch((e: unknown) => {
            assert.fail(`${String(e)}\nquery: ${query}\nsql: ${plan.sql}`);
          });
        }
      } finally {
        await db.close();
      }
    });
  }
});
