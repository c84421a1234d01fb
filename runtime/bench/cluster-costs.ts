// What the cluster costs PostgreSQL and each node, for docs/scaling.md: the
// statements of a membership round (heartbeat, reap, members), the shard table
// (a full read, a claim of every shard, a release, a hand-off) with 1, 10 and
// 100 member rows, the fence in the append, the heartbeats/s the server takes,
// the database CPU of an idle cluster, and the node-side hashing (shardOf per
// call, placement per view change). Every statement is the runtime's own
// function; nothing is re-implemented here.
//
//   flock /tmp/orrery-cpu.lock node --import tsx runtime/bench/cluster-costs.ts
//
// BENCH_DATABASE_URL (else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test)
// names the server: each scenario creates a database of its own on it and
// drops it afterwards. BENCH_RUNS (default 3) full runs of BENCH_SECONDS
// (default 1) per measurement; the medians over the runs are printed and,
// with every run, written to bench-results/cluster-costs-<time>.json.
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import pg from "pg";
import { claimFreeShards, desiredShards, ensureShardLayout, handOffShard, joinMembership, releaseShards, shardOf, shardOwners } from "../src/cluster/index.js";
import type { Claimant, Membership, NodeIdentity, ShardLease } from "../src/cluster/index.js";
import { migrateToLatest, openDatabase } from "../src/storage/index.js";
import type { AppendRequest, Database } from "../src/storage/index.js";
import { insertAppends, insertFencedAppends } from "../src/storage/append-statement.js";
import { coresBetween, cpuNanos, postgresCpu } from "./backend-cpu.js";

const serverUrl = process.env["BENCH_DATABASE_URL"] || process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test";
const runs = Number(process.env["BENCH_RUNS"] ?? 3);
const seconds = Number(process.env["BENCH_SECONDS"] ?? 1);
const shardCount = 1024;
const memberCounts = [1, 10, 100];
const heartbeatMs = 500;
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench-results");

/** Latency and database CPU of one statement, run back to back from one connection. */
interface OpCost {
  readonly ops: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  /** Statements per second one connection runs back to back (1 / mean latency). */
  readonly perSecond: number;
  /** CPU of the one backend that ran them, per statement. */
  readonly backendCpuUs: number | undefined;
}

type Results = Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function backendPid(database: Database): Promise<number> {
  return (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(database.db)).rows[0]!.pid;
}

/** Runs `op` back to back for `seconds` (at least 20 times) on `database`'s single connection; `before`/`after` run untimed around each. */
async function timeOp(database: Database, op: (i: number) => Promise<unknown>, hooks: { before?: (i: number) => Promise<unknown>; after?: (i: number) => Promise<unknown> } = {}): Promise<OpCost> {
  const pid = await backendPid(database);
  for (let i = 0; i < 5; i++) {
    await hooks.before?.(-1 - i);
    await op(-1 - i);
    await hooks.after?.(-1 - i);
  }
  const latencies: number[] = [];
  let cpu = 0;
  const until = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < until || i < 20; i++) {
    await hooks.before?.(i);
    const cpuBefore = cpuNanos(pid);
    const started = performance.now();
    await op(i);
    latencies.push(performance.now() - started);
    const cpuAfter = cpuNanos(pid);
    cpu += cpuBefore === undefined || cpuAfter === undefined ? Number.NaN : cpuAfter - cpuBefore;
    await hooks.after?.(i);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const total = latencies.reduce((sum, ms) => sum + ms, 0);
  return {
    ops: latencies.length,
    medianMs: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    perSecond: (latencies.length / total) * 1000,
    backendCpuUs: Number.isNaN(cpu) ? undefined : cpu / 1000 / latencies.length,
  };
}

function identity(prefix: string, i: number): NodeIdentity {
  return { name: `${prefix}-${String(i).padStart(3, "0")}`, address: `http://10.0.${i >> 8}.${i & 255}:8080`, version: "bench", components: ["shopping-cart"] };
}

/** Each membership heartbeats every `everyMs`, spread evenly over the interval, until the returned function is called. */
function heartbeatLoop(memberships: readonly Membership[], everyMs: number): () => Promise<void> {
  let stopped = false;
  const loops = memberships.map(async (membership, i) => {
    await sleep((everyMs * i) / memberships.length);
    while (!stopped) {
      const started = performance.now();
      await membership.heartbeat().catch(() => undefined);
      await sleep(Math.max(0, everyMs - (performance.now() - started)));
    }
  });
  return async () => {
    stopped = true;
    await Promise.all(loops);
  };
}

