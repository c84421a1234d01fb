import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { joinMembership } from "../../src/cluster/membership.js";
import { ensureShardLayout } from "../../src/cluster/shard-layout.js";
import { claimFreeShards, handOffShard } from "../../src/cluster/shard-leases.js";
import { createEventJournal, FencedWriteError, type EventJournal } from "../../src/storage/index.js";
import { captureStatements, event, newId } from "../support/journal-fixtures.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";
import { fastTiming, testNode } from "./cluster-fixtures.js";

const snapshot = (seqNr: number) => ({ seqNr, stateType: "test.v1.State", payload: new Uint8Array([seqNr]) });

for (const setup of testDatabases()) {
  describe(`fenced appends on ${setup.name}`, () => {
    let test: TestDatabase;
    let journal: EventJournal;
    const { statements, logger } = captureStatements();
    beforeEach(async () => {
      test = await setup.create({ migrate: true, logger });
      await ensureShardLayout(test.database, 8);
      // The fenced statement itself, on every dialect: as if another process could write (PGlite's lock rules that out, see below).
      journal = createEventJournal({ ...test.database, capabilities: { ...test.database.capabilities, exclusiveWriter: false } });
    });
    afterEach(async () => {
      await journal?.close();
      await test?.dispose();
    });

    it("commits an append whose epoch is current, and rejects one whose shard moved on, writing none of its events or snapshot", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      const b = await joinMembership(test.database, testNode("b"), fastTiming);
      const [lease] = await claimFreeShards(test.database, a, [3]);
      const id = newId();
      await journal.append({ entityType: "cart", entityId: id, events: [event(1)], fence: { shard: 3, epoch: lease!.epoch } });
      await handOffShard(test.database, a, lease!, b); // epoch 1 → 2: a's later writes are stale

      const stale = journal.append({ entityType: "cart", entityId: id, events: [event(2), event(3)], snapshot: snapshot(3), fence: { shard: 3, epoch: lease!.epoch } });
      await assert.rejects(stale, (error: Error) => {
        assert.ok(error instanceof FencedWriteError, String(error));
        assert.deepEqual([error.shard, error.epoch, error.currentEpoch], [3, 1, 2]);
        assert.match(error.message, /append to cart ".*" was fenced: it carried epoch 1 of shard 3, which is at epoch 2 now/);
        return true;
      });
      const loaded = await journal.load("cart", id);
      assert.deepEqual(loaded.events.map((e) => e.seqNr), [1]);
      assert.equal(loaded.snapshot, undefined);
      // The new owner, at the new epoch, continues the same history.
      await journal.append({ entityType: "cart", entityId: id, events: [event(2)], fence: { shard: 3, epoch: 2 } });
      assert.deepEqual((await journal.readEvents("cart", id)).map((e) => e.seqNr), [1, 2]);
    });

    it("checks each append of one group-commit statement on its own: the fenced one fails, the others commit", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      const b = await joinMembership(test.database, testNode("b"), fastTiming);
      const leases = await claimFreeShards(test.database, a, [0, 1, 2]);
      await handOffShard(test.database, a, leases[1]!, b);
      const ids = [newId(), newId(), newId(), newId()];
      statements.length = 0;
      const results = await Promise.allSettled([
        journal.append({ entityType: "cart", entityId: ids[0]!, events: [event(1)], fence: { shard: 0, epoch: 1 } }),
        journal.append({ entityType: "cart", entityId: ids[1]!, events: [event(1)], snapshot: snapshot(1), fence: { shard: 1, epoch: 1 } }),
        journal.append({ entityType: "cart", entityId: ids[2]!, events: [event(1)], fence: { shard: 2, epoch: 1 } }),
        journal.append({ entityType: "cart", entityId: ids[3]!, events: [event(1)] }), // a writer outside the cluster's fencing
      ]);
      assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "fulfilled"]);
      assert.equal(statements.filter((s) => /insert into orrery_events/i.test(s)).length, 1, "one statement for the batch");
      assert.deepEqual(await Promise.all(ids.map(async (id) => (await journal.readEvents("cart", id)).length)), [1, 0, 1, 1]);
      assert.equal((await journal.load("cart", ids[1]!)).snapshot, undefined);
    });

    it("rejects an append for a shard that does not exist", async () => {
      await assert.rejects(
        journal.append({ entityType: "cart", entityId: newId(), events: [event(1)], fence: { shard: 99, epoch: 1 } }),
        (error: Error) => error instanceof FencedWriteError && error.currentEpoch === undefined && /which does not exist/.test(error.message),
      );
    });

    if (setup.dialect === "postgres") {
      it("keeps appends racing a hand-off linearizable: each acknowledged one is in the journal, each fenced one is not", async () => {
        const a = await joinMembership(test.database, testNode("a"), fastTiming);
        const b = await joinMembership(test.database, testNode("b"), fastTiming);
        const [lease] = await claimFreeShards(test.database, a, [5]);
        const id = newId();
        // Many appends in flight while the shard moves: each one commits at epoch 1 before the move, or is fenced after it.
        const appends = Array.from({ length: 40 }, (_, i) =>
          sleep(i % 10).then(() => journal.append({ entityType: "cart", entityId: `${id}-${i}`, events: [event(1)], fence: { shard: 5, epoch: lease!.epoch } })),
        );
        await sleep(4);
        const moved = await handOffShard(test.database, a, lease!, b);
        assert.deepEqual(moved, { shard: 5, epoch: 2 });
        const settled = await Promise.allSettled(appends);
        const rows = await test.database.db.selectFrom("orrery_events").select("entity_id").where("entity_id", "like", `${id}-%`).execute();
        const committed = new Set(rows.map((r) => r.entity_id));
        settled.forEach((result, i) => {
          const written = committed.has(`${id}-${i}`);
          if (result.status === "fulfilled") assert.ok(written, `append ${i} was acknowledged but is not in the journal`);
          else {
            assert.ok(result.reason instanceof FencedWriteError, String(result.reason));
            assert.ok(!written, `append ${i} was fenced but its event is in the journal`);
          }
        });
      });
    }

    if (setup.dialect === "pglite") {
      it("on PGlite, whose data directory no other process can open, appends without consulting the shard table", async () => {
        const own = createEventJournal(test.database);
        try {
          statements.length = 0;
          await own.append({ entityType: "cart", entityId: newId(), events: [event(1)], fence: { shard: 3, epoch: 99 } });
          assert.ok(statements.some((s) => /orrery_events/.test(s)), "the append ran");
          assert.ok(!statements.some((s) => /orrery_shards/.test(s)), "the shard table was not read");
        } finally {
          await own.close();
        }
      });
    }
  });
}
