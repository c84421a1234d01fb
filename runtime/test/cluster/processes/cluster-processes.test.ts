import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import "../../support/postgres.js"; // its root hook stops the embedded server after the run
import { eventually, startCluster, timings } from "./cluster-harness.js";
import type { NodeProcess, ProcessCluster } from "./cluster-harness.js";
import { checkJournal } from "./journal-check.js";
import { connectionReset, failuresByCode, startLoad } from "./load-client.js";
import type { CallRecord, LoadOptions } from "./load-client.js";

// Until nodes forward calls, the client follows the orrery-shard-owner header.
const routing: Partial<LoadOptions> = { followOwner: true };

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

const summary = (calls: readonly CallRecord[]) => `${calls.length} calls, ${calls.filter((c) => c.ok).length} acknowledged, failures ${JSON.stringify(failuresByCode(calls))}`;
const prefix = () => `t${randomBytes(3).toString("hex")}`;

describe("a cluster of shopping-cart processes under load", function () {
  this.timeout(60_000);
  let cluster: ProcessCluster | undefined;
  afterEach(async function () {
    if (this.currentTest?.state === "failed" && cluster !== undefined) console.log(cluster.logs());
    await cluster?.close();
    cluster = undefined;
  });

  it("serves a SIGKILLed node's shards again within 10 s; clients see only UNAVAILABLE meanwhile and every acknowledged command exactly once", async () => {
    cluster = await startCluster(3);
    await cluster.settled();
    const load = startLoad(cluster.urls, { prefix: prefix(), ...routing });
    await sleep(1_000);
    const victim = cluster.nodes[1]!;
    const { incarnation, shards } = await shardsOf(cluster, victim);
    const killedAt = performance.now();
    victim.signal("SIGKILL");
    const takenAt = await when("the survivors own the victim's shards", () => takenOver(cluster!, victim.name, incarnation, shards));
    await sleep(1_000);
    const calls = await load.stop();
    const failed = calls.filter((c) => !c.ok);
    const lastFailure = Math.max(killedAt, ...failed.filter((c) => !c.tried.every((u) => u === victim.url)).map((c) => c.endedAt));
    console.log(`    SIGKILL: ${shards.size} shards taken over after ${Math.round(takenAt - killedAt)} ms; last failed call to a survivor ${Math.round(lastFailure - killedAt)} ms after the kill; ${summary(calls)}`);
    assert.ok(takenAt - killedAt < 10_000, `taken over after ${takenAt - killedAt} ms`);
    // A call in flight to the killed process itself sees its connection reset: that is no answer of the cluster.
    const reset = failed.filter((c) => connectionReset(c) && c.tried.at(-1) === victim.url);
    const wrong = failed.filter((c) => c.code !== "Unavailable" && !reset.includes(c));
    assert.deepEqual(wrong.map((c) => `${c.code} via ${c.tried.join(" > ")}: ${c.message}`), []);
    const report = await checkJournal(cluster, calls);
    assert.ok(report.acknowledged > 100, summary(calls));
  });
});
