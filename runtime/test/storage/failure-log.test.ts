import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createFailureLog } from "../../src/storage/failure-log.js";
import { capturingLogger } from "../support/capturing-logger.js";

describe("createFailureLog", () => {
  it("logs the first burst of a window in full, then one summary line with the count and the error ids left out", async () => {
    const { lines, logger } = capturingLogger();
    const failures = createFailureLog(logger, { burst: 2, windowMs: 150 });
    for (const id of ["a1", "a2", "a3", "a4", "a5"]) failures.failed({ errorId: id }, `failure ${id}`);

    assert.deepEqual(lines.map((line) => [line.level, line.message]), [["error", "failure a1"], ["error", "failure a2"]]);
    await sleep(250);
    assert.equal(lines.length, 3);
    const summary = lines[2]!;
    assert.equal(summary.level, "error");
    assert.deepEqual(summary.fields, { skipped: 3, errorIds: ["a3", "a4", "a5"] });
    assert.match(summary.message, /^3 more storage failures in the last 0\.15 s were not logged in full; their error ids begin with: a3, a4, a5$/);
  });

  it("logs a full burst again in the next window, without a summary when nothing was left out", async () => {
    const { lines, logger } = capturingLogger();
    const failures = createFailureLog(logger, { burst: 1, windowMs: 100 });
    failures.failed({ errorId: "b1" }, "failure b1");
    await sleep(150);
    failures.failed({ errorId: "b2" }, "failure b2");
    await sleep(150);
    assert.deepEqual(lines.map((line) => line.message), ["failure b1", "failure b2"]);
  });

  it("falls back to warn for a logger without an error method", () => {
    const warned: string[] = [];
    const failures = createFailureLog({ debug() {}, warn: (_fields, message) => void warned.push(message) });
    failures.failed({ errorId: "c1" }, "failure c1");
    assert.deepEqual(warned, ["failure c1"]);
  });

  it("writes one summary per window even when the event loop was too busy to end the last window on time", async () => {
    const { lines, logger } = capturingLogger();
    const failures = createFailureLog(logger, { burst: 1, windowMs: 100 });
    failures.failed({ errorId: "d1" }, "failure d1");
    failures.failed({ errorId: "d2" }, "failure d2"); // left out: its window's summary is due in 100 ms
    const busyUntil = performance.now() + 120;
    while (performance.now() < busyUntil); // the summary's timer cannot run
    failures.failed({ errorId: "e1" }, "failure e1"); // a new window: the last one is summarised now
    failures.failed({ errorId: "e2" }, "failure e2");
    await sleep(30);
    failures.failed({ errorId: "e3" }, "failure e3");
    await sleep(150);
    assert.deepEqual(lines.map((line) => line.message.replace(/ in the last .*with:/, ":")), [
      "failure d1", "1 more storage failures: d2", "failure e1", "2 more storage failures: e2, e3",
    ]);
  });
});
