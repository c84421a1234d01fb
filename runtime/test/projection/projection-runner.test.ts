import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import pg from "pg";
import { joinMembership } from "../../src/cluster/membership.js";
import { ensureShardLayout } from "../../src/cluster/shard-layout.js";
import { claimFreeShards, handOffShard } from "../../src/cluster/shard-leases.js";
import { createProjectionRunner } from "../../src/projection/index.js";
import type { FeedRecord, ProjectionRunner, ProjectionSpec } from "../../src/projection/index.js";
import { createEventJournal, createFeedSignal, createKeyValueStore } from "../../src/storage/index.js";
import type { Database, EventJournal, FeedSignal } from "../../src/storage/index.js";
import { fastTiming, testNode } from "../cluster/cluster-fixtures.js";
import { capturingLogger } from "../support/capturing-logger.js";
import { event, newId } from "../support/journal-fixtures.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";

/** A projection that records every event it sees in `seen`, whose primary key refuses a record seen twice. */
function recording(name: string, entityTypes: string[], extra: Partial<ProjectionSpec> = {}): ProjectionSpec {
  return {
    name, feed: "events", entityTypes, delivery: "in-transaction",
    async handle(record, db) {
      const seq = record.feed === "events" ? record.seqNr : record.revision;
      await sql`insert into seen (projection, entity_id, seq) values (${name}, ${record.entityId}, ${seq})`.execute(db);
    },
    ...extra,
  };
}

