import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createEventJournal, type EventJournal } from "../../src/storage/index.js";
import { bytes, captureStatements, event, newId } from "../support/journal-fixtures.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";

for (const setup of testDatabases()) {
  describe(`EventJournal on ${setup.name}`, () => {
    let test: TestDatabase;
    let journal: EventJournal;
    const { statements, logger } = captureStatements();
    before(async () => {
      test = await setup.create({ migrate: true, logger });
      journal = createEventJournal(test.database);
    });
    after(async () => {
      await journal?.close();
      await test?.dispose();
    });

    it("appends events and reads them back in sequence order", async () => {
      const id = newId();
      const metadata = { traceId: 'a"b\\c', emoji: "🪐" };
      await journal.append({ entityType: "cart", entityId: id, events: [{ ...event(1), metadata }, event(2), event(3)] });
      await journal.append({ entityType: "cart", entityId: id, events: [event(4, "test.v1.Other"), event(5)] });
      await journal.append({ entityType: "other", entityId: id, events: [event(1)] });

      const events = await journal.readEvents("cart", id);
      assert.deepEqual(events.map((e) => [e.seqNr, e.eventType]), [
        [1, "test.v1.Happened"], [2, "test.v1.Happened"], [3, "test.v1.Happened"], [4, "test.v1.Other"], [5, "test.v1.Happened"],
      ]);
      assert.deepEqual(events[0]?.metadata, metadata);
      assert.equal(events[1]?.metadata, undefined);
      assert.ok(events.every((e, i) => i === 0 || e.globalPosition > events[i - 1]!.globalPosition));
      assert.ok(events.every((e) => e.writtenAt instanceof Date));
      assert.deepEqual((await journal.readEvents("cart", id, 4)).map((e) => e.seqNr), [4, 5]);
      assert.deepEqual(await journal.readEvents("cart", "nobody"), []);
    });

    it("returns payload bytes exactly as written", async () => {
      const id = newId();
      const payloads = [bytes(), bytes(0), Uint8Array.from({ length: 256 }, (_, i) => i), randomBytes(100_000).subarray(7, 90_007)];
      await journal.append({ entityType: "blob", entityId: id, events: payloads.map((payload, i) => ({ ...event(i + 1), payload })) });
      const stored = await journal.readEvents("blob", id);
      stored.forEach((e, i) => {
        assert.equal(Object.getPrototypeOf(e.payload), Uint8Array.prototype, "a plain Uint8Array, not a Buffer");
        assert.equal(e.payload.byteLength, e.payload.buffer.byteLength, "owns its ArrayBuffer");
        assert.deepEqual(e.payload, new Uint8Array(payloads[i]!));
      });
    });

    it("batches concurrent appends from many entities into one statement per flush", async () => {
      const batched = createEventJournal(test.database, { maxBatchEvents: 50 });
      statements.length = 0;
      const ids = Array.from({ length: 200 }, newId);
      await Promise.all(ids.map((id) => batched.append({ entityType: "many", entityId: id, events: [event(1)] })));
      // While those flushes were in flight more appends queued; a straggler arriving later flushes alone.
      const late = Array.from({ length: 30 }, newId);
      const first = batched.append({ entityType: "many", entityId: newId(), events: [event(1)] });
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.all([first, ...late.map((id) => batched.append({ entityType: "many", entityId: id, events: [event(1)] }))]);

      const stats = batched.stats();
      assert.equal(stats.appends, 231);
      assert.equal(stats.events, 231);
      assert.equal(stats.flushes, 4 + 1 + 1, "200 in batches of 50, the straggler, then the 30 queued behind it");
      assert.equal(stats.largestBatch, 50, "maxBatchEvents bounds a batch");
      assert.ok(stats.appends / stats.flushes > 1);
      const inserts = statements.filter((statement) => statement.startsWith('insert into "orrery_events"'));
      assert.equal(inserts.length, stats.flushes, "one INSERT … SELECT unnest(…) per flush");
      assert.match(inserts[0]!, /select \* from unnest\(\$1::text\[\], \$2::text\[\], \$3::int8\[\]/);
      await batched.close();
      const [many] = await test.database.db
        .selectFrom("orrery_events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("entity_type", "=", "many")
        .execute();
      assert.equal(many?.n, 231);
    });

    it("keeps the newest snapshot when an older one arrives later", async () => {
      const id = newId();
      const snapshot = (seqNr: number) => ({ seqNr, stateType: "test.v1.State", payload: bytes(seqNr, 0xff) });
      statements.length = 0;
      await journal.append({ entityType: "cart", entityId: id, events: [1, 2, 3, 4, 5].map((n) => event(n)), snapshot: snapshot(5) });
      assert.equal(statements.length, 1, "events and snapshot in one statement");
      assert.match(statements[0]!, /^with appended as \(insert into "orrery_events" .*\) insert into "orrery_snapshots"/s);
      assert.match(statements[0]!, /on conflict \("entity_type", "entity_id"\) do update .* where "orrery_snapshots"."seq_nr" < "excluded"."seq_nr"$/s);
      await journal.append({ entityType: "cart", entityId: id, events: [], snapshot: snapshot(3) });
      assert.deepEqual((await journal.load("cart", id)).snapshot, snapshot(5));

      // Two snapshots of one entity in the same batch: the newer one wins, nothing fails.
      await Promise.all([
        journal.append({ entityType: "cart", entityId: id, events: [event(6)], snapshot: snapshot(6) }),
        journal.append({ entityType: "cart", entityId: id, events: [event(7)], snapshot: snapshot(7) }),
      ]);
      assert.deepEqual(await journal.load("cart", id), { snapshot: snapshot(7), events: [] });
    });

    it("loads the latest snapshot and only the events after it", async () => {
      const id = newId();
      await journal.append({ entityType: "cart", entityId: id, events: [event(1), event(2), event(3)] });
      assert.deepEqual((await journal.load("cart", id)).events.map((e) => e.seqNr), [1, 2, 3]);
      assert.equal((await journal.load("cart", id)).snapshot, undefined);

      await journal.append({
        entityType: "cart", entityId: id, events: [event(4)], snapshot: { seqNr: 3, stateType: "test.v1.State", payload: bytes(3) },
      });
      await journal.append({ entityType: "cart", entityId: id, events: [event(5)] });
      const loaded = await journal.load("cart", id);
      assert.deepEqual(loaded.snapshot, { seqNr: 3, stateType: "test.v1.State", payload: bytes(3) });
      assert.deepEqual(loaded.events.map((e) => e.seqNr), [4, 5]);
      assert.deepEqual(await journal.load("cart", newId()), { events: [] });
    });
  });
}
