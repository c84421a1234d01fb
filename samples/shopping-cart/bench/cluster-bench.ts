// The cluster rows of `npm run bench`: the sample as one node and as a
// 2-node cluster on one fresh PostgreSQL database, measured in the same run
// and alternated (single, cluster, …, cluster, single) so that a machine that
// speeds up or slows down does not favour one; the forwarding overhead per
// call (c=1 to the owner vs through the other node); the failover time after
// SIGKILL and the planned hand-off time after SIGTERM, with the default
// cluster timing, each a median of BENCH_CLUSTER_ROUNDS.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { desiredOwner } from "../../../runtime/src/cluster/placement.js";
import { defaultShardCount, shardOf } from "../../../runtime/src/cluster/shard-hash.js";
import { AddItemRequestSchema, ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { openClient } from "./client-shape.js";
import type { ClientShape } from "./client-shape.js";
import { openH2Client } from "./load-generator-h2.js";
import { runLoad, sendEachOnce, sleep } from "./load-generator.js";
import type { LoadClient, LoadResult, UnaryCall } from "./load-generator.js";
import { startSampleServer } from "./sample-server.js";
import type { SampleServer } from "./sample-server.js";
import type { Scenario } from "./scenarios.js";

/** A throughput row: the scenario against one node or against both. */
export interface ClusterRow extends LoadResult {
  readonly nodes: 1 | 2;
  readonly round: number;
  /** How the load generator connected: h2×2 to the one node, or one h2 session to each node. */
  readonly client: string;
  /** Calls sent to the node that owns their cart (a shard-aware client), rather than alternating. */
  readonly toOwner: boolean;
}

/** Everything the cluster part of the benchmark measured. */
export interface ClusterBench extends Pick<Scenario, "id" | "rpc" | "carts" | "concurrency"> {
  readonly rows: readonly ClusterRow[];
  readonly medianRps: {
    readonly single: number;
    readonly cluster: number;
    readonly ratio: number;
    /** The 2-node rows whose client sent each call to its cart's owner: no call forwarded. */
    readonly clusterToOwner: number;
    readonly ratioToOwner: number;
  };
  /** c=1 AddItem on carts the first node owns: sent to it, and sent to the other node (forwarded). */
  readonly forwarding: { readonly local: LoadResult; readonly forwarded: LoadResult; readonly overheadMicros: number };
  /** SIGKILL of the second node until a call for one of its carts, made through the first, succeeds. */
  readonly failoverMs: readonly number[];
  /** SIGTERM of the second node until a call for one of its carts, made through the first, succeeds; and until it exited. */
  readonly handoffMs: readonly number[];
  readonly handoffExitMs: readonly number[];
  readonly medians: { readonly failoverMs: number; readonly handoffMs: number; readonly handoffExitMs: number };
  /** The nodes' cluster settings (the defaults) and what else they were given. */
  readonly settings: Record<string, string>;
}

export interface ClusterBenchOptions {
  readonly scenario: Scenario & { readonly activate: NonNullable<Scenario["activate"]> };
  /** DATABASE_URL of a fresh database. */
  readonly storageEnv: Record<string, string>;
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly rounds: number;
  readonly log: (line: string) => void;
  readonly interrupted: () => boolean;
}

const NAMES = ["bench-node-a", "bench-node-b"] as const;
const SECRET = "bench-cluster-secret-0123456789abcdef";
const SINGLE_CLIENT = "h2×2 to the one node";
const CLUSTER_CLIENT = "h2×1 to each of the 2 nodes";
const OWNER_CLIENT = "h2×1 to each of the 2 nodes, each call to its cart's owner";

/** Runs the cluster rows; the servers it starts are stopped whatever happens. */
export async function runClusterBench(options: ClusterBenchOptions): Promise<ClusterBench> {
  const { scenario, log } = options;
  const env = (name: string) => ({ ...options.storageEnv, ORRERY_CLUSTER_SECRET: SECRET, ORRERY_NODE_NAME: name });
  const rows: ClusterRow[] = [];
  const failoverMs: number[] = [];
  const handoffMs: number[] = [];
  const handoffExitMs: number[] = [];
  let a: SampleServer | undefined;
  let b: SampleServer | undefined;
  const startB = async () => {
    b = await startSampleServer(env(NAMES[1]));
    await bothReady(a!, b);
  };
  try {
    a = await startSampleServer(env(NAMES[0]));
    log(`cluster: node ${NAMES[0]} pid ${a.pid} ready at ${a.url}; activating ${scenario.carts} carts…`);
    await sendEachOnce(scenario.activate, await openClient(shape(1), a.url), 64);
    const owners = ownersOf(scenario.call);
    const row = async (nodes: 1 | 2, round: number, toOwner = false) => {
      if (options.interrupted()) throw new Error("interrupted");
      const client = nodes === 1 ? await openH2Client(a!.url, 2) : await spread([a!.url, b!.url], toOwner ? owners : undefined);
      const result = await runLoad(scenario.call, client, {
        concurrency: scenario.concurrency, warmupMs: options.warmupSeconds * 1000, measureMs: options.seconds * 1000, serverPid: a!.pid,
      });
      rows.push({ ...result, nodes, round, toOwner, client: nodes === 1 ? SINGLE_CLIENT : toOwner ? OWNER_CLIENT : CLUSTER_CLIENT });
      log(`cluster: ${scenario.id}, ${nodes === 1 ? "1 node " : "2 nodes"}${toOwner ? " to owners" : ""} (round ${round}): ${result.rps.toFixed(0)} req/s, p50 ${result.latencyMs.p50.toFixed(2)} ms, ` +
        `p99 ${result.latencyMs.p99.toFixed(2)} ms, ${result.errors + result.warmupErrors} errors, machine cpu ${(result.cpu.machine ?? 0).toFixed(2)}`);
    };

    await row(1, 1);
    await startB();
    log(`cluster: node ${NAMES[1]} pid ${b!.pid} joined at ${b!.url}; both ready`);
    await row(2, 1);
    await row(2, 1, true);

    const ofB = cartsOwnedBy(NAMES[1], 1)[0]!;
    const probe = probeThrough(a.url, ofB);
    for (let round = 1; round <= options.rounds; round++) {
      if (options.interrupted()) throw new Error("interrupted");
      process.kill(b!.pid, "SIGKILL");
      const killedAt = performance.now();
      await probe();
      failoverMs.push(performance.now() - killedAt);
      await b!.stop();
      log(`cluster: failover ${round}/${options.rounds}: a call for ${NAMES[1]}'s cart succeeded through ${NAMES[0]} ${failoverMs.at(-1)!.toFixed(0)} ms after SIGKILL`);
      await startB();
    }
    for (let round = 1; round <= options.rounds; round++) {
      if (options.interrupted()) throw new Error("interrupted");
      const stoppedAt = performance.now();
      const exited = b!.stop().then(() => performance.now() - stoppedAt);
      await probe();
      handoffMs.push(performance.now() - stoppedAt);
      handoffExitMs.push(await exited);
      log(`cluster: hand-off ${round}/${options.rounds}: served through ${NAMES[0]} ${handoffMs.at(-1)!.toFixed(0)} ms after SIGTERM; the node exited after ${handoffExitMs.at(-1)!.toFixed(0)} ms`);
      await startB();
    }

    const local = cartsOwnedBy(NAMES[0], 200);
    const call = addItemOn(local);
    const c1 = { concurrency: 1, warmupMs: 500, measureMs: Math.max(2, options.seconds) * 1000 };
    const direct = await runLoad(call, await openH2Client(a.url, 1), { ...c1, serverPid: a.pid });
    const forwarded = await runLoad(call, await openH2Client(b!.url, 1), { ...c1, serverPid: b!.pid });
    const overheadMicros = (forwarded.latencyMs.p50 - direct.latencyMs.p50) * 1000;
    log(`cluster: c=1 AddItem on ${NAMES[0]}'s carts: sent to it p50 ${direct.latencyMs.p50.toFixed(3)} ms, through ${NAMES[1]} p50 ` +
      `${forwarded.latencyMs.p50.toFixed(3)} ms: forwarding adds ${overheadMicros.toFixed(0)} µs`);

    await row(2, 2, true);
    await row(2, 2);
    await b!.stop();
    await waitFor(async () => (await status(a!.url)).node.ready === true, 15_000, "the first node holds every shard again");
    await row(1, 2);
    const rps = (nodes: 1 | 2, toOwner = false) => median(rows.filter((r) => r.nodes === nodes && r.toOwner === toOwner).map((r) => r.rps));
    return {
      id: scenario.id, rpc: scenario.rpc, carts: scenario.carts, concurrency: scenario.concurrency,
      rows,
      medianRps: { single: rps(1), cluster: rps(2), ratio: rps(2) / rps(1), clusterToOwner: rps(2, true), ratioToOwner: rps(2, true) / rps(1) },
      forwarding: { local: direct, forwarded, overheadMicros },
      failoverMs, handoffMs, handoffExitMs,
      medians: { failoverMs: median(failoverMs), handoffMs: median(handoffMs), handoffExitMs: median(handoffExitMs) },
      settings: { ORRERY_CLUSTER_SECRET: "(set)", ORRERY_NODE_NAME: NAMES.join(", "), timing: "defaults (ORRERY_HEARTBEAT_MS 500, ORRERY_SELF_FENCE_AFTER_MS 2500, ORRERY_DEAD_AFTER_MS 3500, ORRERY_REBALANCE_STABLE_MS 3000)" },
    };
  } finally {
    await Promise.allSettled([a?.stop(), b?.stop()]);
  }
}

/** The table of the cluster rows. */
export function formatCluster(c: ClusterBench): string {
  const lines = [
    `Cluster (PostgreSQL, one machine): ${c.id} at c=${c.concurrency}`,
    ...c.rows.map((r) => `  ${r.nodes === 1 ? "1 node " : "2 nodes"} round ${r.round}, ${r.client}: ${r.rps.toFixed(0)} req/s, p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, ${r.errors} errors`),
    `  median: 1 node ${c.medianRps.single.toFixed(0)} req/s, 2 nodes ${c.medianRps.cluster.toFixed(0)} req/s: ${c.medianRps.ratio.toFixed(2)}× (design goal ≥ 1.5×)`,
    `  median with each call sent to its cart's owner (none forwarded): 2 nodes ${c.medianRps.clusterToOwner.toFixed(0)} req/s: ${c.medianRps.ratioToOwner.toFixed(2)}×`,
    `  forwarded AddItem (c=1): +${c.forwarding.overheadMicros.toFixed(0)} µs per call (p50 ${c.forwarding.local.latencyMs.p50.toFixed(3)} → ${c.forwarding.forwarded.latencyMs.p50.toFixed(3)} ms)`,
    `  failover after SIGKILL: median ${c.medians.failoverMs.toFixed(0)} ms (${c.failoverMs.map((ms) => ms.toFixed(0)).join(", ")})`,
    `  planned hand-off after SIGTERM: served elsewhere after median ${c.medians.handoffMs.toFixed(0)} ms (${c.handoffMs.map((ms) => ms.toFixed(0)).join(", ")}); ` +
      `the node exited after median ${c.medians.handoffExitMs.toFixed(0)} ms`,
  ];
  return lines.join("\n");
}

function shape(connections: number): ClientShape {
  return { id: `h2x${connections}`, label: `h2×${connections}`, protocol: "h2", connections };
}

/** One h2 session to each URL, calls alternating between them, or each sent to `owners[index]`. */
async function spread(urls: readonly string[], owners?: readonly number[]): Promise<LoadClient> {
  const clients = await Promise.all(urls.map((url) => openH2Client(url, 1)));
  let turn = 0;
  return {
    send: (call, index, done) => clients[owners === undefined ? turn++ % clients.length : owners[index]!]!.send(call, index, done),
    close: () => clients.forEach((c) => c.close()),
    destroy: () => clients.forEach((c) => c.destroy()),
  };
}

/** For each body of an AddItem call, the index in NAMES of the node placement gives its cart to. */
function ownersOf(call: UnaryCall): number[] {
  const nodes = NAMES.map((n) => ({ name: n, weight: 100 }));
  return call.bodies.map((body) => {
    const { cartId } = fromBinary(AddItemRequestSchema, body);
    return NAMES.indexOf(desiredOwner(shardOf("shopping-cart", cartId, defaultShardCount), nodes) as (typeof NAMES)[number]);
  });
}

/** Carts that placement over the two nodes gives to `name`. */
function cartsOwnedBy(name: string, count: number): string[] {
  const nodes = NAMES.map((n) => ({ name: n, weight: 100 }));
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++) {
    const id = `bench-cluster-${i}`;
    if (desiredOwner(shardOf("shopping-cart", id, defaultShardCount), nodes) === name) ids.push(id);
  }
  return ids;
}

