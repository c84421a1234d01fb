// Compiled view queries run for real, on PGlite and (with DATABASE_URL) on
// PostgreSQL: rows stored as the protobuf JSON of real messages (proto3
// omits defaults), parameters bound by the reference executor.
import assert from "node:assert/strict";
import { create, toJson } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CountSchema,
  CustomerPageSchema,
  CustomerSchema,
  CustomersWithOrdersSchema,
  CustomersWithOrdersTotalSchema,
  CustomerSummarySchema,
  CustomerWithOrdersSchema,
  NameAndCitySchema,
  NameAndCityListSchema,
  OrderLineSchema,
  OrderSchema,
  QueryRequestSchema,
  Tier,
} from "../gen/viewtest/v1/viewtest_pb.js";
import type { CompiledViewQuery } from "../../src/view-query/index.js";
import { compile } from "./view-query-fixtures.js";
import type { MethodShape } from "./view-query-fixtures.js";
import { bindParameters, createTables, encodePageToken, insertRows, InvalidArgument, runByKey, runStream, runUnary } from "./run-plan.js";
import { viewDatabases } from "./view-databases.js";
import type { SqlDatabase } from "./view-databases.js";

type Init = MessageInitShape<typeof CustomerSchema>;
const customers: Record<string, Init> = {
  c1: {
    customerId: "c1", email: "alice@example.com", name: "Alice Smith", address: { street: "Main St 1", city: "Berlin" },
    age: 30, points: 5_000_000_000n, active: true, tier: Tier.GOLD, tags: ["vip", "early"],
    createdAt: timestampFromDate(new Date("2024-01-01T00:00:00Z")), nickname: "Al", score: 1.5, referrer: "bob",
  },
  // Every field at its default: proto3 JSON leaves them all out.
  c2: { customerId: "c2", email: "bob@example.com", name: "Bob Jones", address: { city: "Berlin" }, createdAt: { seconds: 1704067200n, nanos: 500_000_000 } },
  c3: {
    customerId: "c3", email: "carol@example.com", name: "Carol White", address: { city: "Paris", zip: "75001" }, age: 41, points: 10n,
    tier: Tier.SILVER, tags: ["early"], nickname: "", previousAddresses: [{ city: "Rome" }, { city: "Oslo" }],
  },
  c4: { customerId: "c4", email: "dave@example.com", name: "100%_real" },
  c5: { customerId: "c5", email: "eve@example.com", name: "Eve O'Brien", address: { city: "Berlin" }, age: 25, active: true },
  c6: { customerId: "c6", email: "frank@example.com", name: "Frank Smith", address: { city: "Berlin" }, age: 52 },
  c7: { customerId: "c7", email: "gina@example.com", name: "Gina Adams", address: { city: "Berlin" }, age: 33, tier: Tier.GOLD },
  c8: { customerId: "c8", email: "", name: "1000 Club", address: { city: "Paris" }, tags: ["' OR 1=1 --"] },
};
const orders: Record<string, MessageInitShape<typeof OrderSchema>> = {
  o1: { orderId: "o1", customerId: "c1", totalCents: 1200n, product: "book" },
  o2: { orderId: "o2", customerId: "c1", totalCents: 300n, product: "pen" },
  o3: { orderId: "o3", customerId: "c3", totalCents: 999n, product: "lamp" },
};

type Request = MessageInitShape<typeof QueryRequestSchema>;