/** Creates a database of its own on the server, runs `body` with its URL and name, and drops it. */
async function withDatabase<T>(label: string, body: (url: string, name: string) => Promise<T>): Promise<T> {
  const name = `orrery_cluster_costs_${label}_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    try {
      return await body(url.toString(), name);
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`);
    }
  } finally {
    await admin.end();
  }
}

async function openMigrated(url: string, poolSize: number): Promise<Database> {
  const database = await openDatabase({ url, poolSize });
  await migrateToLatest(database);
  await ensureShardLayout(database, shardCount);
  return database;
}

const allShards = Array.from({ length: shardCount }, (_, shard) => shard);

/** The shard-table and membership statements of node-000, while the other `count - 1` members heartbeat every 500 ms. */
async function membershipScenario(count: number, run: number): Promise<Results> {
  return withDatabase(`m${count}`, async (url, name) => {
    const measured = await openMigrated(url, 1);
    const background = await openDatabase({ url, poolSize: Math.min(20, count) });
    try {
      const me = await joinMembership(measured, identity("node", 0));
      const others: Membership[] = [];
      for (let i = 1; i < count; i++) others.push(await joinMembership(background, identity("node", i)));
      const meClaimant: Claimant = { name: me.name, incarnation: me.incarnation };
      const peer: Claimant = others[0] ?? { name: "node-001", incarnation: me.incarnation + 1_000 };
      const results: Results = {};
      const stop = heartbeatLoop(others, heartbeatMs);
      try {
        results["heartbeat"] = await timeOp(measured, () => me.heartbeat());
        results["reap"] = await timeOp(measured, () => me.reap());
        results["members"] = await timeOp(measured, () => me.members());
        results["shardOwners1024"] = await timeOp(measured, () => shardOwners(measured));
        const claimed = await claimFreeShards(measured, meClaimant, allShards);
        if (claimed.length !== shardCount) throw new Error(`claimed ${claimed.length} of ${shardCount} free shards`);
        await releaseShards(measured, meClaimant);
        results["claim1024"] = await timeOp(measured, () => claimFreeShards(measured, meClaimant, allShards), { after: () => releaseShards(measured, meClaimant) });
        results["release1024"] = await timeOp(measured, () => releaseShards(measured, meClaimant), { before: () => claimFreeShards(measured, meClaimant, allShards) });
        let [lease] = await claimFreeShards(measured, meClaimant, [0]);
        let holder = meClaimant;
        let next = peer;
        results["handOff"] = await timeOp(measured, async () => {
          const moved = await handOffShard(measured, holder, lease!, next);
          if (moved === undefined) throw new Error("a hand-off lost its compare-and-set");
          lease = moved;
          [holder, next] = [next, holder];
        });
        if (count === 1) Object.assign(results, await appendScenario(measured, meClaimant, run));
      } finally {
        await stop();
      }
      results["idleCluster"] = await idleCluster([me, ...others], background, name);
      if (count === memberCounts.at(-1)) Object.assign(results, await deadHistory(measured, me, others));
      return results;
    } finally {
      await background.close();
      await measured.close();
    }
  });
}

/** A long-lived cluster: every restart leaves a dead incarnation row, and nothing deletes them. Reap and members with 10,000 of them. */
async function deadHistory(database: Database, me: Membership, others: readonly Membership[]): Promise<Results> {
  await sql`insert into orrery_nodes (name, incarnation, address, version, components, state, started_at, heartbeat_at)
            select 'gone-' || g, nextval('orrery_node_incarnation_seq'), 'http://gone:8080', 'bench', '[]', 'dead',
                   now() - interval '1 day', now() - interval '1 day'
              from generate_series(1, 10000) g`.execute(database.db);
  await sql`analyze orrery_nodes`.execute(database.db);
  const stop = heartbeatLoop(others, heartbeatMs);
  try {
    return { reapWith10000Dead: await timeOp(database, () => me.reap()), membersWith10000Dead: await timeOp(database, () => me.members()) };
  } finally {
    await stop();
  }
}

