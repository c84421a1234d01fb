// Durable timers in a cluster of real shopping-cart processes: each timer is
// fired by the node that owns its shard (a trigger records which session
// deleted each fired timer, and who owned the shard as that statement saw it),
// and when that node is killed the survivor fires its timers.
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import "../../support/postgres.js"; // its root hook stops the embedded server after the run
import { CartReminderService } from "../../../../samples/shopping-cart/src/gen/shop/cart/v1/reminder_pb.js";
import { shardOf } from "../../../src/cluster/shard-hash.js";
import { TIMER_SHARD_TYPE } from "../../../src/timer/index.js";
import type { Database } from "../../../src/storage/index.js";
import { eventually, shardCount, startCluster } from "./cluster-harness.js";
import type { NodeProcess, ProcessCluster } from "./cluster-harness.js";

/** Who deleted each fired timer row, and who owned its shard at that moment. */
async function installTimerAudit(database: Database): Promise<void> {
  await sql`create table test_fired (name text not null, shard int not null, session text not null, owner_name text, at timestamptz not null default clock_timestamp())`.execute(database.db);
  await sql.raw(`create function test_audit_fired() returns trigger language plpgsql as $$
    begin
      insert into test_fired (name, shard, session, owner_name)
        values (old.name, old.shard, current_setting('application_name'), (select owner_name from orrery_shards where shard = old.shard));
      return null;
    end $$`).execute(database.db);
  await sql`create trigger test_audit_fired after delete on orrery_timers for each row execute function test_audit_fired()`.execute(database.db);
}

async function firedTimers(database: Database): Promise<Array<{ name: string; shard: number; pid: number; owner: string | null }>> {
  const { rows } = await sql<{ name: string; shard: number; session: string; owner_name: string | null }>`select name, shard, session, owner_name from test_fired order by at`.execute(database.db);
  return rows.map((r) => ({ name: r.name, shard: r.shard, pid: Number(/^orrery (\d+)\./.exec(r.session)?.[1] ?? NaN), owner: r.owner_name }));
}

const reminderName = (cartId: string) => `cart-reminder-${cartId}`;

describe("durable timers in a cluster of shopping-cart processes", function () {
  this.timeout(90_000);
  let cluster: ProcessCluster | undefined;

  afterEach(async function () {
    if (this.currentTest?.state === "failed" && cluster !== undefined) console.log(cluster.logs());
    await cluster?.close();
    cluster = undefined;
  });

  /** Carts whose reminders' timers hash to shards of `node`, and to shards of the other node. */
  async function cartsBy(c: ProcessCluster, node: NodeProcess, count: number): Promise<{ mine: string[]; others: string[] }> {
    const owners = new Map((await c.shards()).map((r) => [r.shard, r.owner]));
    const mine: string[] = [];
    const others: string[] = [];
    for (let i = 0; mine.length < count || others.length < count; i++) {
      const cartId = `timer-cart-${i}`;
      const list = owners.get(shardOf(TIMER_SHARD_TYPE, reminderName(cartId), shardCount)) === node.name ? mine : others;
      if (list.length < count) list.push(cartId);
    }
    return { mine, others };
  }

  async function allFired(reminders: Client<typeof CartReminderService>, cartIds: readonly string[], ms: number): Promise<void> {
    await eventually(`the reminders of ${cartIds.join(", ")} fired`, async () =>
      (await Promise.all(cartIds.map(async (cartId) => (await reminders.getReminder({ cartId })).fired > 0))).every(Boolean), ms);
  }

  it("fires each timer on the owner of its shard, wherever it was scheduled", async () => {
    const c = (cluster = await startCluster(2));
    await c.settled();
    await installTimerAudit(c.database);
    const [n1, n2] = c.nodes as [NodeProcess, NodeProcess];
    const { mine, others } = await cartsBy(c, n1, 4);
    // Every reminder is scheduled through n2: those of n1's shards are fired by n1, woken by NOTIFY.
    const reminders = createClient(CartReminderService, createConnectTransport({ baseUrl: n2.url, httpVersion: "2" }));
    const due = new Map<string, bigint>();
    for (const cartId of [...mine, ...others]) due.set(cartId, (await reminders.remind({ cartId, delayMs: 500n })).dueAtMs);
    await allFired(reminders, [...mine, ...others], 10_000);
    const delays = await Promise.all([...due].map(async ([cartId, dueAt]) => Number((await reminders.getReminder({ cartId })).firedAtMs - dueAt)));
    console.log(`      fire time - due time: ${delays.join(", ")} ms`);
    const fired = await firedTimers(c.database);
    assert.equal(fired.length, 8, `each timer fired once: ${JSON.stringify(fired)}`);
    for (const row of fired) {
      assert.equal(c.nodeOfPid(row.pid), row.owner, `timer ${row.name} (shard ${row.shard}) was fired by ${c.nodeOfPid(row.pid)}, its shard's owner is ${row.owner}`);
      assert.equal(row.owner, mine.some((cartId) => reminderName(cartId) === row.name) ? n1.name : n2.name);
    }
  });

  it("fires a killed owner's timers on the survivor", async () => {
    const c = (cluster = await startCluster(2));
    await c.settled();
    await installTimerAudit(c.database);
    const [n1, n2] = c.nodes as [NodeProcess, NodeProcess];
    const { mine } = await cartsBy(c, n2, 4);
    const reminders = createClient(CartReminderService, createConnectTransport({ baseUrl: n1.url, httpVersion: "2" }));
    for (const cartId of mine) await reminders.remind({ cartId, delayMs: 1_000n });
    n2.signal("SIGKILL");
    await n2.process.exited;
    await allFired(reminders, mine, 20_000);
    const fired = await firedTimers(c.database);
    assert.deepEqual(fired.map((r) => r.name).sort(), mine.map(reminderName).sort());
    for (const row of fired) assert.equal(c.nodeOfPid(row.pid), n1.name, `timer ${row.name} was fired by ${c.nodeOfPid(row.pid)}`);
  });
});
