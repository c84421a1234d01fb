// Shared by the cluster tests: short timings, a node identity, fresh databases and placement.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { MembershipTiming, NodeIdentity } from "../../src/cluster/membership.js";
import { desiredOwner } from "../../src/cluster/placement.js";
import { shardOf } from "../../src/cluster/shard-hash.js";
import type { ServiceOptions } from "../../src/index.js";
import { openDatabase } from "../../src/storage/index.js";
import type { Database } from "../../src/storage/index.js";
import { admin, postgresServerUrl, withDatabase } from "../support/postgres-server.js";

/** 50 ms heartbeats, self-fenced after 200 ms, dead after 300 ms: the tests' timing, far below the defaults. */
export const fastTiming: MembershipTiming = { heartbeatMs: 50, deadAfterMs: 300, selfFenceAfterMs: 200 };

/** A node named `name` serving the shopping cart. */
export function testNode(name: string): NodeIdentity {
  return { name, address: `http://${name}:8080`, version: "0.1.0", components: ["shopping-cart"] };
}

/** 50 ms heartbeats, fenced after 200 ms, dead after 300 ms, shards move after 200 ms of a stable view; one secret. */
export const fast = {
  heartbeatMs: 50, selfFenceAfterMs: 200, deadAfterMs: 300, rebalanceStableMs: 200, clusterSecret: "a-test-secret-of-the-cluster",
} satisfies Partial<ServiceOptions>;

/** Polls `check` every 10 ms until it holds; fails naming `what` after `ms`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(10);
  }
}

/** A fresh database on the test server, named cluster_…, and a connection of the test's own to it. */
export async function freshDatabase(): Promise<{ url: string; database: Database; drop(): Promise<void> }> {
  const server = await postgresServerUrl();
  const name = `cluster_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin(server, `create database ${name}`);
  const url = withDatabase(server, name);
  const database = await openDatabase({ url });
  return {
    url,
    database,
    async drop() {
      await database.close();
      await admin(server, `drop database if exists ${name} with (force)`);
    },
  };
}

/** Ids `<prefix>-<n>` of `entityType` whose shard placement gives to `node` among `nodes`. */
export function idsOwnedBy(entityType: string, prefix: string, node: string, nodes: string[], count: number): string[] {
  const ids: string[] = [];
  const placement = nodes.map((name) => ({ name, weight: 100 }));
  for (let i = 0; ids.length < count; i++) {
    const id = `${prefix}-${i}`;
    if (desiredOwner(shardOf(entityType, id, 1024), placement) === node) ids.push(id);
  }
  return ids;
}
