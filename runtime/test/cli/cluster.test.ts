// `npm run cluster` in a copy of the shopping-cart sample: three node
// processes on one database, a cart written through the node that owns it,
// and Ctrl-C leaving no process behind.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readlinkSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import type { Cart } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { freePort } from "../support/embedded-postgres.js";
import { admin, withDatabase } from "../support/postgres-server.js";
import { cleanEnv, copySample, repoRoot, startOrrery, startProcess } from "./cli-process.js";
import type { WatchedProcess } from "./cli-process.js";

const READY = /\[cluster\] 3 nodes ready in [\d.]+ s:\n((?:\[cluster\] {3}node-\d+ {2}\S+\n){3})/;

/** A shell's environment: none of this process's npm script variables or Orrery settings; shards settle fast. */
function clusterEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = cleanEnv();
  for (const name of Object.keys(env)) {
    if ((name.startsWith("npm_") && !/^npm_config_(cache|registry|userconfig)$/i.test(name)) || name.startsWith("ORRERY_") || name === "INIT_CWD") delete env[name];
  }
  delete env["HOST"];
  // Not the point here: move every shard to its place as soon as the three nodes see each other.
  return { ...env, ORRERY_REBALANCE_STABLE_MS: "300", ORRERY_MAX_SHARD_MOVES: "1024", ...extra };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port P with P-1 … P+2 free (the embedded server prefers P-1). */
async function freePorts(): Promise<number> {
  for (;;) {
    const port = (await freePort()) + 1;
    if (port + 2 > 65535) continue;
    const free = await Promise.all([port - 1, port, port + 1, port + 2].map(portFree));
    if (free.every(Boolean)) return port;
  }
}

/** The pids of running processes whose working directory is `dir` or below it (Linux). */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + path.sep)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/**
 * `npm run cluster` or `orrery cluster` as a terminal runs it: leading a
 * process group, which `stop` signals as a whole, as Ctrl-C does.
 */
function startCluster(via: "npm" | "orrery", dir: string, port: number, env: NodeJS.ProcessEnv): WatchedProcess {
  const args = ["--port", String(port)];
  return via === "npm"
    ? startProcess("npm", ["run", "cluster", "--", ...args], dir, env, { group: true })
    : startProcess(process.execPath, [path.join(repoRoot, "runtime", "bin", "orrery.js"), "cluster", ...args], dir, env, { group: true });
}

/** The nodes' names and URLs from the report. */
async function readyNodes(cluster: WatchedProcess): Promise<Map<string, string>> {
  const report = (await cluster.waitFor(READY, { timeoutMs: 60_000 }))[1]!;
  return new Map([...report.matchAll(/node-\d+ {2}(\S+)/g)].map((m) => [m[0].split(" ")[0]!, m[1]!]));
}

const client = (url: string) => createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));

/**
 * `call` on node-0; when that node does not own the cart (UNAVAILABLE with
 * an orrery-shard-owner header, until calls are forwarded), on the owner.
 * Resolves with the reply and the URL that answered.
 */
async function onOwner(first: string, call: (url: string) => Promise<Cart>): Promise<{ cart: Cart; url: string }> {
  try {
    return { cart: await call(first), url: first };
  } catch (error) {
    const owner = ConnectError.from(error).metadata.get("orrery-shard-owner");
    if (ConnectError.from(error).code !== Code.Unavailable || owner === null) throw error;
    return { cart: await call(owner), url: owner };
  }
}

const items = (cart: Cart) => cart.items.map((i) => [i.productId, i.quantity]);

/** Every node answers GetCart with the cart, or (before forwarding) UNAVAILABLE naming `owner`. */
async function everyNodeSees(nodes: Map<string, string>, cartId: string, owner: string, expected: unknown): Promise<void> {
  for (const [name, url] of nodes) {
    try {
      assert.deepEqual(items(await client(url).getCart({ cartId })), expected, `${name}'s reply`);
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      const e = ConnectError.from(error);
      assert.equal(e.code, Code.Unavailable, `${name}: ${e.message}`);
      assert.equal(e.metadata.get("orrery-shard-owner"), owner, `${name} names the owner`);
    }
  }
}

/**
 * Ctrl-C: `orrery cluster` exits 0 once everything has stopped; under `npm
 * run`, sh and npm die of the SIGINT themselves (as for any npm script) while
 * it goes on stopping, and the group's output ends when it has.
 */
