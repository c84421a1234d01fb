import assert from "node:assert/strict";
import { sql } from "kysely";
import { joinMembership } from "../../src/cluster/membership.js";
import { ensureShardLayout } from "../../src/cluster/shard-layout.js";
import { claimFreeShards, handOffShard } from "../../src/cluster/shard-leases.js";
import { createKeyValueStore, FencedWriteError, RevisionConflictError, type KeyValueStore } from "../../src/storage/index.js";
import { fastTiming, testNode } from "../cluster/cluster-fixtures.js";
import { captureStatements, newId } from "../support/journal-fixtures.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";

const state = (n: number) => ({ type: "test.v1.State", payload: new Uint8Array([n, 255 - n]) });

for (const setup of testDatabases()) {
  describe(`KeyValueStore on ${setup.name}`, () => {
    let test: TestDatabase;
    let store: KeyValueStore;
    const { statements, logger } = captureStatements();
    before(async () => {
      test = await setup.create({ migrate: true, logger });
      await ensureShardLayout(test.database, 8);
      // The fenced statement itself, on every dialect: as if another process could write.
      store = createKeyValueStore({ ...test.database, capabilities: { ...test.database.capabilities, exclusiveWriter: false } });
    });
    after(async () => {
      await store?.close();
      await test?.dispose();
    });

    it("writes revision after revision and loads the latest, bytes exactly as written", async () => {
      const id = newId();
      assert.equal(await store.load("customer", id), undefined);
      await store.write({ entityType: "customer", entityId: id, revision: 1, state: state(1) });
      await store.write({ entityType: "customer", entityId: id, revision: 2, state: state(2) });
      const loaded = await store.load("customer", id);
      assert.equal(loaded?.revision, 2);
      assert.equal(loaded?.state?.type, "test.v1.State");
      assert.equal(Object.getPrototypeOf(loaded?.state?.payload), Uint8Array.prototype);
      assert.deepEqual(loaded?.state?.payload, state(2).payload);
    });

    it("rejects a stale writer (a revision already taken, or one skipping ahead of the row) and keeps the stored state", async () => {
      const id = newId();
      await store.write({ entityType: "customer", entityId: id, revision: 1, state: state(1) });
      await store.write({ entityType: "customer", entityId: id, revision: 2, state: state(2) });
      for (const revision of [1, 2, 4]) {
        await assert.rejects(store.write({ entityType: "customer", entityId: id, revision, state: state(9) }), (error: Error) => {
          assert.ok(error instanceof RevisionConflictError, String(error));
          assert.match(error.message, new RegExp(`cannot write revision ${revision} of customer "${id}": another writer changed its state since revision ${revision - 1}`));
          return true;
        });
      }
      assert.deepEqual((await store.load("customer", id))?.state?.payload, state(2).payload);
      assert.equal(store.stats().conflicts >= 3, true);
    });

    it("keeps a deletion as a revision without state; the next write continues the revisions", async () => {
      const id = newId();
      await store.write({ entityType: "customer", entityId: id, revision: 1, state: state(1) });
      await store.write({ entityType: "customer", entityId: id, revision: 2, state: undefined });
      assert.deepEqual(await store.load("customer", id), { revision: 2, state: undefined });
      await assert.rejects(store.write({ entityType: "customer", entityId: id, revision: 1, state: state(5) }), RevisionConflictError);
      await store.write({ entityType: "customer", entityId: id, revision: 3, state: state(3) });
      assert.equal((await store.load("customer", id))?.revision, 3);
    });

    it("commits concurrent writes of many entities in one statement, each row checked on its own", async () => {
      const ids = Array.from({ length: 50 }, newId);
      await Promise.all(ids.map((id) => store.write({ entityType: "many", entityId: id, revision: 1, state: state(1) })));
      statements.length = 0;
      const results = await Promise.allSettled(ids.map((id, i) => store.write({ entityType: "many", entityId: id, revision: i % 5 === 0 ? 1 : 2, state: state(2) })));
      assert.deepEqual(results.map((r) => r.status), ids.map((_, i) => (i % 5 === 0 ? "rejected" : "fulfilled")));
      assert.ok(statements.filter((s) => /insert into orrery_kv_state/i.test(s)).length <= 2, statements.join("\n"));
      const revisions = await Promise.all(ids.map(async (id) => (await store.load("many", id))?.revision));
      assert.deepEqual(revisions, ids.map((_, i) => (i % 5 === 0 ? 1 : 2)));
    });

    it("checks two writes of one entity in one batch one after the other", async () => {
      const id = newId();
      const results = await Promise.allSettled([
        store.write({ entityType: "twice", entityId: id, revision: 1, state: state(1) }),
        store.write({ entityType: "twice", entityId: id, revision: 2, state: state(2) }),
        store.write({ entityType: "twice", entityId: id, revision: 2, state: state(7) }),
      ]);
      assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled", "rejected"]);
      assert.deepEqual((await store.load("twice", id))?.state?.payload, state(2).payload);
    });

    it("moves every write to the end of the change feed: (tx_id, change_position) grows with each", async () => {
      const [a, b] = [newId(), newId()];
      await store.write({ entityType: "feed", entityId: a, revision: 1, state: state(1) });
      await store.write({ entityType: "feed", entityId: b, revision: 1, state: state(1) });
      await store.write({ entityType: "feed", entityId: a, revision: 2, state: undefined });
      const { rows } = await sql<{ entity_id: string; deleted: boolean }>`
        select entity_id, deleted from orrery_kv_state where entity_type = 'feed' order by tx_id, change_position`.execute(test.database.db);
      assert.deepEqual(rows.map((r) => [r.entity_id, r.deleted]), [[b, false], [a, true]]);
    });

    it("fences a write whose shard moved on, writing nothing, while the rest of its batch commits", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      const b = await joinMembership(test.database, testNode("b"), fastTiming);
      const leases = await claimFreeShards(test.database, a, [0, 1]);
      await handOffShard(test.database, a, leases[1]!, b);
      const [kept, fenced, outside] = [newId(), newId(), newId()];
      const results = await Promise.allSettled([
        store.write({ entityType: "fenced", entityId: kept, revision: 1, state: state(1), fence: { shard: 0, epoch: leases[0]!.epoch } }),
        store.write({ entityType: "fenced", entityId: fenced, revision: 1, state: state(1), fence: { shard: 1, epoch: leases[1]!.epoch } }),
        store.write({ entityType: "fenced", entityId: outside, revision: 1, state: state(1) }),
        store.write({ entityType: "fenced", entityId: newId(), revision: 1, state: state(1), fence: { shard: 99, epoch: 1 } }),
      ]);
      assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "rejected"]);
      const reason = (results[1] as PromiseRejectedResult).reason as Error;
      assert.ok(reason instanceof FencedWriteError, String(reason));
      assert.match(reason.message, /write to fenced ".*" was fenced: it carried epoch 1 of shard 1, which is at epoch 2 now/);
      assert.match(String((results[3] as PromiseRejectedResult).reason), /which does not exist/);
      assert.equal(await store.load("fenced", fenced), undefined);
      assert.equal((await store.load("fenced", kept))?.revision, 1);
    });

    it("refuses a revision that is not a positive integer", async () => {
      await assert.rejects(store.write({ entityType: "bad", entityId: newId(), revision: 0, state: state(1) }), /revision 0 is not a positive integer/);
    });
  });
}
