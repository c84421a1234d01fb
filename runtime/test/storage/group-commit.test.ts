import assert from "node:assert/strict";
import { createGroupCommit } from "../../src/storage/group-commit.js";

/** A commit function whose calls stay in flight until released, recording each batch. */
function controlledCommit() {
  const batches: number[][] = [];
  const releases: Array<() => void> = [];
  return {
    batches,
    releaseNext: () => releases.shift()?.(),
    commit: (batch: readonly number[]) => {
      batches.push([...batch]);
      return new Promise<Array<Error | undefined>>((resolve) =>
        releases.push(() => resolve(batch.map((item) => (item < 0 ? new Error(`bad ${item}`) : undefined)))),
      );
    },
  };
}

// Flushes start from setImmediate; two loop turns are enough for one to start or a settled one to hand on.
const tick = async () => {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
};

describe("createGroupCommit", () => {
  it("flushes a lone submission at the end of its loop turn, without waiting for a timer", async () => {
    const control = controlledCommit();
    const group = createGroupCommit({ commit: control.commit, weigh: () => 1, maxBatchWeight: 10 });
    const done = group.submit(1);
    await Promise.resolve();
    assert.deepEqual(control.batches, [], "not before the I/O phase is over");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(control.batches, [[1]]);
    control.releaseNext();
    await done;
  });

  it("commits together what is submitted from separate callbacks of one loop turn (requests on many connections)", async () => {
    const control = controlledCommit();
    const group = createGroupCommit({ commit: control.commit, weigh: () => 1, maxBatchWeight: 100 });
    // Immediates queued together run one after another in one check phase, like the I/O callbacks of many
    // sockets in one poll phase. (Timers were flaky here: on a loaded machine the loop creating them crossed a
    // millisecond, so they fell due in different turns.)
    const submitted = await new Promise<Array<Promise<void>>>((resolve) => {
      const all: Array<Promise<void>> = [];
      for (let i = 1; i <= 5; i++) setImmediate(() => all.push(group.submit(i)));
      setImmediate(() => resolve(all));
    });
    await tick();
    assert.deepEqual(control.batches, [[1, 2, 3, 4, 5]]);
    control.releaseNext();
    await Promise.all(submitted);
  });

  it("runs up to maxInFlight commits at once", async () => {
    const control = controlledCommit();
    const group = createGroupCommit({ commit: control.commit, weigh: () => 1, maxBatchWeight: 2, maxInFlight: 2 });
    const all = Promise.all([1, 2, 3, 4, 5].map((item) => group.submit(item)));
    await tick();
    assert.deepEqual(control.batches, [[1, 2], [3, 4]]);
    control.releaseNext();
    await tick();
    assert.deepEqual(control.batches, [[1, 2], [3, 4], [5]]);
    control.releaseNext();
    control.releaseNext();
    await all;
    assert.equal(group.stats().inFlight, 0);
  });

  it("queues submissions while a flush is in flight and commits them together next", async () => {
    const control = controlledCommit();
    const group = createGroupCommit({ commit: control.commit, weigh: () => 1, maxBatchWeight: 10 });
    const first = group.submit(1);
    await tick();
    const rest = [2, 3, 4].map((item) => group.submit(item));
    await tick();
    assert.deepEqual(control.batches, [[1]], "nothing else starts while a flush is in flight");
    control.releaseNext();
    await first;
    await tick();
    assert.deepEqual(control.batches, [[1], [2, 3, 4]]);
    control.releaseNext();
    await Promise.all(rest);
    assert.deepEqual(group.stats(), { flushes: 2, items: 4, largestBatch: 3, inFlight: 0, queued: 0 });
  });

  it("bounds a batch by weight but always takes at least one item", async () => {
    const control = controlledCommit();
    const group = createGroupCommit({ commit: control.commit, weigh: (item: number) => item, maxBatchWeight: 5 });
    const all = Promise.all([2, 3, 1, 9, 1].map((item) => group.submit(item)));
    for (let i = 0; i < 4; i++) {
      await tick();
      control.releaseNext();
    }
    await all;
    assert.deepEqual(control.batches, [[2, 3], [1], [9], [1]]);
  });

  it("settles each item with its own outcome, and all of them when the commit throws", async () => {
    let fail = false;
    const group = createGroupCommit({
      commit: async (batch: readonly number[]) => {
        if (fail) throw new Error("connection lost");
        return batch.map((item) => (item < 0 ? new Error(`bad ${item}`) : undefined));
      },
      weigh: () => 1,
      maxBatchWeight: 10,
    });
    const outcomes = await Promise.allSettled([group.submit(1), group.submit(-2), group.submit(3)]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ["fulfilled", "rejected", "fulfilled"]);
    fail = true;
    const failed = await Promise.allSettled([group.submit(4), group.submit(5)]);
    assert.deepEqual(failed.map((outcome) => (outcome as PromiseRejectedResult).reason.message), ["connection lost", "connection lost"]);
  });

  it("drain waits for queued and in-flight items", async () => {
    const control = controlledCommit();
    const group = createGroupCommit({ commit: control.commit, weigh: () => 1, maxBatchWeight: 1 });
    const settled: number[] = [];
    for (const item of [1, 2]) void group.submit(item).then(() => settled.push(item));
    let drained = false;
    const draining = group.drain().then(() => (drained = true));
    await tick();
    control.releaseNext();
    await tick();
    assert.equal(drained, false);
    control.releaseNext();
    await draining;
    assert.deepEqual(settled, [1, 2]);
  });
});