/** The fence's cost in the append: one statement of 1 or 100 appends (one event each, on as many shards), fenced and not. */
async function appendScenario(database: Database, me: Claimant, run: number): Promise<Results> {
  await releaseShards(database, me); // the hand-off left shard 0 with this node or its peer
  const leases = new Map<number, ShardLease>((await claimFreeShards(database, me, allShards)).map((lease) => [lease.shard, lease]));
  if (leases.size !== shardCount) throw new Error(`claimed ${leases.size} of ${shardCount} shards for the appends`);
  let serial = 0;
  const batch = (size: number, fenced: boolean): AppendRequest[] =>
    Array.from({ length: size }, (_, i) => {
      const shard = (serial * 7 + i) % shardCount;
      return {
        entityType: "bench-cart",
        entityId: `r${run}-${serial++}`,
        events: [{ seqNr: 1, eventType: "bench.v1.ItemAdded", payload: new Uint8Array(48).fill(i & 255) }],
        ...(fenced && { fence: { shard, epoch: leases.get(shard)!.epoch } }),
      };
    });
  const fencedOk = async (appends: AppendRequest[]) => {
    const fenced = await insertFencedAppends(database.db, appends);
    if (fenced.size > 0) throw new Error(`${fenced.size} appends were fenced`);
  };
  const results = {
    append1: await timeOp(database, () => insertAppends(database.db, batch(1, false))),
    append1Fenced: await timeOp(database, () => fencedOk(batch(1, true))),
    append100: await timeOp(database, () => insertAppends(database.db, batch(100, false))),
    append100Fenced: await timeOp(database, () => fencedOk(batch(100, true))),
  };
  await releaseShards(database, me);
  return results;
}

/**
 * `memberships.length` nodes running the node loop's statements every 500 ms
 * (heartbeat, reap, members, and every 10th round the full shard table), as
 * cluster-node.ts does between view changes: the database CPU of a cluster
 * at rest. They share this one process's pool, so the round latency includes
 * waiting for a connection; the CPU does not.
 */
async function idleCluster(memberships: readonly Membership[], database: Database, name: string): Promise<Results> {
  let stopped = false;
  const rounds: number[] = [];
  const window = Math.max(3, seconds * 3);
  const loops = memberships.map(async (membership, i) => {
    await sleep((heartbeatMs * i) / memberships.length);
    for (let round = 1; !stopped; round++) {
      const started = performance.now();
      await membership.heartbeat();
      await membership.reap();
      await membership.members();
      if (round % 10 === 0) await shardOwners(database);
      rounds.push(performance.now() - started);
      await sleep(Math.max(0, heartbeatMs - (performance.now() - started)));
    }
  });
  await sleep(heartbeatMs * 2);
  rounds.length = 0;
  const before = postgresCpu(name);
  const started = performance.now();
  await sleep(window * 1000);
  const cores = coresBetween(before, postgresCpu(name), (performance.now() - started) / 1000);
  const measured = rounds.length;
  stopped = true;
  await Promise.all(loops);
  const sorted = rounds.slice(0, measured).sort((a, b) => a - b);
  return {
    nodes: memberships.length,
    roundsPerSecond: measured / window,
    roundMedianMs: percentile(sorted, 0.5),
    roundP99Ms: percentile(sorted, 0.99),
    databaseCores: cores?.database,
    serverCores: cores?.server,
  };
}

/** Heartbeats/s the server takes from `concurrency` connections, each heartbeating one of 100 members after another. */
async function heartbeatThroughput(run: number): Promise<Results> {
  return withDatabase(`hb${run}`, async (url, name) => {
    const levels = [1, 10, 32];
    const database = await openMigrated(url, Math.max(...levels));
    try {
      const memberships: Membership[] = [];
      for (let i = 0; i < 100; i++) memberships.push(await joinMembership(database, identity("load", i)));
      const results: Results = {};
      for (const concurrency of levels) {
        let count = 0;
        const until = performance.now() + seconds * 2 * 1000;
        const before = postgresCpu(name);
        const started = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, async (_, worker) => {
            for (let i = worker; performance.now() < until; i += concurrency) {
              if ((await memberships[i % memberships.length]!.heartbeat()) !== "ok") throw new Error("a load member was declared dead");
              count++;
            }
          }),
        );
        const elapsed = (performance.now() - started) / 1000;
        const cores = coresBetween(before, postgresCpu(name), elapsed);
        results[`c${concurrency}`] = { heartbeatsPerSecond: count / elapsed, databaseCores: cores?.database, serverCores: cores?.server };
      }
      return results;
    } finally {
      await database.close();
    }
  });
}

/** Node-side hashing: shardOf per call, and the placement of every shard per view change. */
function nodeWork(): Results {
  const calls = 200_000;
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < calls; i++) sink += shardOf("shopping-cart", `cart-${i}`, shardCount);
  const shardOfUs = ((performance.now() - started) * 1000) / calls;
  const placementMs: Record<string, number> = {};
  for (const nodes of [1, 10, 100]) {
    const view = Array.from({ length: nodes }, (_, i) => ({ name: identity("node", i).name, weight: 100 }));
    const times: number[] = [];
    for (let rep = 0; rep < (nodes === 100 ? 5 : 20); rep++) {
      const t0 = performance.now();
      sink += desiredShards(view[0]!.name, shardCount, view).length;
      times.push(performance.now() - t0);
    }
    placementMs[`nodes${nodes}`] = percentile(times.sort((a, b) => a - b), 0.5);
  }
  if (sink < 0) console.log(sink);
  return { shardOfUs, placementMs };
}

