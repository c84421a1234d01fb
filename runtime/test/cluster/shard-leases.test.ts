import assert from "node:assert/strict";
import { joinMembership } from "../../src/cluster/membership.js";
import { ensureShardLayout } from "../../src/cluster/shard-layout.js";
import { claimFreeShards, handOffShard, releaseShards, shardOwners } from "../../src/cluster/shard-leases.js";
import { migrateToLatest } from "../../src/storage/index.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";
import { fastTiming, testNode } from "./cluster-fixtures.js";


for (const setup of testDatabases()) {
  describe(`shard leases on ${setup.name}`, () => {
    let test: TestDatabase;
    beforeEach(async () => {
      test = await setup.create();
      await migrateToLatest(test.database);
      await ensureShardLayout(test.database, 16);
    });
    afterEach(() => test?.dispose());

    it("lets two nodes claiming overlapping shards win disjoint sets, each claim raising the epoch", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      const b = await joinMembership(test.database, testNode("b"), fastTiming);
      const [wonA, wonB] = await Promise.all([claimFreeShards(test.database, a, [0, 1, 2, 3]), claimFreeShards(test.database, b, [2, 3, 4, 5])]);
      const shardsA = wonA.map((l) => l.shard);
      const shardsB = wonB.map((l) => l.shard);
      assert.equal(shardsA.filter((s) => shardsB.includes(s)).length, 0, `both won ${shardsA} / ${shardsB}`);
      assert.deepEqual([...shardsA, ...shardsB].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5]);
      for (const lease of [...wonA, ...wonB]) assert.equal(lease.epoch, 1);
      assert.deepEqual(await claimFreeShards(test.database, b, shardsA), [], "a live owner's shards are not free");
    });

    it("frees the shards of a node declared dead: the claimant gets them at a higher epoch", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      await claimFreeShards(test.database, a, [7, 8]);
      const b = await joinMembership(test.database, testNode("b"), fastTiming);
      await a.leave(); // as a peer's reap would mark it
      const won = await claimFreeShards(test.database, b, [7, 8, 9]);
      assert.deepEqual(won, [{ shard: 7, epoch: 2 }, { shard: 8, epoch: 2 }, { shard: 9, epoch: 1 }]);
      const owners = await shardOwners(test.database);
      assert.deepEqual(owners.filter((o) => [7, 8, 9].includes(o.shard)).map((o) => `${o.shard}:${o.ownerName}/${o.ownerIncarnation}@${o.epoch}`), [
        `7:b/${b.incarnation}@2`, `8:b/${b.incarnation}@2`, `9:b/${b.incarnation}@1`,
      ]);
    });

    it("treats an older incarnation of the same name as gone: a restarted node reclaims its shards", async () => {
      const old = await joinMembership(test.database, testNode("a"), fastTiming);
      await claimFreeShards(test.database, old, [3]);
      const restarted = await joinMembership(test.database, testNode("a"), fastTiming);
      assert.deepEqual(await claimFreeShards(test.database, restarted, [3]), [{ shard: 3, epoch: 2 }]);
    });

    it("hands a shard off by compare-and-set on holder and epoch; a stale hand-off changes nothing", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      const b = await joinMembership(test.database, testNode("b"), fastTiming);
      const [lease] = await claimFreeShards(test.database, a, [4]);
      const moved = await handOffShard(test.database, a, lease!, b);
      assert.deepEqual(moved, { shard: 4, epoch: 2 });
      assert.equal(await handOffShard(test.database, a, lease!, b), undefined, "a no longer holds it at epoch 1");
      const owner = (await shardOwners(test.database))[4];
      assert.deepEqual([owner?.ownerName, owner?.epoch], ["b", 2]);
    });

    it("releases every shard of a leaving node, raising each epoch", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      await claimFreeShards(test.database, a, [1, 2, 3]);
      assert.equal(await releaseShards(test.database, a), 3);
      const owners = (await shardOwners(test.database)).filter((o) => [1, 2, 3].includes(o.shard));
      assert.deepEqual(owners.map((o) => [o.ownerName, o.epoch]), [[null, 2], [null, 2], [null, 2]]);
    });
  });
}
