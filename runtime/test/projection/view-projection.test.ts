import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import type { AnyViewUpdateHandler, View } from "@orrery/sdk";
import { sql } from "kysely";
import { pino } from "pino";
import { createProjectionRunner, createViewTableDirectory, viewTableProjection } from "../../src/projection/index.js";
import { createEventJournal, createFeedSignal, createKeyValueStore } from "../../src/storage/index.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";
import { AddedSchema, CounterSchema, CounterService, field, ResetSchema } from "../../../sdk/test/fixtures.js";

/** A view with two tables: totals of the event-sourced counters, and the key-value counters as they are. */
function countersView(handlers: Record<string, AnyViewUpdateHandler>): View {
  return {
    kind: "view",
    spec: {
      name: "counters_view",
      queries: {},
      service: CounterService,
      tables: [
        { name: "totals", sqlName: '"view_counters_view__totals"', row: CounterSchema, source: "counter", feed: "events",
          updates: { "test.Added": "onAdded" }, ignored: ["test.Reset"], messages: [AddedSchema, ResetSchema],
          indexes: [`create index if not exists "view_counters_view__totals_value" on "view_counters_view__totals" (((row->>'value')::numeric))`] },
        { name: "kv", sqlName: '"view_counters_view__kv"', row: CounterSchema, source: "kv-counter", feed: "states",
          updates: { "test.Counter": "onState" }, ignored: [], messages: [CounterSchema], indexes: [] },
      ],
    },
    handler: (name) => handlers[name],
  };
}

for (const setup of testDatabases()) {
  describe(`view tables on ${setup.name}`, function () {
    this.timeout(30_000);
    let test: TestDatabase;
    beforeEach(async () => (test = await setup.create({ migrate: true })));
    afterEach(() => test.dispose());

    it("keeps a row per entity from its events and from key-value states, deleting rows with their entities; a failing update waits, the ones before it commit", async () => {
      const { database } = test;
      let broken = false;
      const view = countersView({
        onAdded: (row, update, ctx) => {
          if (broken && field(update, "amount") === 13) throw new Error("unlucky");
          return onAdded(row, update, ctx);
        },
        onState: (_row, state, ctx) => ctx.updateRow(state),
      });
      const onAdded: AnyViewUpdateHandler = (row, update, ctx) => (field(update, "amount") === -1 ? ctx.deleteRow()
          : ctx.updateRow(create(CounterSchema, { value: ((row === undefined ? 0 : field(row, "value")) as number) + (field(update, "amount") as number) } as never)));
      const tables = createViewTableDirectory(() => database, pino({ level: "silent" }));
      await tables.prepare(view);
      await tables.prepare(view); // idempotent
      const signal = createFeedSignal(database);
      const journal = createEventJournal(database, { onCommitted: () => signal.committed() });
      const store = createKeyValueStore(database, { onCommitted: () => signal.committed() });
      const runners = view.spec.tables.map((table) => createProjectionRunner(viewTableProjection(view, table), { database, signal, logger: pino({ level: "silent" }), retryMs: 20, maxRetryMs: 100 }));
      for (const r of runners) r.start();
      try {
        const added = (amount: number) => ({ eventType: "test.Added", payload: toBinary(AddedSchema, create(AddedSchema, { amount } as never)) });
        await journal.append({ entityType: "counter", entityId: "a", events: [{ seqNr: 1, ...added(2) }, { seqNr: 2, eventType: "test.Reset", payload: new Uint8Array(0) }, { seqNr: 3, ...added(5) }] });
        await journal.append({ entityType: "counter", entityId: "b", events: [{ seqNr: 1, ...added(1) }, { seqNr: 2, ...added(-1) }] });
        const state = (value: number) => ({ type: "test.Counter", payload: toBinary(CounterSchema, create(CounterSchema, { value } as never)) });
        await store.write({ entityType: "kv-counter", entityId: "k1", revision: 1, state: state(0) });
        await store.write({ entityType: "kv-counter", entityId: "k2", revision: 1, state: state(9) });
        await store.write({ entityType: "kv-counter", entityId: "k2", revision: 2, state: undefined });
        await Promise.all(runners.map((r) => r.caughtUp()));
        const rows = async (table: string) => (await sql<{ key: string; row: unknown }>`select key, row from ${sql.raw(table)} order by key`.execute(database.db)).rows;
        // Proto field names, defaults left out (as toJson writes them).
        assert.deepEqual(await rows('"view_counters_view__totals"'), [{ key: "a", row: { value: 7 } }]);
        assert.deepEqual(await rows('"view_counters_view__kv"'), [{ key: "k1", row: {} }]);

        // A handler that throws on one event: the events before it in its batch are committed, it and those after wait.
        broken = true;
        await journal.append({ entityType: "counter", entityId: "c", events: [{ seqNr: 1, ...added(1) }, { seqNr: 2, ...added(13) }, { seqNr: 3, ...added(1) }] });
        const totals = runners[0]!;
        while (totals.status().failures < 2) await sleep(20);
        assert.deepEqual((await rows('"view_counters_view__totals"')).find((r) => r.key === "c"), { key: "c", row: { value: 1 } });
        broken = false;
        await totals.caughtUp();
        assert.deepEqual((await rows('"view_counters_view__totals"')).find((r) => r.key === "c"), { key: "c", row: { value: 15 } });
      } finally {
        await Promise.all(runners.map((r) => r.stop()));
        await store.close();
        await journal.close();
        await signal.close();
      }
    });
  });
}