/** The median over runs of every numeric leaf. */
function medianOf(values: readonly unknown[]): unknown {
  const first = values[0];
  if (typeof first === "number" || first === undefined) {
    const numbers = values.filter((v): v is number => typeof v === "number").sort((a, b) => a - b);
    return numbers.length === 0 ? undefined : numbers.length % 2 === 1 ? numbers[(numbers.length - 1) / 2] : (numbers[numbers.length / 2 - 1]! + numbers[numbers.length / 2]!) / 2;
  }
  if (typeof first !== "object" || first === null) return first;
  return Object.fromEntries(Object.keys(first).map((key) => [key, medianOf(values.map((v) => (v as Record<string, unknown>)[key]))]));
}

async function serverFacts(): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const names = ["server_version", "max_connections", "synchronous_commit", "fsync", "shared_buffers"];
    const facts: Record<string, string> = {};
    for (const n of names) facts[n] = String((await client.query(`show ${n}`)).rows[0]?.[n]);
    return facts;
  } finally {
    await client.end();
  }
}

const fmt = (n: unknown, digits = 2) => (typeof n === "number" ? n.toFixed(digits) : "—");

function print(median: Record<string, any>): void {
  console.log("\nmedians over runs; one connection, statements back to back; backend CPU from /proc/<pid>/schedstat");
  console.log("scenario".padEnd(22), "members".padStart(7), "median ms".padStart(10), "p99 ms".padStart(8), "per s".padStart(8), "CPU µs".padStart(8));
  for (const count of memberCounts) {
    for (const [op, cost] of Object.entries(median[`members${count}`] as Record<string, any>)) {
      if (op === "idleCluster") continue;
      console.log(op.padEnd(22), String(count).padStart(7), fmt(cost.medianMs, 3).padStart(10), fmt(cost.p99Ms, 3).padStart(8), fmt(cost.perSecond, 0).padStart(8), fmt(cost.backendCpuUs, 0).padStart(8));
    }
  }
  console.log("\nidle cluster (every node: heartbeat, reap, members per 500 ms; shard table every 10th round)");
  for (const count of memberCounts) {
    const idle = median[`members${count}`].idleCluster;
    console.log(`  ${String(count).padStart(3)} nodes: ${fmt(idle.roundsPerSecond, 0)} rounds/s, round median ${fmt(idle.roundMedianMs)} ms, p99 ${fmt(idle.roundP99Ms)} ms; database ${fmt(idle.databaseCores, 3)} cores, whole server ${fmt(idle.serverCores, 3)}`);
  }
  console.log("\nheartbeats/s the server takes (100 members, N connections back to back)");
  for (const [level, r] of Object.entries(median["heartbeatThroughput"] as Record<string, any>)) {
    console.log(`  ${level.padEnd(4)} ${fmt(r.heartbeatsPerSecond, 0)}/s, database ${fmt(r.databaseCores)} cores, whole server ${fmt(r.serverCores)}`);
  }
  const node = median["node"];
  console.log(`\nnode: shardOf ${fmt(node.shardOfUs)} µs per call; placement of ${shardCount} shards over 1/10/100 nodes ${fmt(node.placementMs.nodes1)}/${fmt(node.placementMs.nodes10)}/${fmt(node.placementMs.nodes100)} ms`);
}

const startedAt = new Date();
const facts = await serverFacts();
console.log(`PostgreSQL ${facts["server_version"]} at ${new URL(serverUrl).host}; ${cpus().length} cores (${cpus()[0]?.model}); load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
const all: Results[] = [];
for (let run = 0; run < runs; run++) {
  const result: Results = {};
  for (const count of memberCounts) {
    result[`members${count}`] = await membershipScenario(count, run);
    console.log(`run ${run + 1}/${runs}: ${count} members done`);
  }
  result["heartbeatThroughput"] = await heartbeatThroughput(run);
  result["node"] = nodeWork();
  all.push(result);
}
const median = medianOf(all) as Record<string, any>;
print(median);
await mkdir(resultsDir, { recursive: true });
const file = join(resultsDir, `cluster-costs-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
await writeFile(file, JSON.stringify({ startedAt, server: facts, machine: { cores: cpus().length, model: cpus()[0]?.model, loadAtStart: loadavg() }, runs, secondsPerMeasurement: seconds, median, all }, null, 2));
console.log(`\nwritten to ${file}`);
