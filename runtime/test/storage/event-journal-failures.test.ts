import assert from "node:assert/strict";
import { sql } from "kysely";
import {
  createEventJournal,
  SequenceConflictError,
  StorageError,
  StorageUnavailableError,
  type EventJournal,
} from "../../src/storage/index.js";
import { bytes, event, newId } from "../support/journal-fixtures.js";
import { testDatabases, type TestDatabase } from "../support/postgres.js";

for (const setup of testDatabases()) {
  describe(`EventJournal failures and lifecycle on ${setup.name}`, () => {
    let test: TestDatabase;
    let journal: EventJournal;
    before(async () => {
      test = await setup.create({ migrate: true });
      journal = createEventJournal(test.database);
    });
    after(async () => {
      await journal?.close();
      await test?.dispose();
    });

    it("rejects a second writer of the same sequence number while the rest of its batch commits", async () => {
      const [taken, fresh, twice] = [newId(), newId(), newId()];
      await journal.append({ entityType: "cart", entityId: taken, events: [event(1), event(2)] });
      const conflictsBefore = journal.stats().conflicts;
      const flushesBefore = journal.stats().flushes;

      const outcomes = await Promise.allSettled([
        journal.append({ entityType: "cart", entityId: fresh, events: [event(1)] }),
        journal.append({ entityType: "cart", entityId: taken, events: [event(2, "test.v1.Stale"), event(3)] }),
        journal.append({ entityType: "cart", entityId: twice, events: [event(1, "test.v1.First")] }),
        journal.append({ entityType: "cart", entityId: twice, events: [event(1, "test.v1.Second")] }),
        journal.append({ entityType: "cart", entityId: taken, events: [event(3, "test.v1.Winner")] }),
      ]);

      assert.deepEqual(outcomes.map((outcome) => outcome.status), ["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"]);
      const stale = (outcomes[1] as PromiseRejectedResult).reason;
      assert.ok(stale instanceof SequenceConflictError);
      assert.deepEqual([stale.entityType, stale.entityId, stale.seqNr, stale.retryable], ["cart", taken, 2, false]);
      assert.match(stale.message, /another writer appended the same sequence number; the entity will be reloaded/);
      assert.equal((outcomes[3] as PromiseRejectedResult).reason.seqNr, 1);
      assert.equal(journal.stats().flushes, flushesBefore + 1, "one flush, retried without the losers");
      assert.equal(journal.stats().conflicts, conflictsBefore + 2);

      assert.deepEqual((await journal.readEvents("cart", taken)).map((e) => [e.seqNr, e.eventType]), [
        [1, "test.v1.Happened"], [2, "test.v1.Happened"], [3, "test.v1.Winner"],
      ]);
      assert.deepEqual((await journal.readEvents("cart", twice)).map((e) => e.eventType), ["test.v1.First"]);
      assert.equal((await journal.readEvents("cart", fresh)).length, 1);
    });

    it("rejects a writer on another journal that reuses a committed sequence number", async () => {
      const id = newId();
      const other = test.database.capabilities.concurrentTransactions
        ? createEventJournal(await test.reopen())
        : createEventJournal(test.database);
      await journal.append({ entityType: "cart", entityId: id, events: [event(1)] });
      await assert.rejects(other.append({ entityType: "cart", entityId: id, events: [event(1)] }), SequenceConflictError);
      await other.append({ entityType: "cart", entityId: id, events: [event(2)] });
      await other.close();
    });

    it("rejects an invalid append before it can spoil a batch", async () => {
      const good = newId();
      const outcomes = await Promise.allSettled([
        journal.append({ entityType: "cart", entityId: newId(), events: [event(1), event(3)] }),
        journal.append({ entityType: "cart", entityId: "nul\u0000id", events: [event(1)] }),
        journal.append({ entityType: "cart", entityId: newId(), events: [event(0)] }),
        journal.append({ entityType: "cart", entityId: good, events: [event(1)] }),
      ]);
      assert.deepEqual(outcomes.map((outcome) => outcome.status), ["rejected", "rejected", "rejected", "fulfilled"]);
      assert.match((outcomes[0] as PromiseRejectedResult).reason.message, /event 3 follows event 1; sequence numbers must be consecutive/);
      assert.match((outcomes[1] as PromiseRejectedResult).reason.message, /the entity id contains a NUL character/);
      assert.ok(outcomes.slice(0, 3).every((outcome) => (outcome as PromiseRejectedResult).reason instanceof StorageError));
    });

    it("rejects every append of a batch that fails for another reason, keeping the cause", async () => {
      const db = test.database.db;
      await sql`alter table orrery_events add constraint no_poison check (event_type <> 'test.v1.Poison')`.execute(db);
      try {
        const outcomes = await Promise.allSettled([
          journal.append({ entityType: "cart", entityId: newId(), events: [event(1)] }),
          journal.append({ entityType: "cart", entityId: newId(), events: [event(1, "test.v1.Poison")] }),
        ]);
        const reasons = outcomes.map((outcome) => (outcome as PromiseRejectedResult).reason);
        assert.ok(reasons.every((reason) => reason instanceof StorageError && !(reason instanceof StorageUnavailableError)));
        assert.equal(reasons[0], reasons[1], "the whole batch shares one classified error");
        assert.equal(reasons[0].retryable, false);
        assert.equal(reasons[0].cause.code, "23514");
        assert.match(reasons[0].message, /^append to the event journal \(batch of 2\) failed: .*no_poison/);
      } finally {
        await sql`alter table orrery_events drop constraint no_poison`.execute(db);
      }
    });

    if (setup.dialect === "postgres") {
      it("marks a statement timeout as retryable", async () => {
        const impatient = await test.reopen({ statementTimeoutMs: 200 });
        const slow = createEventJournal(impatient);
        const locker = await test.reopen();
        await locker.db.transaction().execute(async (trx) => {
          await sql`lock table orrery_events in access exclusive mode`.execute(trx);
          const error = await slow.append({ entityType: "cart", entityId: newId(), events: [event(1)] }).catch((e: unknown) => e);
          assert.ok(error instanceof StorageUnavailableError, String(error));
          assert.equal(error.retryable, true);
          assert.equal((error.cause as { code?: string }).code, "57014");
        });
        await slow.close();
      });
    }

    it("close waits for queued appends, then rejects new ones", async () => {
      const closing = createEventJournal(test.database);
      const ids = Array.from({ length: 40 }, newId);
      const appends = ids.map((id) => closing.append({ entityType: "closing", entityId: id, events: [event(1)] }));
      await closing.close();
      const outcomes = await Promise.allSettled(appends);
      assert.ok(outcomes.every((outcome) => outcome.status === "fulfilled"));
      await assert.rejects(
        closing.append({ entityType: "closing", entityId: "late", events: [event(1)] }),
        (error: unknown) => error instanceof StorageUnavailableError && /the event journal is closed/.test(error.message),
      );
      assert.equal((await journal.readEvents("closing", ids[39]!)).length, 1);
    });

    if (setup.persistent) {
      it("keeps committed events and snapshots across close and reopen", async () => {
        const id = newId();
        await journal.append({
          entityType: "durable", entityId: id, events: [event(1), event(2)],
          snapshot: { seqNr: 1, stateType: "test.v1.State", payload: bytes(9) },
        });
        await journal.close();
        await test.database.close();
        const reopened = await test.reopen();
        journal = createEventJournal(reopened);
        const loaded = await journal.load("durable", id);
        assert.deepEqual(loaded.snapshot, { seqNr: 1, stateType: "test.v1.State", payload: bytes(9) });
        assert.deepEqual(loaded.events.map((e) => [e.seqNr, e.payload]), [[2, bytes(2)]]);
      });
    }
  });
}