async function ctrlC(cluster: WatchedProcess, dir: string, ports: number[], via: "npm" | "orrery"): Promise<void> {
  assert.equal(await cluster.stop("SIGINT"), via === "npm" ? "SIGINT" : 0, cluster.output);
  assert.match(cluster.output, /\[cluster\] SIGINT: stopping 3 nodes, then the database/);
  assert.match(cluster.output, /\[cluster\] stopped\n/);
  for (const port of ports) assert.ok(await portFree(port), `nothing listens on ${port} any more`);
  assert.deepEqual(processesIn(dir), [], "no process left in the project folder");
}

describe("orrery cluster", function () {
  this.timeout(90_000);
  let project: { dir: string; remove(): Promise<void> };
  before(async () => (project = await copySample("cluster")));
  after(async () => project?.remove());

  it("explains itself on --help, and answers a bad argument or a bad cluster secret with one line and exit code 1", async () => {
    const mistakes: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [["--nodes", "three"], {}, /^orrery cluster: --nodes "three" is not a whole number$/],
      [["--nodes", "0"], {}, /^orrery cluster: --nodes 0 is out of range; between 1 and 32 nodes$/],
      [["--size", "3"], {}, /^orrery cluster: unknown option --size \(see orrery cluster --help\)$/],
      [["--port"], {}, /^orrery cluster: --port needs a value/],
      [[], { ORRERY_CLUSTER_SECRET: "short" }, /^orrery cluster: ORRERY_CLUSTER_SECRET is 5 characters long; it needs at least 16/],
      [[], { ORRERY_CLUSTER_SECRET: " " }, /^orrery cluster: ORRERY_CLUSTER_SECRET is empty/],
    ];
    const help = startOrrery(["cluster", "--help"], project.dir, clusterEnv());
    assert.equal(await help.exited, 0, help.output);
    assert.match(help.output, /^usage: orrery cluster \[dir\] \[--nodes N\] \[--port P\] \[--host H\]\n/);
    for (const [args, env, message] of mistakes) {
      const run = startOrrery(["cluster", ...args], project.dir, clusterEnv(env));
      assert.equal(await run.exited, 1, run.output);
      assert.match(run.output.trimEnd(), message);
      assert.equal(run.output.trimEnd().split("\n").length, 1, run.output);
    }
    const secretFile = path.join(project.dir, ".orrery", "cluster", "secret");
    await mkdir(path.dirname(secretFile), { recursive: true });
    await writeFile(secretFile, "not a secret\n");
    const run = startOrrery(["cluster"], project.dir, clusterEnv());
    assert.equal(await run.exited, 1, run.output);
    assert.match(run.output.trimEnd(), /^orrery cluster: \S+\.orrery\/cluster\/secret does not hold a cluster secret .*; delete it to have a new one generated$/);
    await rm(secretFile);
  });

  it("names the node that fails to start and its last lines, stops the others and the database, and exits 1", async () => {
    const port = await freePorts();
    const run = startCluster("orrery", project.dir, port, clusterEnv({ LOG_LEVEL: "loud" }));
    try {
      assert.equal(await run.exited, 1, run.output);
      assert.match(run.output, /orrery cluster: node-\d exited while starting \(exit code \d+\); its last lines:\n {4}.*LOG_LEVEL="loud" is not one of/);
      assert.match(run.output, /\[cluster\] a node failed to start: stopping (\d nodes?, then )?the database/);
      for (const p of [port - 1, port, port + 1, port + 2]) assert.ok(await portFree(p), `nothing listens on ${p}`);
      assert.deepEqual(processesIn(project.dir), []);
    } finally {
      await run.stop("SIGKILL");
    }
  });

  it("runs the shopping cart as three nodes on an embedded PostgreSQL whose data, like the secret, survives a restart, and stops them all on Ctrl-C", async () => {
    const port = await freePorts();
    const ports = [port - 1, port, port + 1, port + 2];
    await rm(path.join(project.dir, ".orrery"), { recursive: true, force: true }); // a first run: initdb, a new secret
    let cluster = startCluster("npm", project.dir, port, clusterEnv());
    try {
      let nodes = await readyNodes(cluster);
      assert.deepEqual([...nodes.keys()], ["node-0", "node-1", "node-2"]);
      assert.deepEqual([...nodes.values()], [port, port + 1, port + 2].map((p) => `http://127.0.0.1:${p}`));
      assert.match(cluster.output, new RegExp(`\\[cluster\\] database: embedded PostgreSQL at postgres://postgres@127\\.0\\.0\\.1:${port - 1}/orrery \\(data in \\.orrery/cluster/postgres\\)`));
      assert.match(cluster.output, /\[cluster\] cluster secret: generated into \.orrery\/cluster\/secret/);
      assert.match(cluster.output, /\[node-1\] \{"level":30,.*"msg":"joined the cluster as node-1/, "JSON log lines stay whole behind the name");
      for (const url of nodes.values()) assert.equal((await fetch(`${url}/readyz`)).status, 200, `${url}/readyz`);
      const secretFile = path.join(project.dir, ".orrery", "cluster", "secret");
      assert.equal((await stat(secretFile)).mode & 0o777, 0o600);
      const secret = await readFile(secretFile, "utf8");
      assert.match(secret, /^[0-9a-f]{64}\n$/);

      const cartId = `cluster-${randomBytes(4).toString("hex")}`;
      const first = nodes.get("node-0")!;
      const added = await onOwner(first, (url) => client(url).addItem({ cartId, productId: "pen", name: "Pen", quantity: 2 }));
      assert.deepEqual(items(added.cart), [["pen", 2]]);
      await everyNodeSees(nodes, cartId, added.url, [["pen", 2]]);
      await ctrlC(cluster, project.dir, ports, "npm");

      // Again: the same database and secret; the cart comes back from PostgreSQL, not from a node's memory.
      cluster = startCluster("orrery", project.dir, port, clusterEnv());
      nodes = await readyNodes(cluster);
      assert.match(cluster.output, /\[cluster\] cluster secret: from \.orrery\/cluster\/secret/);
      assert.equal(await readFile(secretFile, "utf8"), secret);
      const again = await onOwner(first, (url) => client(url).getCart({ cartId }));
      assert.deepEqual(items(again.cart), [["pen", 2]]);
      await ctrlC(cluster, project.dir, ports, "orrery");
    } finally {
      await cluster.stop("SIGKILL");
    }
  });

  it("uses the database at DATABASE_URL when it is set", async function () {
    const server = process.env["DATABASE_URL"];
    if (!server) this.skip();
    const name = `cluster_cli_${process.pid}_${randomBytes(3).toString("hex")}`;
    await admin(server, `create database ${name}`);
    const databaseUrl = withDatabase(server, name);
    const port = await freePorts();
    const cluster = startCluster("orrery", project.dir, port, clusterEnv({ DATABASE_URL: databaseUrl, ORRERY_CLUSTER_SECRET: "s".repeat(32) }));
    try {
      const nodes = await readyNodes(cluster);
      assert.match(cluster.output, /\[cluster\] database: PostgreSQL at DATABASE_URL/);
      assert.match(cluster.output, /\[cluster\] cluster secret: ORRERY_CLUSTER_SECRET/);
      for (const url of nodes.values()) assert.equal((await fetch(`${url}/readyz`)).status, 200, `${url}/readyz`);
      const cartId = `cluster-${randomBytes(4).toString("hex")}`;
      const added = await onOwner(nodes.get("node-0")!, (url) => client(url).addItem({ cartId, productId: "ink", name: "Ink", quantity: 3 }));
      assert.deepEqual(items(added.cart), [["ink", 3]]);
      await everyNodeSees(nodes, cartId, added.url, [["ink", 3]]);
      // Acknowledged means in that database.
      const direct = new pg.Client({ connectionString: databaseUrl });
      await direct.connect();
      const { rows } = await direct.query("select event_type from orrery_events where entity_type = 'shopping-cart' and entity_id = $1", [cartId]);
      await direct.end();
      assert.deepEqual(rows.map((r: { event_type: string }) => r.event_type), ["shop.cart.v1.ItemAdded"]);
      await ctrlC(cluster, project.dir, [port, port + 1, port + 2], "orrery");
    } finally {
      await cluster.stop("SIGKILL");
      await admin(server, `drop database if exists ${name} with (force)`);
    }
  });
});
