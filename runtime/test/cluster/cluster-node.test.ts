import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createClusterNode } from "../../src/cluster/cluster-node.js";
import type { ClusterChange, ClusterNode, ClusterNodeOptions } from "../../src/cluster/cluster-node.js";
import { desiredShards } from "../../src/cluster/placement.js";
import { ensureShardLayout } from "../../src/cluster/shard-layout.js";
import { shardOwners } from "../../src/cluster/shard-leases.js";
import { openDatabase } from "../../src/storage/index.js";
import type { Database } from "../../src/storage/index.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { fastTiming, testNode } from "./cluster-fixtures.js";

/** Polls `check` until it holds, at most `ms`. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(10);
  }
}

const nodeOptions = (database: Database, shardCount: number, more: Partial<ClusterNodeOptions> = {}): ClusterNodeOptions => ({
  database, shardCount, timing: fastTiming, stableAfterMs: 200, ...more,
});

for (const setup of testDatabases()) {
  describe(`cluster node on ${setup.name}`, () => {
    let test: TestDatabase;
    const nodes: ClusterNode[] = [];
    beforeEach(async () => {
      test = await setup.create({ migrate: true });
    });
    afterEach(async () => {
      await Promise.allSettled(nodes.splice(0).map((node) => node.leave()));
      await test?.dispose();
    });

    it("alone, owns every one of 1024 shards once join() resolves, claimed in one statement, and is ready", async () => {
      await ensureShardLayout(test.database, 1024);
      // Alone, nothing takes its shards: a 200 ms self-fence would only fail it when a busy machine delays a heartbeat.
      const node = createClusterNode(nodeOptions(test.database, 1024, { timing: { ...fastTiming, selfFenceAfterMs: 5_000, deadAfterMs: 6_000 } }));
      nodes.push(node);
      const changes: ClusterChange[] = [];
      node.onChange((change) => changes.push(change));
      const started = performance.now();
      await node.join(testNode("solo"));
      const ms = performance.now() - started;
      assert.equal(node.ownedShards().length, 1024);
      assert.ok(node.ready, node.notReadyReason());
      assert.equal(node.epochOf(node.shardOf("shopping-cart", "c1")), 1);
      assert.deepEqual(changes.map((c) => c.kind), ["gained", "ready"]);
      const owners = await shardOwners(test.database);
      assert.ok(owners.every((o) => o.ownerName === "solo" && o.ownerIncarnation === node.incarnation && o.epoch === 1));
      assert.ok(ms < 10_000, `joining took ${ms} ms`); // one statement, not 1,024: a bound far above it, not a speed check

      await node.leave();
      assert.equal(node.ownedShards().length, 0);
      assert.equal(node.ready, false);
      assert.ok((await shardOwners(test.database)).every((o) => o.ownerName === null && o.epoch === 2), "leaving released every shard, fencing its late writes");
    });

    if (setup.dialect === "postgres") {
      it("shares the shards with a second node by rendezvous once the view is stable, and takes them all back when it leaves", async () => {
        await ensureShardLayout(test.database, 64);
        const second = await test.reopen();
        const a = createClusterNode(nodeOptions(test.database, 64));
        const b = createClusterNode(nodeOptions(second, 64));
        nodes.push(a, b);
        await a.join(testNode("a"));
        assert.equal(a.ownedShards().length, 64);
        const gainedAt = performance.now();
        let bReadyAt = 0;
        b.onChange((change) => {
          if (change.kind === "ready" && change.ready) bReadyAt = performance.now();
        });
        await b.join(testNode("b"));
        const view = [{ name: "a", weight: 100 }, { name: "b", weight: 100 }];
        const wantA = desiredShards("a", 64, view);
        const wantB = desiredShards("b", 64, view);
        await eventually("b holds its shards", () => b.ready && a.ownedShards().length === wantA.length);
        assert.deepEqual(a.ownedShards().map((l) => l.shard), wantA);
        assert.deepEqual(b.ownedShards().map((l) => l.shard), wantB);
        assert.ok(bReadyAt - gainedAt >= 200, `shards moved ${bReadyAt - gainedAt} ms after b joined, before the view was stable for 200 ms`);
        for (const { shard, epoch } of b.ownedShards()) assert.equal(epoch, 2, `shard ${shard} moved once`);
        // Each knows where the other's shards are.
        const bShard = wantB[0]!;
        assert.equal(a.epochOf(bShard), undefined);
        assert.equal(a.ownerOf(bShard)?.address, "http://b:8080");
        assert.match(a.whyNotServed(bShard), new RegExp(`shard ${bShard} is owned by node b at http://b:8080, not by this node \\(a\\)`));

        await b.leave();
        await eventually("a holds every shard again", () => a.ownedShards().length === 64 && a.ready, 2_000);
        assert.equal(a.ownedShards().find((l) => l.shard === bShard)?.epoch, 3, "b handed it straight to a (3)");
      });

      it("fences itself when its heartbeats stop reaching the database, before a peer may take its shards; the peer takes them, and it rejoins once the network heals", async () => {
        await ensureShardLayout(test.database, 32);
        const url = new URL(test.url!);
        const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
        const throughProxy = await openDatabase({ url: `postgres://${url.username}@127.0.0.1:${proxy.port}${url.pathname}`, connectTimeoutMs: 500, statementTimeoutMs: 500 });
        try {
          const a = createClusterNode(nodeOptions(throughProxy, 32));
          const b = createClusterNode(nodeOptions(test.database, 32));
          nodes.push(a, b);
          await a.join(testNode("a"));
          await b.join(testNode("b"));
          await eventually("the shards are split", () => a.ready && b.ready && b.ownedShards().length < 32);
          const aShards = a.ownedShards().map((l) => l.shard);
          let fencedAt = 0;
          let takenAt = 0;
          a.onChange((change) => {
            if (change.kind === "lost" && change.reason === "self-fenced") fencedAt = performance.now();
          });
          b.onChange((change) => {
            if (change.kind === "gained" && change.shards.includes(aShards[0]!)) takenAt ||= performance.now();
          });
          const cutAt = performance.now();
          proxy.blackhole();
          await eventually("b took a's shards", () => b.ownedShards().length === 32, 3_000);
          assert.ok(fencedAt > 0 && fencedAt < takenAt, `a fenced itself at ${fencedAt - cutAt} ms, b took over at ${takenAt - cutAt} ms`);
          assert.ok(fencedAt - cutAt <= fastTiming.selfFenceAfterMs + 60, `a fenced itself ${fencedAt - cutAt} ms after the cut`);
          assert.equal(a.ownedShards().length, 0);
          assert.equal(a.epochOf(aShards[0]!), undefined);
          assert.equal(a.ready, false);
          assert.match(a.whyNotServed(aShards[0]!), /serves no shards right now: no successful heartbeat to the database within 200 ms/);

          const before = a.incarnation;
          proxy.restore();
          await eventually("a rejoined and got its shards back", () => a.ready && a.ownedShards().length > 0, 5_000);
          assert.ok(a.incarnation! > before!, "as a new incarnation");
        } finally {
          await Promise.allSettled(nodes.splice(0).map((node) => node.leave()));
          await throughProxy.close();
          await proxy.close();
        }
      });
    }
  });
}
