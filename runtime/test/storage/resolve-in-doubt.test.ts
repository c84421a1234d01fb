import assert from "node:assert/strict";
import { sql } from "kysely";
import pg from "pg";
import { resolveInDoubtAppends } from "../../src/storage/resolve-in-doubt.js";
import {
  createEventJournal,
  createStorageHealth,
  openDatabase,
  type AppendRequest,
  type Database,
  type EventJournal,
  type StorageHealth,
} from "../../src/storage/index.js";
import { bytes, event, newId } from "../support/journal-fixtures.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

const soon = () => performance.now() + 2_000;
const append = (entityId: string, payload = 1, seqNr = 1): AppendRequest => ({
  entityType: "cart", entityId, events: [event(seqNr, "test.v1.Happened", bytes(payload))],
});

for (const setup of testDatabases()) {
  describe(`resolveInDoubtAppends on ${setup.name}`, () => {
    let test: TestDatabase;
    let journal: EventJournal;
    let health: StorageHealth;
    before(async () => {
      test = await setup.create({ migrate: true });
      journal = createEventJournal(test.database);
      health = createStorageHealth({ probe: () => test.database.probe(), target: test.database.target });
    });
    after(async () => {
      health?.close();
      await journal?.close();
      await test?.dispose();
    });
    const resolve = (appends: readonly AppendRequest[]) =>
      resolveInDoubtAppends(test.database, health, appends, "orrery resolve-test/gone", soon());

    it("finds a batch committed when its first events are there, from one transaction, with its payloads", async () => {
      const batch = [append(newId(), 7), { ...append(newId(), 8), events: [event(1), event(2)] }];
      await Promise.all(batch.map((a) => journal.append(a))); // one loop turn: one statement
      assert.equal(await resolve(batch), "committed");
    });

    it("finds a batch not committed when its events are absent", async () => {
      assert.equal(await resolve([append(newId()), append(newId())]), "not committed");
    });

    it("finds a batch not committed when another writer's payload holds its sequence number", async () => {
      const id = newId();
      await journal.append(append(id, 1));
      assert.equal(await resolve([append(id, 2)]), "not committed");
    });

    it("finds a batch not committed when its events are there but from separate transactions", async () => {
      const [first, second] = [append(newId()), append(newId())];
      await journal.append(first);
      await journal.append(second);
      assert.equal(await resolve([first, second]), "not committed");
    });

    it("finds a snapshot-only batch not committed, since writing it again loses nothing", async () => {
      const snapshotOnly: AppendRequest = { entityType: "cart", entityId: newId(), events: [], snapshot: { seqNr: 1, stateType: "s", payload: bytes(1) } };
      assert.equal(await resolve([snapshotOnly]), "not committed");
    });

    if (setup.dialect === "postgres") {
      it("ends the session that is still running the statement before it reads, and waits until it is gone", async () => {
        const session = `orrery resolve-test ${newId()}`;
        const client = new pg.Client({ connectionString: test.url, application_name: session });
        client.on("error", () => undefined); // terminated on purpose
        await client.connect();
        const running = client.query("select pg_sleep(30)").then(() => undefined, (error: unknown) => error);
        await waitFor(async () => (await activeSessions(test.database, session)) === 1);

        const started = performance.now();
        assert.equal(await resolveInDoubtAppends(test.database, health, [append(newId())], session, soon()), "not committed");
        assert.ok(performance.now() - started < 2_000, "did not wait for the sleep to end");
        assert.equal(await activeSessions(test.database, session), 0);
        const error = await running;
        assert.equal((error as { code?: string } | undefined)?.code, "57P01", String(error));
        await client.end().catch(() => undefined);
      });

      it("gives up with \"unknown\" at its deadline while the database cannot be reached", async () => {
        const server = new URL(test.url!);
        const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
        server.port = String(proxy.port);
        const unreachable = await openDatabase({ url: server.toString(), connectTimeoutMs: 500 });
        const unreachableHealth = createStorageHealth({ probe: () => unreachable.probe(), target: unreachable.target, probeIntervalMs: 50 });
        try {
          proxy.cut();
          const started = performance.now();
          const verdict = await resolveInDoubtAppends(unreachable, unreachableHealth, [append(newId())], "orrery resolve-test/x", started + 400);
          const waited = performance.now() - started;
          assert.equal(verdict, "unknown");
          assert.ok(waited >= 350 && waited < 1_500, `answered after ${waited.toFixed(0)} ms`);
          assert.equal(unreachableHealth.state, "down");
        } finally {
          unreachableHealth.close();
          await unreachable.close();
          await proxy.close();
        }
      });
    }
  });
}

async function activeSessions(database: Database, session: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = ${session}`.execute(database.db);
  return rows[0]!.n;
}

async function waitFor(condition: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not so within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
