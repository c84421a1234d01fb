// A cluster of real shopping-cart processes on loopback, sharing one fresh
// PostgreSQL database, for tests that kill, stop, partition and restart nodes.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { migrateToLatest, openDatabase } from "../../../src/storage/index.js";
import type { Database } from "../../../src/storage/index.js";
import { cleanEnv, repoRoot, startProcess, waitReady } from "../../cli/cli-process.js";
import type { WatchedProcess } from "../../cli/cli-process.js";
import { admin, freePort, postgresServerUrl, withDatabase } from "../../support/postgres-server.js";
import { startTcpProxy } from "../../support/tcp-proxy.js";
import type { TcpProxy } from "../../support/tcp-proxy.js";
import { installWriteAudit } from "./write-audit.js";

/** Short cluster timings: 100 ms heartbeats, fenced after 500 ms, dead after 700 ms, shards move after 300 ms of a stable view. */
export const timings = { heartbeatMs: 100, selfFenceAfterMs: 500, deadAfterMs: 700, rebalanceStableMs: 300 } as const;
export const shardCount = 64;
const sampleDir = path.join(repoRoot, "samples", "shopping-cart");
const running = new Set<WatchedProcess>();
// A crashed test run must not leave nodes behind.
process.on("exit", () => {
  for (const child of running) child.child.kill("SIGKILL");
});

/** One node of the cluster: a fixed name and port, and the process currently running it (replaced by {@link NodeProcess.start}). */
export interface NodeProcess {
  readonly name: string;
  readonly url: string;
  readonly process: WatchedProcess;
  /** The pid of every process that ran this node, oldest first. */
  readonly pids: readonly number[];
  /** The TCP proxy between this node and PostgreSQL, when it was started `viaProxy`. */
  readonly proxy: TcpProxy | undefined;
  signal(signal: NodeJS.Signals): void;
  readyz(): Promise<{ status: number; body: string }>;
  /** Starts a new process for this node (the previous one must have exited) and waits for /readyz 200. */
  start(): Promise<void>;
  /** SIGTERM, then waits for the exit; resolves with its code or signal. */
  stop(): Promise<number | string>;
}

/** A row of orrery_shards with its owner's membership state. */
export interface ShardRow {
  readonly shard: number;
  readonly owner: string | null;
  readonly incarnation: number | null;
  readonly epoch: number;
  readonly ownerState: string | null;
}

/** The cluster; see {@link startCluster}. */
export interface ProcessCluster {
  readonly nodes: NodeProcess[];
  /** The test's own connection to the cluster's database. */
  readonly database: Database;
  /** ORRERY_CLUSTER_SECRET of every node. */
  readonly secret: string;
  readonly urls: () => string[];
  addNode(options?: { viaProxy?: boolean }): Promise<NodeProcess>;
  shards(): Promise<ShardRow[]>;
  /** The up incarnation of `name`, if any. */
  incarnationOf(name: string): Promise<number | undefined>;
  /** Resolves when every node answers /readyz 200 and every shard is owned by an up member. */
  settled(timeoutMs?: number): Promise<void>;
  /** The node name of the process with this pid. */
  nodeOfPid(pid: number): string | undefined;
  /** The tail of every node's output, for failure messages. */
  logs(tailChars?: number): string;
  /** Kills every node (SIGKILL), closes the proxies and drops the database. */
  close(): Promise<void>;
}

/**
 * Creates a fresh database (migrated, with the write audit of {@link installWriteAudit})
 * and starts `size` nodes n1..n<size> of the shopping-cart sample on it.
 *
 * @example
 * const cluster = await startCluster(3, { viaProxy: [0] });
 * cluster.nodes[1]!.signal("SIGKILL");
 */