for (const database of viewDatabases()) describe(`view queries run on ${database.name}`, function () {
  this.timeout(60_000);
  let db: SqlDatabase;
  const created = new Set<string>();

  before(async () => {
    db = await database.open();
  });
  after(async () => {
    await db.close();
  });

  /** Compiles `query`, creates its tables and indexes (once), and fills new tables with the fixtures. */
  async function prepare(query: string, method: MethodShape = {}): Promise<CompiledViewQuery> {
    const plan = compile(query, method);
    await createTables(db, plan);
    for (const t of plan.tables) {
      if (created.has(t.sqlName)) continue;
      created.add(t.sqlName);
      if (t.name === "customers") await insertRows(db, t.sqlName, CustomerSchema, mapValues(customers, (c) => create(CustomerSchema, c)));
      else await insertRows(db, t.sqlName, OrderSchema, mapValues(orders, (o) => create(OrderSchema, o)));
    }
    return plan;
  }

  async function ids(query: string, request: Request = {}): Promise<string[]> {
    const plan = await prepare(query);
    const page = await runUnary(db, plan, create(QueryRequestSchema, request), CustomerPageSchema);
    return page?.customers.map((c) => c.customerId) ?? [];
  }

  const all = "SELECT * AS customers FROM customers";

  it("stores rows as protobuf JSON with proto field names and without defaults", async () => {
    await prepare(all);
    const { rows } = await db.query<{ key: string; row: Record<string, unknown> }>(`SELECT key, row FROM "view_viewtest__customers" WHERE key IN ('c1', 'c2') ORDER BY key`);
    assert.deepEqual(Object.keys(rows[0]?.row ?? {}).includes("customer_id"), true);
    assert.equal(rows[0]?.row.points, "5000000000", "int64 is a JSON string");
    assert.deepEqual(rows[1]?.row, { customer_id: "c2", email: "bob@example.com", name: "Bob Jones", address: { city: "Berlin" }, created_at: "2024-01-01T00:00:00.500Z" });
  });

  it("filters on a nested field with a parameter and orders by name", async () => {
    assert.deepEqual(await ids(`${all} WHERE address.city = :filter.city ORDER BY name`, { filter: { city: "Berlin" } }), ["c1", "c2", "c5", "c6", "c7"]);
    assert.deepEqual(await ids(`${all} WHERE address.city = :filter.city ORDER BY name DESC`, { filter: { city: "Paris" } }), ["c3", "c8"]);
  });

  it("reads fields left out of the JSON as their defaults", async () => {
    assert.deepEqual(await ids(`${all} WHERE age = 0 ORDER BY customer_id`), ["c2", "c4", "c8"]);
    assert.deepEqual(await ids(`${all} WHERE active = false ORDER BY customer_id`), ["c2", "c3", "c4", "c6", "c7", "c8"]);
    assert.deepEqual(await ids(`${all} WHERE NOT active ORDER BY customer_id`), ["c2", "c3", "c4", "c6", "c7", "c8"]);
    assert.deepEqual(await ids(`${all} WHERE tier = 'TIER_UNSPECIFIED' ORDER BY customer_id`), ["c2", "c4", "c5", "c6", "c8"]);
    assert.deepEqual(await ids(`${all} WHERE email = '' ORDER BY customer_id`), ["c8"]);
    // No address at all reads as an address whose city is ''.
    assert.deepEqual(await ids(`${all} WHERE address.city = '' ORDER BY customer_id`), ["c4"]);
    assert.deepEqual(await ids(`${all} WHERE points = :big ORDER BY customer_id`, { big: 0n }), ["c2", "c4", "c5", "c6", "c7", "c8"]);
  });

  it("compares int64 (a JSON string) and double numerically", async () => {
    assert.deepEqual(await ids(`${all} WHERE points > :big`, { big: 4_999_999_999n }), ["c1"]);
    assert.deepEqual(await ids(`${all} WHERE points >= 10 AND points < 11`), ["c3"]);
    assert.deepEqual(await ids(`${all} WHERE score > 1.25`), ["c1"]);
    assert.deepEqual(await ids(`${all} WHERE age > -1 AND age < :number ORDER BY age DESC, customer_id`, { number: 31 }), ["c1", "c5", "c2", "c4", "c8"]);
  });

  it("tells unset from empty with IS NULL on optional, message and wrapper fields", async () => {
    assert.deepEqual(await ids(`${all} WHERE nickname IS NOT NULL ORDER BY customer_id`), ["c1", "c3"]);
    assert.deepEqual(await ids(`${all} WHERE nickname = ''`), ["c3"]);
    assert.deepEqual(await ids(`${all} WHERE address IS NULL`), ["c4"]);
    assert.deepEqual(await ids(`${all} WHERE address.zip IS NOT NULL`), ["c3"]);
    assert.deepEqual(await ids(`${all} WHERE created_at IS NULL AND referrer IS NULL ORDER BY customer_id`), ["c3", "c4", "c5", "c6", "c7", "c8"]);
    assert.deepEqual(await ids(`${all} WHERE referrer = :maybe`, { maybe: "bob" }), ["c1"]);
    // An unset optional parameter binds null: it matches nothing, not the empty string.
    assert.deepEqual(await ids(`${all} WHERE nickname = :maybe`), []);
  });

  it("orders timestamps in time, not as text (…00.5Z sorts before …00Z as text)", async () => {
    assert.deepEqual(await ids(`${all} WHERE created_at > '2024-01-01T00:00:00Z'`), ["c2"]);
    assert.deepEqual(await ids(`${all} WHERE created_at > '2024-01-01T01:00:00+01:00' ORDER BY created_at DESC`), ["c2"]);
    assert.deepEqual(await ids(`${all} WHERE created_at < :at ORDER BY created_at DESC`, { at: { seconds: 1704067200n, nanos: 600_000_000 } }), ["c2", "c1"]);
    assert.deepEqual(await ids(`${all} WHERE created_at IS NOT NULL ORDER BY created_at DESC`), ["c2", "c1"]);
  });

  it("matches LIKE prefixes and general patterns, with backslash escapes", async () => {
    assert.deepEqual(await ids(`${all} WHERE name LIKE 'A%'`), ["c1"]);
    assert.deepEqual(await ids(`${all} WHERE name LIKE '%Smith' ORDER BY name`), ["c1", "c6"]);
    assert.deepEqual(await ids(`${all} WHERE name LIKE '_ob %'`), ["c2"]);
    assert.deepEqual(await ids(`${all} WHERE name LIKE '100%' ORDER BY customer_id`), ["c4", "c8"]);
    assert.deepEqual(await ids(`${all} WHERE name LIKE '100\\%\\_%'`), ["c4"]);
    assert.deepEqual(await ids(`${all} WHERE name NOT LIKE '%e%' ORDER BY customer_id`), ["c6", "c7", "c8"]);
    assert.deepEqual(await ids(`${all} WHERE email LIKE :text ORDER BY customer_id`, { text: "%@example.com" }), ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
  });

  it("binds injection attempts as values: they match nothing and break nothing", async () => {
    // The same queries do find rows for ordinary values, so the empty answers below mean something.
    assert.deepEqual(await ids(`${all} WHERE email = :text`, { text: "bob@example.com" }), ["c2"]);
    assert.deepEqual(await ids(`${all} WHERE name LIKE :text`, { text: "Bob%" }), ["c2"]);
    assert.deepEqual(await ids(`${all} WHERE text_search(name, :text)`, { text: "bob" }), ["c2"]);
    assert.deepEqual(await ids(`${all} WHERE email = ANY(:texts)`, { texts: ["bob@example.com"] }), ["c2"]);
    for (const attack of ["' OR 1=1 --", "x'; DROP TABLE \"view_viewtest__customers\"; --", "\\' OR '1'='1", "$1", "'); DELETE FROM \"view_viewtest__customers\" --"]) {
      assert.deepEqual(await ids(`${all} WHERE email = :text`, { text: attack }), [], attack);
      assert.deepEqual(await ids(`${all} WHERE name LIKE :text`, { text: attack }), [], attack);
      assert.deepEqual(await ids(`${all} WHERE text_search(name, :text)`, { text: attack }), [], attack);
      assert.deepEqual(await ids(`${all} WHERE email = ANY(:texts)`, { texts: [attack, "\"]"] }), [], attack);
    }
    // A stored value that looks like an attack is only a value too.
    assert.deepEqual(await ids(`${all} WHERE :text = ANY(tags)`, { text: "' OR 1=1 --" }), ["c8"]);
    assert.deepEqual(await ids(`${all} WHERE name = 'Eve O''Brien'`), ["c5"]);
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "view_viewtest__customers"`);
    assert.equal(rows[0]?.n, Object.keys(customers).length);
  });

  it("binds string literals and request values, and splices nothing else", async () => {
    const plan = await prepare(`${all} WHERE name = 'Alice Smith' AND email = :text AND tier IN ('TIER_GOLD', :tier)`);
    assert.doesNotMatch(plan.sql, /Alice|GOLD/);
    assert.deepEqual(bindParameters(plan, create(QueryRequestSchema, { text: "alice@example.com", tier: Tier.SILVER })), ["Alice Smith", "alice@example.com", "TIER_GOLD", "TIER_SILVER"]);
    assert.deepEqual((await runUnary(db, plan, create(QueryRequestSchema, { text: "alice@example.com" }), CustomerPageSchema))?.customers.map((c) => c.customerId), ["c1"]);
  });

  it("supports IN, NOT IN, = ANY on repeated parameters and ANY over repeated columns", async () => {
    assert.deepEqual(await ids(`${all} WHERE customer_id IN ('c2', :text, 'nope') ORDER BY customer_id`, { text: "c5" }), ["c2", "c5"]);
    assert.deepEqual(await ids(`${all} WHERE address.city NOT IN ('Berlin', 'Paris')`), ["c4"]);
    assert.deepEqual(await ids(`${all} WHERE customer_id = ANY(:texts) ORDER BY customer_id`, { texts: ["c7", "c3", "zz"] }), ["c3", "c7"]);
    assert.deepEqual(await ids(`${all} WHERE customer_id = ANY(:texts)`, { texts: [] }), []);
    assert.deepEqual(await ids(`${all} WHERE points = ANY(:bigs) ORDER BY customer_id`, { bigs: [10n, 5_000_000_000n] }), ["c1", "c3"]);
    assert.deepEqual(await ids(`${all} WHERE tier = ANY(:tiers) ORDER BY customer_id`, { tiers: [Tier.UNSPECIFIED, Tier.SILVER] }), ["c2", "c3", "c4", "c5", "c6", "c8"]);
    assert.deepEqual(await ids(`${all} WHERE :text = ANY(tags) ORDER BY customer_id`, { text: "early" }), ["c1", "c3"]);
    assert.deepEqual(await ids(`${all} WHERE 'vip' = ANY(tags)`), ["c1"]);
    assert.deepEqual(await ids(`${all} WHERE :text = ANY(previous_addresses.city)`, { text: "Oslo" }), ["c3"]);
  });

  it("orders enums by their numbers, not their names", async () => {
    // By name, TIER_GOLD < TIER_SILVER < TIER_UNSPECIFIED; by number, UNSPECIFIED (0) < SILVER (1) < GOLD (2).
    assert.deepEqual(await ids(`${all} WHERE customer_id IN ('c1', 'c2', 'c3') ORDER BY tier`), ["c2", "c3", "c1"]);
    assert.deepEqual(await ids(`${all} WHERE customer_id IN ('c1', 'c2', 'c3') ORDER BY tier DESC`), ["c1", "c3", "c2"]);
  });

  it("combines AND, OR, NOT and parentheses", async () => {
    assert.deepEqual(
      await ids(`${all} WHERE NOT (address.city = 'Berlin') AND (age > 40 OR tier = 'TIER_GOLD') ORDER BY customer_id`),
      ["c3"],
    );
    assert.deepEqual(await ids(`${all} WHERE address.city = 'Berlin' AND (tier = 'TIER_GOLD' OR age > 50) ORDER BY customer_id`), ["c1", "c6", "c7"]);
    assert.deepEqual(await ids(`${all} WHERE address.city = 'Berlin' AND tier = 'TIER_GOLD' OR age > 50 ORDER BY customer_id`), ["c1", "c6", "c7"]);
    assert.deepEqual(await ids(`${all} WHERE age > 50 OR address.city = 'Paris' AND age > 40 ORDER BY customer_id`), ["c3", "c6"]);
  });

  it("searches words with text_search", async () => {
    assert.deepEqual(await ids(`${all} WHERE text_search(name, :text) ORDER BY customer_id`, { text: "smith" }), ["c1", "c6"]);
    assert.deepEqual(await ids(`${all} WHERE text_search(name, :text)`, { text: "Alice Smith" }), ["c1"]);
    assert.deepEqual(await ids(`${all} WHERE text_search(name, 'jones')`), ["c2"]);
    assert.deepEqual(await ids(`${all} WHERE text_search(name, :text)`, { text: "" }), []);
  });

  describe("paging", () => {
    const paged =
      "SELECT * AS customers, next_page_token(), has_more(), total_count() FROM customers WHERE address.city = :filter.city ORDER BY name LIMIT :limit OFFSET page_token_offset(:page_token)";

    it("walks every row once with page tokens, has_more and total_count", async () => {
      const plan = await prepare(paged);
      const pages: { ids: string[]; hasMore: boolean; total: bigint; token: string }[] = [];
      let token = "";
      do {
        const page = await runUnary(db, plan, create(QueryRequestSchema, { filter: { city: "Berlin" }, limit: 2, pageToken: token }), CustomerPageSchema);
        assert.ok(page);
        pages.push({ ids: page.customers.map((c) => c.customerId), hasMore: page.hasMore, total: page.totalCount, token: page.nextPageToken });
        token = page.nextPageToken;
      } while (token !== "" && pages.length < 10);
      assert.deepEqual(pages, [
        { ids: ["c1", "c2"], hasMore: true, total: 5n, token: encodePageToken(2) },
        { ids: ["c5", "c6"], hasMore: true, total: 5n, token: encodePageToken(4) },
        { ids: ["c7"], hasMore: false, total: 5n, token: "" },
      ]);
    });

    it("counts the total on a page past the end too", async () => {
      const plan = await prepare(paged);
      const page = await runUnary(db, plan, create(QueryRequestSchema, { filter: { city: "Berlin" }, limit: 2, pageToken: encodePageToken(10) }), CustomerPageSchema);
      assert.deepEqual([page?.customers.length, page?.totalCount, page?.hasMore], [0, 5n, false]);
      const collected = await prepare(
        "SELECT (customers.*, collect(orders) AS orders) AS results, total_count() AS total FROM customers JOIN orders ON orders.customer_id = customers.customer_id LIMIT 1 OFFSET 9",
        { response: CustomersWithOrdersTotalSchema },
      );
      const groups = await runUnary(db, collected, create(QueryRequestSchema), CustomersWithOrdersTotalSchema);
      assert.deepEqual([groups?.results.length, groups?.total], [0, 2n]);
    });

    it("gives has_more false when the last page is exactly full", async () => {
      const plan = await prepare(paged);
      const page = await runUnary(db, plan, create(QueryRequestSchema, { filter: { city: "Paris" }, limit: 2 }), CustomerPageSchema);
      assert.deepEqual([page?.customers.map((c) => c.customerId), page?.hasMore, page?.nextPageToken], [["c8", "c3"], false, ""]);
    });

    it("reads a page size of 0 (unset) as no limit", async () => {
      const plan = await prepare(paged);
      const page = await runUnary(db, plan, create(QueryRequestSchema, { filter: { city: "Berlin" } }), CustomerPageSchema);
      assert.equal(page?.customers.length, 5);
      assert.equal(page?.hasMore, false);
    });

    it("rejects a malformed page token and a negative page size as INVALID_ARGUMENT", async () => {
      const plan = await prepare(paged);
      for (const pageToken of ["not a token", "LTE", Buffer.from("01").toString("base64url"), Buffer.from("1.5").toString("base64url")]) {
        assert.throws(() => bindParameters(plan, create(QueryRequestSchema, { pageToken, limit: 2 })), InvalidArgument, pageToken);
      }
      assert.throws(() => bindParameters(plan, create(QueryRequestSchema, { limit: -1 })), /must not be negative/);
    });

    it("pages with literal LIMIT and OFFSET", async () => {
      assert.deepEqual(await ids(`${all} ORDER BY customer_id LIMIT 3 OFFSET 2`), ["c3", "c4", "c5"]);
      assert.deepEqual(await ids(`${all} ORDER BY customer_id LIMIT :limit OFFSET :offset`, { limit: 2, offset: 6 }), ["c7", "c8"]);
    });
  });

  it("answers a unary query with one row, or none (NOT_FOUND)", async () => {
    const plan = await prepare("SELECT * FROM customers WHERE email = :text", { response: CustomerSchema });
    const found = await runUnary(db, plan, create(QueryRequestSchema, { text: "carol@example.com" }), CustomerSchema);
    assert.deepEqual(found && toJson(CustomerSchema, found), toJson(CustomerSchema, create(CustomerSchema, customers.c3)));
    assert.equal(await runUnary(db, plan, create(QueryRequestSchema, { text: "nobody@example.com" }), CustomerSchema), undefined);
  });

  it("fills a compatible smaller message from whole rows", async () => {
    const plan = await prepare("SELECT * FROM customers WHERE customer_id = :text", { response: CustomerSummarySchema });
    const summary = await runUnary(db, plan, create(QueryRequestSchema, { text: "c5" }), CustomerSummarySchema);
    assert.deepEqual(summary && toJson(CustomerSummarySchema, summary), { customerId: "c5", name: "Eve O'Brien" });
  });

  it("streams rows and projects columns with AS", async () => {
    const plan = await prepare("SELECT name, address.city AS city FROM customers WHERE age >= 30 ORDER BY age", { response: NameAndCitySchema, streaming: true });
    const rows = await runStream(db, plan, create(QueryRequestSchema), NameAndCitySchema);
    assert.deepEqual(rows.map((r) => [r.name, r.city]), [["Alice Smith", "Berlin"], ["Gina Adams", "Berlin"], ["Carol White", "Paris"], ["Frank Smith", "Berlin"]]);
  });

  it("looks up one row of a stream by key, for streaming updates", async () => {
    const plan = await prepare("SELECT name, address.city AS city FROM customers WHERE address.city = :filter.city ORDER BY name LIMIT :limit", { response: NameAndCitySchema, streaming: true });
    const request = create(QueryRequestSchema, { filter: { city: "Berlin" }, limit: 1 });
    assert.deepEqual((await runByKey(db, plan, request, "c6", NameAndCitySchema))?.name, "Frank Smith");
    assert.equal(await runByKey(db, plan, request, "c3", NameAndCitySchema), undefined, "c3 lives in Paris");
    assert.equal(await runByKey(db, plan, request, "' OR 1=1 --", NameAndCitySchema), undefined);
    const joined = await prepare("SELECT customers.*, collect(orders) AS orders FROM customers LEFT JOIN orders ON orders.customer_id = customers.customer_id", { response: CustomerWithOrdersSchema, streaming: true });
    assert.deepEqual((await runByKey(db, joined, create(QueryRequestSchema), "c1", CustomerWithOrdersSchema))?.orders.map((o) => o.orderId), ["o1", "o2"]);
  });

  it("pages a projection into a repeated field", async () => {
    const plan = await prepare("SELECT (name, address.city AS city) AS results, has_more() FROM customers ORDER BY name LIMIT 3", { response: NameAndCityListSchema });
    const list = await runUnary(db, plan, create(QueryRequestSchema), NameAndCityListSchema);
    assert.deepEqual(list?.results.map((r) => [r.name, r.city]), [["100%_real", ""], ["1000 Club", "Paris"], ["Alice Smith", "Berlin"]]);
    assert.equal(list?.hasMore, true);
  });

  it("removes duplicate rows with DISTINCT", async () => {
    const plan = await prepare("SELECT DISTINCT address.city AS city FROM customers ORDER BY address.city", { response: NameAndCitySchema, streaming: true });
    const rows = await runStream(db, plan, create(QueryRequestSchema), NameAndCitySchema);
    assert.deepEqual(rows.map((r) => r.city), ["", "Berlin", "Paris"]);
  });

  it("counts matching rows with count(*)", async () => {
    const plan = await prepare("SELECT count(*) FROM customers WHERE address.city = :filter.city", { response: CountSchema });
    assert.equal((await runUnary(db, plan, create(QueryRequestSchema, { filter: { city: "Berlin" } }), CountSchema))?.count, 5n);
    assert.equal((await runUnary(db, plan, create(QueryRequestSchema, { filter: { city: "Nowhere" } }), CountSchema))?.count, 0n);
    const named = await prepare("SELECT count(*) AS total FROM customers", { response: CountSchema });
    assert.equal((await runUnary(db, named, create(QueryRequestSchema), CountSchema))?.total, Object.keys(customers).length);
  });

  describe("JOIN", () => {
    const collectQuery = "FROM customers LEFT JOIN orders ON orders.customer_id = customers.customer_id";

    it("nests the joined rows with collect(), in key order, and an empty list where none join", async () => {
      const plan = await prepare(`SELECT customers.*, collect(orders) AS orders ${collectQuery} WHERE customers.customer_id IN ('c1', 'c2', 'c3') ORDER BY name`, {
        response: CustomerWithOrdersSchema,
        streaming: true,
      });
      const rows = await runStream(db, plan, create(QueryRequestSchema), CustomerWithOrdersSchema);
      assert.deepEqual(rows.map((r) => [r.customerId, r.address?.city, r.orders.map((o) => `${o.orderId}:${o.totalCents}`)]), [
        ["c1", "Berlin", ["o1:1200", "o2:300"]],
        ["c2", "Berlin", []],
        ["c3", "Paris", ["o3:999"]],
      ]);
    });

    it("keeps only rows with a match in an inner join, and collects into a repeated field of a unary response", async () => {
      const plan = await prepare(
        "SELECT (customers.*, collect(orders) AS orders) AS results FROM customers JOIN orders ON orders.customer_id = customers.customer_id WHERE orders.total_cents > 500 ORDER BY customers.customer_id",
        { response: CustomersWithOrdersSchema },
      );
      const list = await runUnary(db, plan, create(QueryRequestSchema), CustomersWithOrdersSchema);
      assert.deepEqual(list?.results.map((r) => [r.customerId, r.name, r.orders.map((o) => o.orderId)]), [["c1", "Alice Smith", ["o1"]], ["c3", "Carol White", ["o3"]]]);
    });

    it("finds rows without a match in a LEFT JOIN: the missing row's columns read as defaults", async () => {
      const plan = await prepare("SELECT count(*) FROM customers LEFT JOIN orders ON orders.customer_id = customers.customer_id WHERE orders.order_id = ''", { response: CountSchema });
      assert.equal((await runUnary(db, plan, create(QueryRequestSchema), CountSchema))?.count, 6n);
    });

    it("returns one row per joined pair without collect()", async () => {
      const plan = await prepare(
        "SELECT orders.order_id, customers.name AS name, total_cents FROM orders JOIN customers ON customers.customer_id = orders.customer_id WHERE address.city = :filter.city ORDER BY total_cents DESC",
        { response: OrderLineSchema, streaming: true },
      );
      const rows = await runStream(db, plan, create(QueryRequestSchema, { filter: { city: "Berlin" } }), OrderLineSchema);
      assert.deepEqual(rows.map((r) => [r.orderId, r.name, r.totalCents]), [["o1", "Alice Smith", 1200n], ["o2", "Alice Smith", 300n]]);
    });
  });

  describe("every accepted query compiles to SQL that PostgreSQL runs", () => {
    const accepted: [string, MethodShape?][] = [
      ["SELECT * AS customers FROM customers WHERE age = score OR active = active OR tier = tier"],
      ["SELECT * AS customers FROM customers WHERE active = true AND NOT (active = :flag) OR points <= :number"],
      ["SELECT * AS customers FROM customers WHERE created_at IN ('2024-01-01T00:00:00Z', :at) OR created_at >= :at"],
      ["SELECT * AS customers FROM customers WHERE tier IN (:tier, 'TIER_SILVER') AND tier != :tier"],
      ["SELECT * AS customers FROM customers WHERE referrer = 'x' OR referrer IS NULL OR nickname = :maybe OR address.zip IN (:maybe, '1')"],
      ["SELECT * AS customers FROM customers WHERE NOT :text = ANY(tags) AND created_at = ANY(:ats) AND age = ANY(:bigs)"],
      ["SELECT * AS customers FROM customers WHERE 5 < age AND :number >= points AND 'TIER_GOLD' = tier"],
      ["SELECT * AS customers FROM customers WHERE NOT text_search(address.city, :text) AND name NOT IN ('a') AND email NOT LIKE :text"],
      ["SELECT * AS customers, total_count() AS total_count FROM customers ORDER BY active DESC, tier, created_at DESC, score LIMIT 2 OFFSET 1"],
      ["SELECT DISTINCT * AS customers, has_more() FROM customers ORDER BY name LIMIT :limit OFFSET :offset"],
      ["SELECT DISTINCT name, address.city AS city FROM customers ORDER BY address.city DESC, name LIMIT 3", { response: NameAndCitySchema, streaming: true }],
      ["SELECT name, tags, address, created_at, previous_addresses FROM customers LIMIT :limit", { response: CustomerSchema, streaming: true }],
      ["SELECT customers.* FROM customers JOIN orders ON orders.customer_id = customers.customer_id ORDER BY orders.total_cents DESC", { response: CustomerSchema, streaming: true }],
      ["SELECT count(*) FROM customers LEFT JOIN orders ON customers.customer_id = orders.customer_id WHERE orders.order_id = ''", { response: CountSchema }],
      ["SELECT orders.*, customers.name AS name FROM orders LEFT JOIN customers ON customers.customer_id = orders.customer_id WHERE name LIKE 'A%' OR product = :text", { response: OrderLineSchema, streaming: true }],
      ["SELECT (customers.*, collect(orders) AS orders) AS results FROM customers LEFT JOIN orders ON orders.customer_id = customers.customer_id ORDER BY name LIMIT 2", { response: CustomersWithOrdersSchema }],
      ["SELECT * FROM customers WHERE address IS NOT NULL ORDER BY address.city, customer_id OFFSET 1", { response: CustomerSummarySchema }],
      ["SELECT * FROM orders WHERE total_cents > :big LIMIT 1", { response: OrderSchema, streaming: true }],
    ];
    for (const [query, method] of accepted) {
      it(query, async () => {
        const plan = await prepare(query, method);
        const request = create(QueryRequestSchema, { text: "a", number: 3, big: 10n, flag: true, tier: Tier.GOLD, at: timestampFromDate(new Date()), texts: ["a"], bigs: [1n], ats: [timestampFromDate(new Date())], limit: 2, maybe: "m" });
        await db.query(plan.sql, bindParameters(plan, request));
      });
    }
  });

  it("creates the suggested indexes, and the planner uses them", async () => {
    const plan = await prepare("SELECT * FROM customers WHERE email = :text", { response: CustomerSchema });
    const search = await prepare(`${all} WHERE text_search(name, :text)`);
    assert.deepEqual(plan.indexes.map((i) => [i.method, i.expression, i.uses]), [["btree", "coalesce(row->>'email', '')", ["filter"]]]);
    await db.exec("SET enable_seqscan = off");
    try {
      for (const p of [plan, search]) {
        const { rows } = await db.query<{ "QUERY PLAN": string }>(`EXPLAIN ${p.sql}`, bindParameters(p, create(QueryRequestSchema, { text: "x" })));
        // With sequential scans off, PostgreSQL still picks one when no index matches the expression.
        const explained = rows.map((r) => r["QUERY PLAN"]).join("\n");
        assert.match(explained, /Index Scan|Bitmap Index Scan/, explained);
        assert.doesNotMatch(explained, /Seq Scan/, explained);
      }
    } finally {
      await db.exec("SET enable_seqscan = on");
    }
  });
});

function mapValues<A, B>(record: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}