for (const setup of testDatabases()) {
  describe(`projections on ${setup.name}`, function () {
    this.timeout(60_000);
    let test: TestDatabase;
    let database: Database;
    let journal: EventJournal;
    let signal: FeedSignal;
    let runners: ProjectionRunner[];
    const log = capturingLogger();
    const logger = log.logger as Parameters<typeof createProjectionRunner>[1]["logger"];

    beforeEach(async () => {
      test = await setup.create({ migrate: true });
      database = test.database;
      await sql`create table seen (projection text, entity_id text, seq int8, primary key (projection, entity_id, seq))`.execute(database.db);
      signal = createFeedSignal(database);
      journal = createEventJournal(database, { onCommitted: () => signal.committed() });
      runners = [];
      log.lines.length = 0;
    });
    afterEach(async () => {
      await Promise.all(runners.map((r) => r.stop()));
      await journal.close();
      await signal.close();
      await test.dispose();
    });

    const start = (spec: ProjectionSpec, options: Partial<Parameters<typeof createProjectionRunner>[1]> = {}) => {
      const runner = createProjectionRunner(spec, { database, signal, logger, retryMs: 20, maxRetryMs: 200, ...options });
      runners.push(runner);
      runner.start();
      return runner;
    };
    const seen = async (projection: string) =>
      (await sql<{ entity_id: string; seq: number }>`select entity_id, seq from seen where projection = ${projection} order by entity_id, seq`.execute(database.db)).rows
        .map((r) => `${r.entity_id}#${Number(r.seq)}`);

    it("handles every event of its entity types once, in order per entity, and is woken by commits (no polling)", async () => {
      const runner = start(recording("all-carts", ["cart"]), { pollMs: 60_000 });
      const ids = [newId(), newId()];
      for (let n = 1; n <= 3; n++) {
        await Promise.all(ids.map((id) => journal.append({ entityType: "cart", entityId: id, events: [event(n)] })));
      }
      await journal.append({ entityType: "other", entityId: newId(), events: [event(1)] });
      await runner.caughtUp(5_000);
      assert.deepEqual(await seen("all-carts"), ids.sort().flatMap((id) => [1, 2, 3].map((n) => `${id}#${n}`)));
      assert.equal(runner.status().handled, 6);
    });

    it("keeps its offset with its rows: after a restart it goes on where it stopped, handling nothing twice", async () => {
      const id = newId();
      await journal.append({ entityType: "cart", entityId: id, events: [event(1), event(2)] });
      const first = start(recording("restartable", ["cart"]));
      await first.caughtUp();
      await first.stop();
      await journal.append({ entityType: "cart", entityId: id, events: [event(3)] });
      const second = start(recording("restartable", ["cart"]));
      await second.caughtUp();
      assert.deepEqual(await seen("restartable"), [`${id}#1`, `${id}#2`, `${id}#3`]);
      assert.equal(second.status().handled, 1);
    });

    it("retries a failing record with backoff, logs it with the projection and the record, never skips it, and does not hold up other projections", async () => {
      const id = newId();
      let broken = true;
      const failing = start(recording("picky", ["cart"], {
        async handle(record, db) {
          if (broken && record.feed === "events" && record.seqNr === 2) throw new Error("cannot handle #2 yet");
          await sql`insert into seen (projection, entity_id, seq) values ('picky', ${record.entityId}, ${record.feed === "events" ? record.seqNr : 0})`.execute(db);
        },
      }));
      const healthy = start(recording("healthy", ["cart"]));
      await journal.append({ entityType: "cart", entityId: id, events: [event(1), event(2), event(3)] });
      await healthy.caughtUp();
      assert.deepEqual(await seen("healthy"), [`${id}#1`, `${id}#2`, `${id}#3`]);
      while (failing.status().failures < 3) await sleep(20);
      assert.deepEqual(await seen("picky"), [`${id}#1`], "the record before the failing one is committed; nothing after it");
      const errors = log.at("error").filter((l) => l.fields["projection"] === "picky");
      assert.ok(errors.length >= 3);
      assert.match(errors[0]!.message, new RegExp(`^picky: handling event 2 \\(test\\.v1\\.Happened\\) of cart "${id}" failed \\(attempt 1\\): cannot handle #2 yet; retrying in 20 ms`));
      broken = false;
      await failing.caughtUp();
      assert.deepEqual(await seen("picky"), [`${id}#1`, `${id}#2`, `${id}#3`]);
      assert.equal(failing.status().failures, 0);
    });

    it("delivers at least once to a consumer: entities side by side, each in order, and a failing one retried without re-handling the others", async () => {
      const handled: string[] = [];
      let broken = true;
      const [stuck, free] = [newId(), newId()];
      // Every record is there before the consumer starts: otherwise its third failure can come before free#4 is appended.
      for (let n = 1; n <= 4; n++) {
        await journal.append({ entityType: "cart", entityId: stuck, events: [event(n)] });
        await journal.append({ entityType: "cart", entityId: free, events: [event(n)] });
      }
      const runner = start({
        name: "consumer", feed: "events", entityTypes: ["cart"], delivery: "at-least-once",
        async handle(record) {
          if (record.feed !== "events") return;
          if (broken && record.entityId === stuck && record.seqNr === 2) throw new Error("downstream is down");
          await sleep(record.entityId === free ? 1 : 5);
          handled.push(`${record.entityId}#${record.seqNr}`);
        },
      });
      while (runner.status().failures < 3) await sleep(20);
      assert.deepEqual(handled.filter((h) => h.startsWith(free)), [1, 2, 3, 4].map((n) => `${free}#${n}`), "the other entity goes on, each record once");
      assert.deepEqual(handled.filter((h) => h.startsWith(stuck)), [`${stuck}#1`], "nothing of the failing entity after its failing record");
      broken = false;
      await runner.caughtUp();
      assert.deepEqual(handled.filter((h) => h.startsWith(stuck)), [1, 2, 3, 4].map((n) => `${stuck}#${n}`));
      assert.equal(handled.length, 8, "no record handled twice while the process lived");
    });

    it("logs the progress of a long catch-up (a new or rebuilt view): how many records, then that it caught up", async () => {
      const ids = Array.from({ length: 20 }, newId);
      await Promise.all(ids.map((id) => journal.append({ entityType: "cart", entityId: id, events: Array.from({ length: 10 }, (_, i) => event(i + 1)) })));
      const runner = start(recording("rebuilt", ["cart"]), { batchSize: 10 });
      await runner.caughtUp();
      const lines = log.at("info").filter((l) => l.fields["projection"] === "rebuilt").map((l) => l.message);
      assert.equal(lines[0], "rebuilt: catching up on 200 records of cart");
      assert.match(lines.at(-1)!, /^rebuilt: caught up, 200 records in \d+\.\d s$/);
    });

    it("follows the key-value change feed: each entity's latest state and its deletion", async () => {
      const store = createKeyValueStore(database, { onCommitted: () => signal.committed() });
      try {
        const states: string[] = [];
        const runner = start({
          name: "customers", feed: "states", entityTypes: ["customer"], delivery: "in-transaction",
          async handle(record: FeedRecord) {
            if (record.feed === "states") states.push(`${record.entityId}@${record.revision}:${record.state === undefined ? "deleted" : record.state.payload[0]}`);
          },
        }, { pollMs: 60_000 });
        await store.write({ entityType: "customer", entityId: "a", revision: 1, state: { type: "t", payload: new Uint8Array([1]) } });
        await runner.caughtUp(5_000);
        await store.write({ entityType: "customer", entityId: "b", revision: 1, state: { type: "t", payload: new Uint8Array([2]) } });
        await store.write({ entityType: "customer", entityId: "a", revision: 2, state: undefined });
        await runner.caughtUp(5_000);
        assert.deepEqual(states, ["a@1:1", "b@1:2", "a@2:deleted"]);
      } finally {
        await store.close();
      }
    });

    it("runs only where its placement says, fencing its offset with the shard's epoch", async function () {
      if (database.capabilities.exclusiveWriter) this.skip(); // one process owns PGlite: nothing to fence
      await ensureShardLayout(database, 8);
      const a = await joinMembership(database, testNode("a"), fastTiming);
      const b = await joinMembership(database, testNode("b"), fastTiming);
      const [lease] = await claimFreeShards(database, a, [4]);
      let fence: { shard: number; epoch: number } | undefined = { shard: 4, epoch: lease!.epoch };
      const runner = start(recording("placed", ["cart"]), { placement: { current: () => fence, onChange: () => () => {} } });
      const id = newId();
      await journal.append({ entityType: "cart", entityId: id, events: [event(1)] });
      await runner.caughtUp();
      await handOffShard(database, a, lease!, b); // the shard moved on: this node's epoch is stale
      await journal.append({ entityType: "cart", entityId: id, events: [event(2)] });
      for (let i = 0; i < 50 && !log.lines.some((l) => /its shard moved to another node/.test(l.message)); i++) await sleep(20);
      assert.ok(log.lines.some((l) => /^placed: its shard moved to another node; it runs there now$/.test(l.message)));
      assert.deepEqual(await seen("placed"), [`${id}#1`], "the fenced transaction wrote nothing");
      fence = undefined; // not here any more
      assert.equal(runner.status().handled, 1);
    });

    if (setup.dialect === "postgres") {
      it("never skips an event committed late: a transaction held open for a second, with many writers around it", async () => {
        const runner = start(recording("late", ["cart"]), { batchSize: 7 });
        const writerIds = Array.from({ length: 16 }, newId);
        const slowId = newId();
        const slow = new pg.Client({ connectionString: test.url });
        await slow.connect();
        try {
          // The slow transaction takes its xid first, then commits after everyone else.
          await slow.query("begin");
          await slow.query(`insert into orrery_events (entity_type, entity_id, seq_nr, event_type, payload) values ('cart', $1, 1, 'test.v1.Happened', '\\x01')`, [slowId]);
          const writers = writerIds.map(async (id) => {
            for (let n = 1; n <= 10; n++) await journal.append({ entityType: "cart", entityId: id, events: [event(n)] });
          });
          await Promise.all(writers);
          await sleep(1_000);
          const meanwhile = runner.status().handled;
          assert.equal(meanwhile, 0, "nothing after the open transaction's xid is read while it is open");
          await slow.query("commit");
        } finally {
          await slow.end();
        }
        await runner.caughtUp();
        const expected = [...writerIds.flatMap((id) => Array.from({ length: 10 }, (_, i) => `${id}#${i + 1}`)), `${slowId}#1`].sort();
        assert.deepEqual((await seen("late")).sort(), expected);
        assert.equal(runner.status().handled, expected.length);
      });

      it("is woken by commits of another process (LISTEN/NOTIFY after commit)", async () => {
        const other = await test.reopen();
        const otherSignal = createFeedSignal(other);
        const otherJournal = createEventJournal(other, { onCommitted: () => otherSignal.committed() });
        try {
          const runner = start(recording("remote", ["cart"]), { pollMs: 60_000 });
          await runner.caughtUp(5_000);
          await sleep(200); // the LISTEN connection is up
          const id = newId();
          await otherJournal.append({ entityType: "cart", entityId: id, events: [event(1)] });
          for (let i = 0; i < 250 && runner.status().handled < 1; i++) await sleep(20);
          assert.equal(runner.status().handled, 1, "woken without polling");
        } finally {
          await otherJournal.close();
          await otherSignal.close();
        }
      });
    }
  });
}
