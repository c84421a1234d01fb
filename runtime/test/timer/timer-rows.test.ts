import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { joinMembership } from "../../src/cluster/membership.js";
import { ensureShardLayout } from "../../src/cluster/shard-layout.js";
import { claimFreeShards, handOffShard } from "../../src/cluster/shard-leases.js";
import { FencedWriteError } from "../../src/storage/index.js";
import { earliestTimers, settleTimer, writeTimers } from "../../src/timer/index.js";
import type { NewTimer } from "../../src/timer/index.js";
import { fastTiming, testNode } from "../cluster/cluster-fixtures.js";
import { newId } from "../support/journal-fixtures.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";

const timer = (name: string, shard: number, dueAt: number): NewTimer => ({
  name, shard, generation: randomUUID(), dueAt: new Date(dueAt), service: "test.v1.S", method: "M", payload: new Uint8Array([1, 2, 3]),
});

for (const setup of testDatabases()) {
  describe(`timer rows on ${setup.name}`, () => {
    let test: TestDatabase;
    before(async () => {
      test = await setup.create({ migrate: true });
      await ensureShardLayout(test.database, 8);
    });
    after(() => test?.dispose());

    it("replaces a timer by name, cancels by name, and reads the earliest of the given shards first", async () => {
      const [a, b, c] = [newId(), newId(), newId()];
      await writeTimers(test.database.db, [timer(a, 2, 3_000), timer(b, 2, 1_000), timer(c, 3, 500)], []);
      await writeTimers(test.database.db, [timer(a, 2, 2_000)], [c]);
      const rows = await earliestTimers(test.database.db, [2, 3], [], 10);
      assert.deepEqual(rows.filter((r) => [a, b, c].includes(r.name)).map((r) => [r.name, r.dueAt.getTime(), r.attempts]), [[b, 1_000, 0], [a, 2_000, 0]]);
      assert.deepEqual([...rows[0]!.payload], [1, 2, 3]);
      assert.deepEqual((await earliestTimers(test.database.db, [2], [b], 10)).map((r) => r.name).filter((n) => [a, b].includes(n)), [a]);
    });

    it("settles only the generation it fired: a reschedule meanwhile stays", async () => {
      const name = newId();
      const fired = timer(name, 4, 1_000);
      await writeTimers(test.database.db, [fired], []);
      await settleTimer(test.database.db, fired, undefined, { at: new Date(5_000), attempts: 1, error: "boom" });
      const [retried] = await earliestTimers(test.database.db, [4], [], 10).then((rows) => rows.filter((r) => r.name === name));
      assert.deepEqual([retried?.dueAt.getTime(), retried?.attempts], [5_000, 1]);
      const replacement = timer(name, 4, 9_000);
      await writeTimers(test.database.db, [replacement], []);
      await settleTimer(test.database.db, fired, undefined);
      const [kept] = (await earliestTimers(test.database.db, [4], [], 10)).filter((r) => r.name === name);
      assert.deepEqual([kept?.generation, kept?.attempts], [replacement.generation, 0]);
      await settleTimer(test.database.db, replacement, undefined);
      assert.equal((await earliestTimers(test.database.db, [4], [], 10)).filter((r) => r.name === name).length, 0);
    });

    it("fences the firing node's writes with its shard's epoch", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      const b = await joinMembership(test.database, testNode("b"), fastTiming);
      const leases = await claimFreeShards(test.database, a, [5, 6]);
      await handOffShard(test.database, a, leases[1]!, b);
      const [kept, fenced] = [timer(newId(), 5, 1_000), timer(newId(), 6, 1_000)];
      await writeTimers(test.database.db, [kept, fenced], []);
      await settleTimer(test.database.db, kept, { shard: 5, epoch: leases[0]!.epoch });
      await assert.rejects(settleTimer(test.database.db, fenced, { shard: 6, epoch: leases[1]!.epoch }), (error: unknown) => {
        assert.ok(error instanceof FencedWriteError);
        assert.equal(error.currentEpoch, leases[1]!.epoch + 1);
        assert.match(error.message, /the firing node.s write to timer ".*" was fenced: it carried epoch \d+ of shard 6/);
        return true;
      });
      const left = (await earliestTimers(test.database.db, [5, 6], [], 10)).map((r) => r.name);
      assert.ok(!left.includes(kept.name) && left.includes(fenced.name), "the fenced timer is still there for the shard's new owner");
    });
  });
}