function addItemOn(carts: readonly string[]): UnaryCall {
  return {
    path: `/${ShoppingCartService.typeName}/${ShoppingCartService.method.addItem.name}`,
    bodies: carts.map((cartId) => toBinary(AddItemRequestSchema, create(AddItemRequestSchema, { cartId, productId: "pen", name: "pen", quantity: 1 }))),
    check: () => true,
  };
}

/** A function that calls AddItem for `cartId` through `url` until one succeeds (each call may wait while the shard moves). */
function probeThrough(url: string, cartId: string): () => Promise<void> {
  const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
  return async () => {
    const until = performance.now() + 60_000;
    for (;;) {
      try {
        await client.addItem({ cartId, productId: "probe", name: "probe", quantity: 1 }, { timeoutMs: 20_000 });
        return;
      } catch (error) {
        if (performance.now() > until) throw new Error(`the cart ${cartId} was not served within 60 s: ${String(error)}`);
        await sleep(10);
      }
    }
  };
}

interface StatusBody {
  readonly node: { readonly ready: boolean };
  readonly unowned?: number;
  readonly members: readonly { readonly name: string; readonly state: string; readonly shards: number }[];
}

async function status(url: string): Promise<StatusBody> {
  const response = await fetch(`${url}/orrery/cluster`);
  return (await response.json()) as StatusBody;
}

/** Until both are ready and the shards are split as placement says (the rebalance after a join is over). */
async function bothReady(a: SampleServer, b: SampleServer): Promise<void> {
  const nodes = NAMES.map((n) => ({ name: n, weight: 100 }));
  const expected = new Map<string, number>(NAMES.map((n) => [n, 0]));
  for (let shard = 0; shard < defaultShardCount; shard++) {
    const owner = desiredOwner(shard, nodes)!;
    expected.set(owner, (expected.get(owner) ?? 0) + 1);
  }
  await waitFor(async () => {
    const [sa, sb] = await Promise.all([status(a.url), status(b.url)]);
    const split = NAMES.every((name) => sa.members.find((m) => m.name === name && m.state === "up")?.shards === expected.get(name));
    return sa.node.ready && sb.node.ready && sa.unowned === 0 && split;
  }, 60_000, "both nodes hold the shards placement gives them");
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check().catch(() => false))) {
    if (performance.now() > until) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(50);
  }
}

function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