export async function startCluster(size: number, options: { viaProxy?: readonly number[]; env?: NodeJS.ProcessEnv } = {}): Promise<ProcessCluster> {
  const server = await postgresServerUrl();
  const dbName = `cluster_proc_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin(server, `create database ${dbName}`);
  const dbUrl = withDatabase(server, dbName);
  const database = await openDatabase({ url: dbUrl });
  await migrateToLatest(database);
  await installWriteAudit(database);
  const secret = randomBytes(16).toString("hex");
  const nodes: NodeProcess[] = [];
  const pidNames = new Map<number, string>();
  let added = 0;

  async function addNode({ viaProxy = false } = {}): Promise<NodeProcess> {
    const name = `n${++added}`; // taken before the first await: nodes start concurrently
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const target = new URL(dbUrl);
    const proxy = viaProxy ? await startTcpProxy({ host: target.hostname, port: Number(target.port) }) : undefined;
    const nodeDbUrl = proxy === undefined ? dbUrl : Object.assign(new URL(dbUrl), { hostname: "127.0.0.1", port: String(proxy.port) }).toString();
    const env = cleanEnv({
      PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: nodeDbUrl, ORRERY_ADVERTISE_URL: url, ORRERY_NODE_NAME: name,
      ORRERY_CLUSTER_SECRET: secret, LOG_LEVEL: "info", LOG_FORMAT: "json", ORRERY_SHARD_COUNT: String(shardCount),
      ORRERY_HEARTBEAT_MS: String(timings.heartbeatMs), ORRERY_SELF_FENCE_AFTER_MS: String(timings.selfFenceAfterMs),
      ORRERY_DEAD_AFTER_MS: String(timings.deadAfterMs), ORRERY_REBALANCE_STABLE_MS: String(timings.rebalanceStableMs),
      ORRERY_SHARD_WAIT_MS: "2000", ORRERY_SHUTDOWN_GRACE_MS: "2000",
      // A node behind the proxy notices a silent partition in about a second, not after the 5 s default.
      ...(viaProxy ? { ORRERY_DB_STATEMENT_TIMEOUT_MS: "500", ORRERY_STORAGE_WAIT_MS: "300" } : {}),
      ...options.env,
    });
    let current: WatchedProcess | undefined;
    const pids: number[] = [];
    const node: NodeProcess = {
      name, url, proxy, pids,
      get process() {
        return current!;
      },
      signal(signal) {
        current?.child.kill(signal);
      },
      async readyz() {
        try {
          const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
          return { status: response.status, body: (await response.text()).trim() };
        } catch (error) {
          return { status: 0, body: String(error) };
        }
      },
      async start() {
        const previous = current;
        if (previous !== undefined && !(await Promise.race([previous.exited.then(() => true), sleep(0, false)]))) {
          throw new Error(`${name} is still running (pid ${previous.child.pid})`);
        }
        const started = startProcess(process.execPath, ["--conditions=orrery-source", "--import", "tsx", "src/main.ts"], sampleDir, env);
        current = started;
        running.add(started);
        void started.exited.then(() => running.delete(started));
        pids.push(started.child.pid!);
        pidNames.set(started.child.pid!, name);
        await waitReady(url, started, 60_000);
      },
      async stop() {
        return current!.stop("SIGTERM");
      },
    };
    nodes.push(node);
    await node.start();
    return node;
  }

  const cluster: ProcessCluster = {
    nodes,
    database,
    secret,
    urls: () => nodes.map((n) => n.url),
    addNode,
    async shards() {
      const { rows } = await sql<{ shard: number; owner_name: string | null; owner_incarnation: string | null; epoch: string; state: string | null }>`
        select s.shard, s.owner_name, s.owner_incarnation, s.epoch, n.state
          from orrery_shards s left join orrery_nodes n on n.name = s.owner_name and n.incarnation = s.owner_incarnation
         order by s.shard`.execute(database.db);
      return rows.map((r) => ({
        shard: r.shard, owner: r.owner_name, incarnation: r.owner_incarnation === null ? null : Number(r.owner_incarnation), epoch: Number(r.epoch), ownerState: r.state,
      }));
    },
    async incarnationOf(name) {
      const row = await database.db.selectFrom("orrery_nodes").select("incarnation").where("name", "=", name).where("state", "=", "up")
        .orderBy("incarnation", "desc").executeTakeFirst();
      return row === undefined ? undefined : Number(row.incarnation);
    },
    async settled(timeoutMs = 20_000) {
      await eventually("every node is ready and every shard has an up owner", async () => {
        const ready = await Promise.all(nodes.map(async (n) => (await n.readyz()).status === 200));
        return ready.every(Boolean) && (await cluster.shards()).every((row) => row.ownerState === "up");
      }, timeoutMs);
    },
    nodeOfPid: (pid) => pidNames.get(pid),
    logs(tailChars = 6_000) {
      return nodes.map((n) => `--- ${n.name} (pids ${n.pids.join(", ")}) ---\n${n.process?.output.slice(-tailChars) ?? ""}`).join("\n");
    },
    async close() {
      await Promise.allSettled(nodes.map(async (n) => {
        n.signal("SIGCONT"); // a stopped process dies of SIGKILL too, but let it go at once
        n.signal("SIGKILL");
        await n.process?.exited;
        await n.proxy?.close();
      }));
      await database.close();
      await admin(server, `drop database if exists ${dbName} with (force)`);
    },
  };
  try {
    await Promise.all(Array.from({ length: size }, (_, i) => addNode({ viaProxy: options.viaProxy?.includes(i) ?? false })));
  } catch (error) {
    await cluster.close().catch(() => undefined);
    throw error;
  }
  // addNode ran concurrently: keep n1..n<size> in name order.
  nodes.sort((a, b) => Number(a.name.slice(1)) - Number(b.name.slice(1)));
  return cluster;
}

/** Polls `check` every 20 ms until it returns true; rejects after `ms`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(20);
  }
}
