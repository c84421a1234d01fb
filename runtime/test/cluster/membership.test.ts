import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { checkMembershipTiming, defaultMembershipTiming, joinMembership } from "../../src/cluster/membership.js";
import { ensureShardLayout, ShardLayoutMismatchError } from "../../src/cluster/shard-layout.js";
import { migrateToLatest } from "../../src/storage/index.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";
import { fastTiming, testNode } from "./cluster-fixtures.js";


describe("membership timing", () => {
  it("accepts the defaults and refuses a node that could still serve after its peers declared it dead", () => {
    checkMembershipTiming(defaultMembershipTiming);
    assert.throws(() => checkMembershipTiming({ heartbeatMs: 1_000, deadAfterMs: 4_000, selfFenceAfterMs: 4_000 }), /margin must be at least one heartbeat/);
    assert.throws(() => checkMembershipTiming({ heartbeatMs: 1_000, deadAfterMs: 9_000, selfFenceAfterMs: 1_500 }), /at least twice the 1000 ms heartbeat/);
  });
});

for (const setup of testDatabases()) {
  describe(`cluster membership on ${setup.name}`, () => {
    let test: TestDatabase;
    beforeEach(async () => {
      test = await setup.create();
      await migrateToLatest(test.database);
    });
    afterEach(() => test?.dispose());

    it("writes the shard layout at first start, one lease row per shard, and refuses another count later", async () => {
      assert.deepEqual(await ensureShardLayout(test.database, 64), { shardCount: 64, shardHash: "sha256-be32" });
      assert.deepEqual(await ensureShardLayout(test.database, 64), { shardCount: 64, shardHash: "sha256-be32" });
      const { rows } = await sql<{ n: number; lo: number; hi: number; epochs: number }>`
        select count(*)::int as n, min(shard) as lo, max(shard) as hi, sum(epoch)::int as epochs from orrery_shards`.execute(test.database.db);
      assert.deepEqual(rows[0], { n: 64, lo: 0, hi: 63, epochs: 0 });
      await assert.rejects(ensureShardLayout(test.database, 1024), (error: Error) => {
        assert.ok(error instanceof ShardLayoutMismatchError);
        assert.match(error.message, /was set up with 64 shards, but ORRERY_SHARD_COUNT is 1024: the shard count can never change .* set ORRERY_SHARD_COUNT=64/);
        return true;
      });
    });

    it("gives every join a new, growing incarnation and declares the older incarnation of the same name dead", async () => {
      const first = await joinMembership(test.database, testNode("a"), fastTiming);
      const second = await joinMembership(test.database, testNode("a"), fastTiming);
      assert.ok(second.incarnation > first.incarnation);
      assert.equal(await first.heartbeat(), "declared-dead");
      assert.equal(first.holdsLease(), false);
      assert.equal(await second.heartbeat(), "ok");
      const members = await second.members();
      assert.deepEqual(
        members.map((m) => [m.name, m.incarnation, m.state]),
        [["a", first.incarnation, "dead"], ["a", second.incarnation, "up"]],
      );
      assert.deepEqual(members[1]?.components, ["shopping-cart"]);
    });

    it("lets a live peer declare dead a node that missed its heartbeats, by the database's clock; the dead node learns it at its next heartbeat", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      const b = await joinMembership(test.database, testNode("b"), fastTiming);
      assert.deepEqual(await b.reap(), [], "nobody is late yet");
      // b keeps heartbeating; a stops (a SIGSTOPped or partitioned process).
      const until = performance.now() + fastTiming.deadAfterMs + 150;
      while (performance.now() < until) {
        assert.equal(await b.heartbeat(), "ok");
        await sleep(fastTiming.heartbeatMs);
      }
      assert.equal(a.holdsLease(), false, "a fenced itself before it could be declared dead");
      assert.deepEqual(await b.reap(), [{ name: "a", incarnation: a.incarnation }]);
      assert.equal(await a.heartbeat(), "declared-dead");
      assert.deepEqual((await b.members()).map((m) => `${m.name}:${m.state}`), ["a:dead", "b:up"]);
    });

    it("holds the lease while heartbeats succeed and loses it selfFenceAfterMs after the last one was sent", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      assert.equal(a.holdsLease(), true);
      await sleep(fastTiming.selfFenceAfterMs / 2);
      assert.equal(await a.heartbeat(), "ok");
      await sleep(fastTiming.selfFenceAfterMs / 2 + 20);
      assert.equal(a.holdsLease(), true, "the heartbeat renewed it");
      await sleep(fastTiming.selfFenceAfterMs / 2);
      assert.equal(a.holdsLease(), false);
    });

    it("stamps heartbeats with the database's now(), never the node's clock", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      await sleep(120);
      await a.heartbeat();
      const { rows } = await sql<{ skew_ms: number }>`
        select (extract(epoch from now() - heartbeat_at) * 1000)::float8 as skew_ms from orrery_nodes where name = 'a'`.execute(test.database.db);
      assert.ok(rows[0]!.skew_ms >= 0 && rows[0]!.skew_ms < 100, `heartbeat ${rows[0]!.skew_ms} ms before the database's now()`);
      const [member] = await a.members();
      assert.ok(member!.heartbeatAgeMs < 100);
    });

    it("drains, then leaves", async () => {
      const a = await joinMembership(test.database, testNode("a"), fastTiming);
      await a.drain();
      assert.equal((await a.members())[0]?.state, "draining");
      assert.equal(await a.heartbeat(), "ok", "a draining node still heartbeats");
      await a.leave();
      assert.equal((await a.members())[0]?.state, "dead");
      assert.equal(a.holdsLease(), false);
    });
  });
}
