import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createStorageHealth, type StorageHealth } from "../../src/storage/index.js";
import { capturingLogger } from "../support/capturing-logger.js";

/** A probe the test switches between passing and failing, counting its calls. */
function switchableProbe() {
  const probe = {
    failing: false,
    calls: 0,
    run: async () => {
      probe.calls++;
      if (probe.failing) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    },
  };
  return probe;
}

const lost = () => Object.assign(new Error("Connection terminated unexpectedly"), {});

describe("createStorageHealth", () => {
  let health: StorageHealth;
  afterEach(() => health?.close());

  it("treats one lost connection followed by a passing probe as no outage: listeners hear nothing, the log says it at debug only", async () => {
    const { lines, logger } = capturingLogger();
    const probe = switchableProbe();
    health = createStorageHealth({ probe: probe.run, target: "db:5432/test", logger, probeIntervalMs: 20 });
    const heard: string[] = [];
    health.onChange((state) => heard.push(state));

    const errorId = health.connectionFailed(lost(), "appending");
    assert.equal(health.state, "down", "calls wait until the probe answers");
    assert.equal(health.outage?.errorId, errorId);
    assert.equal(await health.whenUp(performance.now() + 1_000), true);

    assert.equal(health.state, "up");
    assert.deepEqual(heard, []);
    assert.deepEqual(lines.map((line) => line.level), ["debug"]);
    assert.match(lines[0]!.message, new RegExp(`a connection to the event store was lost \\(error id ${errorId}\\).*the store still answers`));
  });

  it("confirms an outage once a probe fails too: one warning with its error id, and listeners hear it go down", async () => {
    const { at, logger } = capturingLogger();
    const probe = switchableProbe();
    probe.failing = true;
    health = createStorageHealth({ probe: probe.run, target: "db:5432/test", logger, probeIntervalMs: 20, reminderMs: 10_000 });
    const heard: string[] = [];
    health.onChange((state) => heard.push(state));

    const errorId = health.connectionFailed(lost(), "appending");
    await sleep(150);
    assert.ok(probe.calls >= 3, `probes every 20 ms while down (${probe.calls} calls)`);
    assert.deepEqual(heard, ["down"]);
    assert.equal(at("warn").length, 1, "no more warnings before reminderMs");
    assert.equal(at("warn")[0]!.fields["errorId"], errorId);
    assert.match(at("warn")[0]!.message, /the event store at db:5432\/test is unreachable .*appending: connect ECONNREFUSED/);
    assert.equal(health.connectionFailed(lost(), "reading"), errorId, "later failures belong to the same outage");
  });

  it("confirms an outage as soon as a call fails for it, before any probe does", () => {
    const { at, logger } = capturingLogger();
    const probe = switchableProbe();
    probe.failing = true;
    health = createStorageHealth({ probe: probe.run, target: "db:5432/test", logger, probeIntervalMs: 1_000 });
    const heard: string[] = [];
    health.onChange((state) => heard.push(state));
    health.connectionFailed(lost(), "appending");
    health.countFailedCall();
    assert.deepEqual(heard, ["down"]);
    assert.equal(at("warn").length, 1);
    assert.equal(health.outage?.failedCalls, 1);
  });

  it("reminds of a lasting outage at most every reminderMs", async () => {
    const { at, logger } = capturingLogger();
    const probe = switchableProbe();
    probe.failing = true;
    health = createStorageHealth({ probe: probe.run, target: "db:5432/test", logger, probeIntervalMs: 10, reminderMs: 100 });
    health.connectionFailed(lost(), "appending");
    await sleep(350);
    const warnings = at("warn");
    const reminders = warnings.filter((line) => /still unreachable/.test(line.message));
    assert.equal(warnings.length - reminders.length, 1, "one outage warning");
    assert.ok(reminders.length >= 2 && reminders.length <= 3, `a reminder every 100 ms at most (${reminders.length} in 350 ms)`);
  });

  it("logs one info line with the failed calls on recovery, and tells listeners it is up", async () => {
    const { at, logger } = capturingLogger();
    const probe = switchableProbe();
    probe.failing = true;
    health = createStorageHealth({ probe: probe.run, target: "db:5432/test", logger, probeIntervalMs: 20 });
    const heard: string[] = [];
    health.onChange((state) => heard.push(state));
    const errorId = health.connectionFailed(lost(), "appending");
    health.countFailedCall();
    health.countFailedCall();
    await sleep(60);
    probe.failing = false;
    assert.equal(await health.whenUp(performance.now() + 1_000), true);

    assert.deepEqual(heard, ["down", "up"]);
    assert.equal(at("info").length, 1);
    assert.deepEqual({ ...at("info")[0]!.fields, outageSeconds: undefined },
      { errorId, target: "db:5432/test", outageSeconds: undefined, failedCalls: 2 });
    assert.match(at("info")[0]!.message, new RegExp(`reachable again after [0-9.]+ s \\(a probe succeeded; error id ${errorId}\\); 2 calls failed`));
    assert.equal(health.outage, undefined);
  });

  it("reports a stalled statement at once, and comes back up when it or a probe answers", async () => {
    const { at, logger } = capturingLogger();
    let answer!: () => void;
    const hung = new Promise<void>((resolve) => (answer = resolve));
    health = createStorageHealth({ probe: () => hung, target: "db:5432/test", logger, probeIntervalMs: 20 });
    const heard: string[] = [];
    health.onChange((state) => heard.push(state));
    health.stalled("appending 3 appends", 300);
    assert.equal(health.state, "down");
    assert.deepEqual(heard, ["down"]);
    assert.match(at("warn")[0]!.message, /is not answering .*appending 3 appends: no answer for 300 ms/);
    answer();
    assert.equal(await health.whenUp(performance.now() + 1_000), true);
    assert.deepEqual(heard, ["down", "up"]);
  });

  it("reports a stalled statement even while a lost connection's probe is still unanswered", async () => {
    const { at, logger } = capturingLogger();
    const hung = new Promise<void>(() => {}); // a silent partition: the probe never answers
    health = createStorageHealth({ probe: () => hung, target: "db:5432/test", logger, probeIntervalMs: 20 });
    const heard: string[] = [];
    health.onChange((state) => heard.push(state));
    const errorId = health.connectionFailed(lost(), "appending");
    health.stalled("appending 1 appends", 300);
    assert.deepEqual(heard, ["down"], "readiness hears of it now, not when the probe gives up");
    assert.equal(at("warn").length, 1);
    assert.equal(at("warn")[0]!.fields["errorId"], errorId, "the same outage");
    assert.match(at("warn")[0]!.message, /is not answering .*appending 1 appends: no answer for 300 ms/);
  });

  it("whenUp resolves false at its deadline while down, and true on recovery", async () => {
    const probe = switchableProbe();
    probe.failing = true;
    health = createStorageHealth({ probe: probe.run, target: "db:5432/test", probeIntervalMs: 20 });
    health.connectionFailed(lost(), "appending");
    const started = performance.now();
    assert.equal(await health.whenUp(started + 100), false);
    const waited = performance.now() - started;
    assert.ok(waited >= 95 && waited < 300, `waited ${waited.toFixed(0)} ms`);

    const later = health.whenUp(performance.now() + 2_000);
    setTimeout(() => (probe.failing = false), 100);
    assert.equal(await later, true);
    assert.equal(await health.whenUp(performance.now()), true, "already up: true even past its deadline");
  });

  it("whenUp resolves false once closed", async () => {
    const probe = switchableProbe();
    probe.failing = true;
    health = createStorageHealth({ probe: probe.run, target: "db:5432/test", probeIntervalMs: 20 });
    health.connectionFailed(lost(), "appending");
    const waiting = health.whenUp(performance.now() + 5_000);
    health.close();
    assert.equal(await waiting, false);
  });
});
