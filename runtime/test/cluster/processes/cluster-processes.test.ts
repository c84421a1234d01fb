import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import "../../support/postgres.js"; // its root hook stops the embedded server after the run
import { shardOf } from "../../../src/cluster/shard-hash.js";
import { eventually, shardCount, startCluster, timings } from "./cluster-harness.js";
import type { NodeProcess, ProcessCluster } from "./cluster-harness.js";
import { checkJournal } from "./journal-check.js";
import { connectionReset, failureSamples, failuresByCode, startLoad as startClusterLoad } from "./load-client.js";
import type { CallRecord } from "./load-client.js";

/** `performance.now()` once `check` holds, polling every 20 ms. */
async function when(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<number> {
  await eventually(what, check, ms);
  return performance.now();
}

/** The shards `node`'s current incarnation owns. */
async function shardsOf(cluster: ProcessCluster, node: NodeProcess): Promise<{ incarnation: number; shards: Set<number> }> {
  const incarnation = await cluster.incarnationOf(node.name);
  assert.ok(incarnation !== undefined, `${node.name} is up`);
  const shards = new Set((await cluster.shards()).filter((r) => r.owner === node.name && r.incarnation === incarnation).map((r) => r.shard));
  return { incarnation, shards };
}

/** Resolves when no shard of `lost` is owned by `name`/`incarnation` and each has an up owner. */
async function takenOver(cluster: ProcessCluster, name: string, incarnation: number, lost: ReadonlySet<number>): Promise<boolean> {
  const rows = (await cluster.shards()).filter((r) => lost.has(r.shard));
  return rows.every((r) => !(r.owner === name && r.incarnation === incarnation) && r.ownerState === "up");
}

/** The database's clock now, in ms: comparable with the write audit's `at`. */
async function databaseNow(cluster: ProcessCluster): Promise<number> {
  const { rows } = await sql<{ now: Date }>`select clock_timestamp() as now`.execute(cluster.database.db);
  return new Date(rows[0]!.now).getTime();
}

const summary = (calls: readonly CallRecord[]) =>
  `${calls.length} calls, ${calls.filter((c) => c.ok).length} acknowledged, failures ${JSON.stringify(failuresByCode(calls))}, ` +
  `${calls.reduce((n, c) => n + c.refused, 0)} refused streams${failureSamples(calls).map((line) => `\n      ${line}`).join("")}`;
const prefix = () => `t${randomBytes(3).toString("hex")}`;

describe("a cluster of shopping-cart processes under load", function () {
  this.timeout(60_000);
  let cluster: ProcessCluster | undefined;
  // A test that fails mid-load leaves its load running, and its sessions would keep mocha from exiting.
  const loads = new Set<ReturnType<typeof startLoad>>();
  const startLoad: typeof startClusterLoad = (...args) => {
    const load = startClusterLoad(...args);
    loads.add(load);
    return load;
  };
  afterEach(async function () {
    if (this.currentTest?.state === "failed" && cluster !== undefined) console.log(cluster.logs());
    await Promise.allSettled([...loads].map((load) => load.stop()));
    loads.clear();
    await cluster?.close();
    cluster = undefined;
  });

  it("serves a SIGKILLed node's shards again within 10 s; clients see only UNAVAILABLE meanwhile and every acknowledged command exactly once", async () => {
    cluster = await startCluster(3);
    await cluster.settled();
    const load = startLoad(cluster.urls, { prefix: prefix() });
    await sleep(1_000);
    const victim = cluster.nodes[1]!;
    const { incarnation, shards } = await shardsOf(cluster, victim);
    const killedAt = performance.now();
    victim.signal("SIGKILL");
    const takenAt = await when("the survivors own the victim's shards", () => takenOver(cluster!, victim.name, incarnation, shards));
    await sleep(1_000);
    const calls = await load.stop();
    const failed = calls.filter((c) => !c.ok);
    // Served again: by then, every cart of the lost shards that a survivor was asked for after the takeover had an acknowledged call since the kill.
    const victimCarts = new Set(calls.filter((c) => c.startedAt > takenAt && c.tried.some((url) => url !== victim.url) && shards.has(shardOf("shopping-cart", c.cartId, shardCount))).map((c) => c.cartId));
    const servedAgainAt = Math.max(...[...victimCarts].map((cart) => calls.find((c) => c.cartId === cart && c.ok && c.startedAt > killedAt)?.endedAt ?? Infinity));
    const slowest = Math.max(...calls.filter((c) => c.ok && c.startedAt > killedAt).map((c) => c.endedAt - c.startedAt));
    console.log(`    SIGKILL: ${shards.size} shards taken over after ${Math.round(takenAt - killedAt)} ms, all ${victimCarts.size} of their carts served again ` +
      `${Math.round(servedAgainAt - killedAt)} ms after the kill (slowest acknowledged call ${Math.round(slowest)} ms); ${summary(calls)}`);
    // A call in flight to the killed process itself sees its connection reset: that is no answer of the cluster.
    const reset = failed.filter((c) => connectionReset(c) && c.tried.at(-1) === victim.url);
    const wrong = failed.filter((c) => c.code !== "Unavailable" && !reset.includes(c));
    assert.deepEqual(wrong.map((c) => `${c.code} via ${c.tried.join(" > ")}: ${c.message}`), []);
    assert.ok(servedAgainAt - killedAt < 10_000, `served again after ${servedAgainAt - killedAt} ms`);
    assert.ok(takenAt - killedAt < 10_000, `taken over after ${takenAt - killedAt} ms`);
    const report = await checkJournal(cluster, calls);
    assert.ok(report.acknowledged >= 20, `the load ran: ${summary(calls)}`);
  });

  it("a node SIGSTOPped past its lease commits nothing for the shards it lost once SIGCONTed, drops them and rejoins as a new incarnation", async () => {
    cluster = await startCluster(3);
    await cluster.settled();
    const load = startLoad(cluster.urls, { prefix: prefix(), timeoutMs: 2_000 });
    await sleep(1_000);
    const victim = cluster.nodes[0]!;
    const pid = victim.process.child.pid!;
    const { incarnation, shards } = await shardsOf(cluster, victim);
    const stoppedAt = performance.now();
    victim.signal("SIGSTOP");
    const takenAt = await when("the others own the stopped node's shards", () => takenOver(cluster!, victim.name, incarnation, shards));
    const takenAtDb = await databaseNow(cluster);
    // Stopped for longer than dead-after: its lease lapsed long ago when it runs again.
    await sleep(Math.max(0, timings.deadAfterMs + 500 - (performance.now() - stoppedAt)));
    victim.signal("SIGCONT");
    const resumedAt = performance.now();
    const rejoinedAt = await when("it rejoined as a new incarnation", async () => ((await cluster!.incarnationOf(victim.name)) ?? 0) > incarnation);
    const readyAt = await when("it is ready again", async () => (await victim.readyz()).status === 200);
    await sleep(1_000);
    const calls = await load.stop();
    console.log(`    SIGSTOP: ${shards.size} shards taken over ${Math.round(takenAt - stoppedAt)} ms after the stop; resumed after ${Math.round(resumedAt - stoppedAt)} ms; ` +
      `a new incarnation ${Math.round(rejoinedAt - resumedAt)} ms and ready ${Math.round(readyAt - resumedAt)} ms after SIGCONT; ${summary(calls)}`);
    const report = await checkJournal(cluster, calls);
    // After the takeover the stopped process may write a lost shard only once placement gave it back to its new incarnation.
    const late = report.writes.filter((w) => w.pid === pid && shards.has(w.shard) && w.at >= takenAtDb && !(w.owner === victim.name && (w.incarnation ?? 0) > incarnation));
    assert.deepEqual(late, [], "writes of the stopped node for shards it had lost");
    const back = report.writes.filter((w) => w.pid === pid && shards.has(w.shard) && w.at >= takenAtDb).length;
    console.log(`    SIGSTOP: after the takeover it wrote ${back} events to the lost shards, all once they were its new incarnation's`);
    assert.match(victim.process.output, /fenced itself|rejoined the cluster as incarnation/);
    assert.ok(report.acknowledged >= 20, `the load ran: ${summary(calls)}`);
  });

  it("a node cut off from PostgreSQL stops serving before the others take its shards, and rejoins once the network heals", async () => {
    cluster = await startCluster(3, { viaProxy: [0] });
    await cluster.settled();
    const load = startLoad(cluster.urls, { prefix: prefix(), timeoutMs: 2_000 });
    await sleep(1_000);
    const victim = cluster.nodes[0]!;
    const { incarnation, shards } = await shardsOf(cluster, victim);
    let notReadyAt = 0;
    let takenAt = 0;
    const cutAt = performance.now();
    victim.proxy!.blackhole();
    await eventually("the node is not ready and the others own its shards", async () => {
      if (notReadyAt === 0 && (await victim.readyz()).status !== 200) notReadyAt = performance.now();
      if (takenAt === 0 && (await takenOver(cluster!, victim.name, incarnation, shards))) takenAt = performance.now();
      return notReadyAt > 0 && takenAt > 0;
    });
    await sleep(500);
    const restoredAt = performance.now();
    victim.proxy!.restore();
    const rejoinedAt = await when("it rejoined as a new incarnation", async () => ((await cluster!.incarnationOf(victim.name)) ?? 0) > incarnation);
    const readyAt = await when("it is ready again", async () => (await victim.readyz()).status === 200);
    await sleep(1_000);
    const calls = await load.stop();
    console.log(`    partition: not ready ${Math.round(notReadyAt - cutAt)} ms after the cut, ${shards.size} shards taken over after ${Math.round(takenAt - cutAt)} ms; ` +
      `after the heal a new incarnation in ${Math.round(rejoinedAt - restoredAt)} ms, ready in ${Math.round(readyAt - restoredAt)} ms; ${summary(calls)}`);
    assert.ok(notReadyAt < takenAt, `not ready after ${notReadyAt - cutAt} ms, taken over after ${takenAt - cutAt} ms`);
    // A node cut off mid-commit answers its callers before their deadline (UNAVAILABLE, "not known whether applied")
    // instead of letting their DEADLINE_EXCEEDED come first.
    const wrong = calls.filter((c) => !c.ok && c.code !== "Unavailable");
    assert.deepEqual(wrong.map((c) => `${c.code} via ${c.tried.join(" > ")}: ${c.message}`), []);
    await checkJournal(cluster, calls);
  });

  it("gives a fourth node started under load its share of the shards, and no call fails but with UNAVAILABLE", async () => {
    cluster = await startCluster(3);
    await cluster.settled();
    let targets = cluster.urls();
    const load = startLoad(() => targets, { prefix: prefix() });
    await sleep(1_000);
    const startedAt = performance.now();
    const added = await cluster.addNode();
    const readyAt = performance.now();
    targets = cluster.urls();
    await cluster.settled();
    await sleep(1_000);
    const calls = await load.stop();
    const share = (await cluster.shards()).filter((r) => r.owner === added.name).length;
    console.log(`    fourth node: ready with ${share} shards ${Math.round(readyAt - startedAt)} ms after its start; ${summary(calls)}`);
    assert.ok(share >= 8, `the fourth node holds ${share} of 64 shards`);
    const wrong = calls.filter((c) => !c.ok && c.code !== "Unavailable");
    assert.deepEqual(wrong.map((c) => `${c.code} via ${c.tried.join(" > ")}: ${c.message}`), []);
    await checkJournal(cluster, calls);
  });

  it("restarts every node in turn under load (SIGTERM, exit, start, ready) while a client retrying UNAVAILABLE sees no failed call", async () => {
    cluster = await startCluster(3);
    await cluster.settled();
    const load = startLoad(cluster.urls, { prefix: prefix(), attempts: 5 });
    await sleep(1_000);
    const times: string[] = [];
    for (const node of cluster.nodes) {
      const stoppingAt = performance.now();
      const exit = await node.stop();
      const exitedAt = performance.now();
      assert.equal(exit, 0, `${node.name} exited with ${exit}:\n${node.process.output.slice(-3_000)}`);
      await node.start();
      times.push(`${node.name} exited in ${Math.round(exitedAt - stoppingAt)} ms, ready ${Math.round(performance.now() - exitedAt)} ms after its restart`);
      await cluster.settled();
    }
    await sleep(500);
    const calls = await load.stop();
    console.log(`    rolling restart: ${times.join("; ")}; ${summary(calls)}`);
    const failed = calls.filter((c) => !c.ok);
    assert.deepEqual(failed.map((c) => `${c.code} via ${c.tried.join(" > ")}: ${c.message}`), []);
    await checkJournal(cluster, calls);
  });
});
