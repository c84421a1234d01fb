import assert from "node:assert/strict";
import { planViewQuery, viewTableName } from "../../src/view-query/index.js";
import { CustomerSchema, CustomerWithOrdersSchema, QueryRequestSchema } from "../gen/viewtest/v1/viewtest_pb.js";
import { compile, tables } from "./view-query-fixtures.js";

describe("compileViewQuery", () => {
  it("writes PostgreSQL with placeholders, casts and defaults for a paged query", () => {
    const plan = compile(
      "SELECT * AS customers, next_page_token(), has_more() FROM customers WHERE address.city = :filter.city AND age > 17 ORDER BY name LIMIT :limit OFFSET page_token_offset(:page_token)",
    );
    assert.equal(
      plan.sql,
      `SELECT t0.row AS row FROM "view_viewtest__customers" AS t0 WHERE (coalesce(t0.row->'address'->>'city', '') = $1::text AND coalesce((t0.row->>'age')::numeric, 0) > 17) ORDER BY coalesce(t0.row->>'name', ''), t0.key LIMIT $2::bigint + 1 OFFSET $3::bigint`,
    );
    assert.deepEqual(plan.parameters, [
      { kind: "request", field: { names: ["filter", "city"], localNames: ["filter", "city"] }, coercion: { kind: "string" }, nullable: false },
      { kind: "request", field: { names: ["limit"], localNames: ["limit"] }, coercion: { kind: "limit" }, nullable: false },
      { kind: "request", field: { names: ["page_token"], localNames: ["pageToken"] }, coercion: { kind: "page-token" }, nullable: false },
    ]);
    assert.deepEqual(plan.result, {
      kind: "many",
      field: { name: "customers", localName: "customers" },
      limit: { kind: "parameter", index: 1 },
      offset: { kind: "parameter", index: 2 },
      fetchesOneMore: true,
      nextPageToken: { name: "next_page_token", localName: "nextPageToken" },
      hasMore: { name: "has_more", localName: "hasMore" },
    });
  });

  it("is plain JSON: a round trip through JSON.stringify keeps every field", () => {
    const plan = compile("SELECT customers.*, collect(orders) AS orders FROM customers LEFT JOIN orders ON orders.customer_id = customers.customer_id WHERE tier = ANY(:tiers)", {
      response: CustomerWithOrdersSchema,
      streaming: true,
    });
    // No undefined, bigint, class instance or descriptor survives in it.
    assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan);
    const paged = compile("SELECT * AS customers, total_count() FROM customers LIMIT 5");
    assert.deepEqual(JSON.parse(JSON.stringify(paged)), paged);
    assert.deepEqual(Object.keys(plan).sort(), ["indexes", "parameters", "query", "result", "rowEncoding", "sql", "tables", "version"]);
    assert.match(plan.sql, /GROUP BY t0\.key/);
    assert.deepEqual(plan.parameters[0], {
      kind: "request",
      field: { names: ["tiers"], localNames: ["tiers"] },
      coercion: { kind: "list", element: { kind: "enum", names: { 0: "TIER_UNSPECIFIED", 1: "TIER_SILVER", 2: "TIER_GOLD" } } },
      nullable: false,
    });
  });

  it("binds a parameter used twice once, and each string literal as its own parameter", () => {
    const plan = compile("SELECT * AS customers FROM customers WHERE name = :text OR email = :text OR name = 'x' OR email = 'x'");
    assert.equal(plan.parameters.length, 2);
    assert.match(plan.sql, /\$1::text.*\$1::text.*\$2::text.*\$2::text/);
    assert.deepEqual(plan.parameters[1], { kind: "literal", value: "x" });
  });

  it("suggests each index once, with every use, in the expression the query uses", () => {
    const plan = compile("SELECT * AS customers FROM customers WHERE name = :text AND name LIKE 'A%' AND text_search(name, :text) ORDER BY name");
    assert.deepEqual(
      plan.indexes.map((i) => [i.method, i.expression, i.opclass, i.uses]),
      [
        ["btree", "coalesce(row->>'name', '')", undefined, ["filter", "sort"]],
        ["btree", "coalesce(row->>'name', '')", "text_pattern_ops", ["like"]],
        ["gin", "to_tsvector('simple', coalesce(row->>'name', ''))", undefined, ["text-search"]],
      ],
    );
    for (const index of plan.indexes) assert.ok(plan.sql.includes(index.expression.replaceAll("row->", "t0.row->")), index.expression);
  });

  it("adds LIMIT 1 to a single-row query and no ORDER BY when none is asked for", () => {
    const plan = planViewQuery("SELECT * FROM customers WHERE email = :text", { tables, request: QueryRequestSchema, response: CustomerSchema, streaming: false }, { view: "v" });
    assert.equal(plan.sql, `SELECT t0.row AS row FROM "view_v__customers" AS t0 WHERE coalesce(t0.row->>'email', '') = $1::text LIMIT 1`);
    assert.deepEqual(plan.result, { kind: "single" });
  });
});

describe("viewTableName", () => {
  it("keeps plain names and quotes them", () => {
    assert.equal(viewTableName("customers_view", "customers"), `"view_customers_view__customers"`);
  });

  it("slugs other names and adds a hash, so distinct pairs never share a table", () => {
    const names = [
      viewTableName("customer.registry.v1.CustomersView", "customers"),
      viewTableName("customer_registry_v1_customersview", "customers"),
      viewTableName("a__b", "c"),
      viewTableName("a", "b__c"),
      viewTableName("x".repeat(80), "customers"),
    ];
    assert.equal(new Set(names).size, names.length);
    for (const name of names) assert.match(name, /^"view_[a-z0-9_]+"$/);
    for (const name of names) assert.ok(name.length - 2 <= 63, name);
    assert.match(names[0] ?? "", /^"view_customer_registry_v1_customersview__customers_[0-9a-f]{8}"$/);
  });
});
