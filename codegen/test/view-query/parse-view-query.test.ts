import assert from "node:assert/strict";
import { parseViewQuery } from "../../src/view-query/index.js";
import type { QueryAst } from "../../src/view-query/index.js";

/** The tree without positions, to compare shapes. */
function shape(ast: QueryAst): unknown {
  const { text: _text, ...tree } = ast;
  return JSON.parse(JSON.stringify(tree, (key, value: unknown) => (key === "column" ? undefined : value)));
}

describe("parseViewQuery", () => {
  it("parses a paged query with every clause", () => {
    const ast = parseViewQuery(
      "SELECT * AS customers, next_page_token(), has_more() AS more FROM customers WHERE address.city = :filter.city AND age >= 18 ORDER BY name, age DESC LIMIT :limit OFFSET page_token_offset(:page_token)",
    );
    assert.deepEqual(shape(ast), {
      distinct: false,
      select: [
        { kind: "star", alias: { name: "customers" } },
        { kind: "page", fn: "next_page_token" },
        { kind: "page", fn: "has_more", alias: { name: "more" } },
      ],
      from: { name: "customers" },
      where: {
        kind: "and",
        left: { kind: "compare", op: "=", left: { kind: "column", path: [{ name: "address" }, { name: "city" }] }, right: { kind: "param", path: [{ name: "filter" }, { name: "city" }] } },
        right: { kind: "compare", op: ">=", left: { kind: "column", path: [{ name: "age" }] }, right: { kind: "number", text: "18" } },
      },
      orderBy: [
        { value: { kind: "column", path: [{ name: "name" }] }, descending: false },
        { value: { kind: "column", path: [{ name: "age" }] }, descending: true },
      ],
      limit: { kind: "param", path: [{ name: "limit" }] },
      offset: { kind: "page-token", token: { kind: "param", path: [{ name: "page_token" }] } },
    });
  });

  it("reads keywords in any case, and names as written", () => {
    const ast = parseViewQuery("select distinct Name from Customers where Name like 'A%' order by Name desc limit 5 offset 10");
    assert.equal(ast.distinct, true);
    assert.equal(ast.from.name, "Customers");
    assert.deepEqual(shape(ast), shape(parseViewQuery("SELECT DISTINCT Name FROM Customers WHERE Name LIKE 'A%' ORDER BY Name DESC LIMIT 5 OFFSET 10")));
  });

  it("binds NOT tighter than AND, and AND tighter than OR", () => {
    const ast = parseViewQuery("SELECT * FROM t WHERE NOT a = 1 OR b = 2 AND (c = 3 OR d)");
    const where = shape(ast) as { where: unknown };
    assert.deepEqual(where.where, {
      kind: "or",
      left: { kind: "not", operand: { kind: "compare", op: "=", left: { kind: "column", path: [{ name: "a" }] }, right: { kind: "number", text: "1" } } },
      right: {
        kind: "and",
        left: { kind: "compare", op: "=", left: { kind: "column", path: [{ name: "b" }] }, right: { kind: "number", text: "2" } },
        right: {
          kind: "or",
          left: { kind: "compare", op: "=", left: { kind: "column", path: [{ name: "c" }] }, right: { kind: "number", text: "3" } },
          right: { kind: "truth", value: { kind: "column", path: [{ name: "d" }] } },
        },
      },
    });
  });

  it("parses IN, NOT IN, ANY, IS NULL, LIKE, NOT LIKE, text_search and literals", () => {
    const ast = parseViewQuery(
      "SELECT * FROM t WHERE a IN ('x', :y, -2.5e3) AND b NOT IN (TRUE, false) AND c = ANY(:cs) AND :v = ANY(tags) AND d IS NULL AND e IS NOT NULL AND f LIKE 'it''s%' AND g NOT LIKE :p AND text_search(h, 'w') AND i <> 1",
    );
    const conditions: unknown[] = [];
    const flatten = (c: { kind: string; left?: unknown; right?: unknown }): void => {
      if (c.kind === "and") {
        flatten(c.left as typeof c);
        flatten(c.right as typeof c);
      } else conditions.push(c);
    };
    flatten((shape(ast) as { where: { kind: string } }).where);
    const col = (name: string) => ({ kind: "column", path: [{ name }] });
    assert.deepEqual(conditions, [
      { kind: "in", value: col("a"), list: [{ kind: "string", value: "x" }, { kind: "param", path: [{ name: "y" }] }, { kind: "number", text: "-2.5e3" }], negated: false },
      { kind: "in", value: col("b"), list: [{ kind: "bool", value: true }, { kind: "bool", value: false }], negated: true },
      { kind: "any", value: col("c"), array: { kind: "param", path: [{ name: "cs" }] } },
      { kind: "any", value: { kind: "param", path: [{ name: "v" }] }, array: col("tags") },
      { kind: "is-null", value: col("d"), negated: false },
      { kind: "is-null", value: col("e"), negated: true },
      { kind: "like", value: col("f"), pattern: { kind: "string", value: "it's%" }, negated: false },
      { kind: "like", value: col("g"), pattern: { kind: "param", path: [{ name: "p" }] }, negated: true },
      { kind: "text-search", value: col("h"), query: { kind: "string", value: "w" } },
      { kind: "compare", op: "!=", left: col("i"), right: { kind: "number", text: "1" } },
    ]);
  });

  it("parses joins, collect(), table.*, parenthesised select lists and count(*)", () => {
    const ast = parseViewQuery(
      "SELECT (customers.*, collect(orders) AS orders) AS results FROM customers LEFT OUTER JOIN orders ON orders.customer_id = customers.customer_id",
    );
    assert.deepEqual(shape(ast), {
      distinct: false,
      select: [
        {
          kind: "group",
          items: [{ kind: "star", table: { name: "customers" } }, { kind: "collect", table: { name: "orders" }, alias: { name: "orders" } }],
          alias: { name: "results" },
        },
      ],
      from: { name: "customers" },
      join: {
        type: "left",
        table: { name: "orders" },
        left: { kind: "column", path: [{ name: "orders" }, { name: "customer_id" }] },
        right: { kind: "column", path: [{ name: "customers" }, { name: "customer_id" }] },
      },
      orderBy: [],
    });
    assert.deepEqual(shape(parseViewQuery("SELECT COUNT(*) AS n FROM t")), { distinct: false, select: [{ kind: "count", alias: { name: "n" } }], from: { name: "t" }, orderBy: [] });
    assert.equal(parseViewQuery("SELECT * FROM a INNER JOIN b ON b.x = a.x").join?.type, "inner");
  });

  it("records 1-based columns of every node", () => {
    const ast = parseViewQuery("SELECT name  AS n FROM t\nWHERE  x = :p");
    assert.deepEqual([ast.select[0]?.column, ast.from.column, ast.where?.column], [8, 24, 33]);
    const where = ast.where as unknown as { right: { column: number; path: { column: number }[] } };
    assert.equal(where.right.column, 37);
    assert.equal(where.right.path[0]?.column, 38);
  });
});
