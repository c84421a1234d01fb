// The customer registry's view queries (issue 8), checked against
// descriptors from a real buf build, as the plugin will see them, and run.
import assert from "node:assert/strict";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import { planViewQuery } from "../../src/view-query/index.js";
import { compileProtos } from "../compile-protos.js";
import { createTables, insertRows, runStream, runUnary } from "./run-plan.js";
import { viewDatabases } from "./view-databases.js";
import type { SqlDatabase } from "./view-databases.js";

const proto = `syntax = "proto3";
package customer.registry.v1;
message Address { string street = 1; string city = 2; }
message Customer { string customer_id = 1; string email = 2; string name = 3; Address address = 4; }
message CustomersByCityRequest { string city = 1; int32 page_size = 2; string page_token = 3; }
message CustomersPage { repeated Customer customers = 1; string next_page_token = 2; bool has_more = 3; }
message CustomerByEmailRequest { string email = 1; }
message SearchCustomersRequest { string query = 1; }
`;

for (const database of viewDatabases()) describe(`the customer registry's view queries on ${database.name}`, function () {
  this.timeout(60_000);
  let message: (name: string) => DescMessage;
  let db: SqlDatabase;

  before(async () => {
    const registry = createFileRegistry(await compileProtos({ "customer/registry/v1/customer.proto": proto }));
    message = (name) => {
      const desc = registry.getMessage(`customer.registry.v1.${name}`);
      assert.ok(desc, name);
      return desc;
    };
    db = await database.open();
  });
  after(async () => {
    await db.close();
  });

  function plan(query: string, request: string, response: string, streaming = false) {
    return planViewQuery(query, { tables: new Map([["customers", message("Customer")]]), request: message(request), response: message(response), streaming }, { view: "customers_view" });
  }

  it("checks, compiles and answers all four", async () => {
    const byCity = plan(
      "SELECT * AS customers, next_page_token(), has_more() FROM customers WHERE address.city = :city ORDER BY name LIMIT :page_size OFFSET page_token_offset(:page_token)",
      "CustomersByCityRequest",
      "CustomersPage",
    );
    const byEmail = plan("SELECT * FROM customers WHERE email = :email", "CustomerByEmailRequest", "Customer");
    const search = plan("SELECT * AS customers FROM customers WHERE text_search(name, :query) ORDER BY name", "SearchCustomersRequest", "CustomersPage");
    const stream = plan("SELECT * FROM customers WHERE address.city = :city ORDER BY name", "CustomersByCityRequest", "Customer", true);
    for (const p of [byCity, byEmail, search, stream]) await createTables(db, p);
    const Customer = message("Customer");
    const rows = Object.fromEntries(
      [
        ["c1", "ann@example.com", "Ann Lee", "Oslo"],
        ["c2", "bo@example.com", "Bo Lee", "Oslo"],
        ["c3", "cy@example.com", "Cy Park", "Oslo"],
        ["c4", "di@example.com", "Di Lee", "Rome"],
      ].map(([id, email, name, city]) => [id as string, create(Customer, { customerId: id, email, name, address: { city } })]),
    );
    await insertRows(db, byCity.tables[0]?.sqlName ?? "", Customer, rows);

    const names = (page: unknown) => (page as { customers: { name: string }[] } | undefined)?.customers.map((c) => c.name);
    const first = (await runUnary(db, byCity, create(message("CustomersByCityRequest"), { city: "Oslo", pageSize: 2 }), message("CustomersPage"))) as
      | { customers: { name: string }[]; nextPageToken: string; hasMore: boolean }
      | undefined;
    assert.deepEqual([names(first), first?.hasMore], [["Ann Lee", "Bo Lee"], true]);
    const second = (await runUnary(db, byCity, create(message("CustomersByCityRequest"), { city: "Oslo", pageSize: 2, pageToken: first?.nextPageToken }), message("CustomersPage"))) as
      | { nextPageToken: string; hasMore: boolean }
      | undefined;
    assert.deepEqual([names(second), second?.hasMore, second?.nextPageToken], [["Cy Park"], false, ""]);

    const found = (await runUnary(db, byEmail, create(message("CustomerByEmailRequest"), { email: "di@example.com" }), Customer)) as { customerId: string } | undefined;
    assert.equal(found?.customerId, "c4");
    assert.equal(await runUnary(db, byEmail, create(message("CustomerByEmailRequest"), { email: "x@example.com" }), Customer), undefined);

    assert.deepEqual(names(await runUnary(db, search, create(message("SearchCustomersRequest"), { query: "lee" }), message("CustomersPage"))), ["Ann Lee", "Bo Lee", "Di Lee"]);
    const streamed = await runStream(db, stream, create(message("CustomersByCityRequest"), { city: "Rome" }), Customer);
    assert.deepEqual(streamed.map((c) => (c as unknown as { name: string }).name), ["Di Lee"]);
  });
});
