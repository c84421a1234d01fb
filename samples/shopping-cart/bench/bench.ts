// `npm run bench`: drives the shopping-cart sample over HTTP/2 on PGlite and
// on PostgreSQL, prints a table and writes results/<timestamp>.json and
// results/latest.json.
//
// Each storage gets a fresh store and its own server process (`node --import
// tsx src/main.ts`, like `npm start`); this process is only the load
// generator, on one event loop: raw node:http2 sessions cost it far less CPU
// per call than the server spends, so one thread keeps 64 calls in flight and
// a second generator thread would only take CPU from the server on a 2-core
// machine. The "cpu" columns show what each side used.
//
// Settings (environment): BENCH_SECONDS (timed window, 5), BENCH_WARMUP_SECONDS
// (1), BENCH_SESSIONS (HTTP/2 connections, 4), BENCH_STORAGES
// ("pglite,postgres"), BENCH_SCENARIOS (ids, default all), DATABASE_URL (a
// PostgreSQL server to create a fresh database on; unset starts an embedded one).
import { execFileSync } from "node:child_process";
import * as os from "node:os";
import { openBenchStorage } from "./bench-storage.js";
import type { BenchStorage, StorageKind } from "./bench-storage.js";
import { formatReport, progressLine, targetChecks, writeResults } from "./bench-report.js";
import type { ScenarioResult, StorageRun } from "./bench-report.js";
import { runLoad, sendEachOnce } from "./load-generator.js";
import { startSampleServer } from "./sample-server.js";
import type { SampleServer } from "./sample-server.js";
import { PRODUCTS, scenarios } from "./scenarios.js";
import type { Scenario } from "./scenarios.js";

/** Carts the "many carts" scenarios spread over. */
const MANY_CARTS = 1000;

interface BenchSettings {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly sessions: number;
  readonly storages: StorageKind[];
  readonly scenarios: Scenario[];
}

const settings = readSettings(process.env);
const startedAt = new Date();
const loadavgBefore = os.loadavg();
const cpuModel = os.cpus()[0]?.model ?? "unknown";
const perStorageSeconds = settings.scenarios.length * (settings.seconds + settings.warmupSeconds);
console.log(`Orrery shopping-cart benchmark — node ${process.version}, ${os.availableParallelism()} × ${cpuModel}, load average ${loadavgBefore.map((l) => l.toFixed(2)).join(" ")}`);
console.log(`${settings.scenarios.length} scenarios × (${settings.warmupSeconds} s warm-up + ${settings.seconds} s timed) on ${settings.storages.join(" and ")}, ` +
  `${settings.sessions} HTTP/2 connections; about ${Math.ceil((perStorageSeconds * settings.storages.length) / 60)} min plus start-up.\n`);

// Ctrl-C finishes the current scenario, then stops the server and removes the store; a second one quits at once.
let interrupted = false;
process.once("SIGINT", () => {
  interrupted = true;
  console.log("\ninterrupted: cleaning up after the current scenario (Ctrl-C again to quit now)");
});

const runs: StorageRun[] = [];
for (const kind of settings.storages) if (!interrupted) runs.push(await benchStorage(kind));
const checks = targetChecks(runs, MANY_CARTS);
const loadavgAfter = os.loadavg();

console.log(`\n${formatReport(runs, checks)}`);
console.log(`\nload average before ${loadavgBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadavgAfter.map((l) => l.toFixed(2)).join(" ")}`);
const file = await writeResults({
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  commit: gitCommit(),
  machine: {
    node: process.version, platform: `${os.platform()} ${os.release()}`, arch: os.arch(), cpuModel,
    nproc: os.availableParallelism(), memoryMb: Math.round(os.totalmem() / 2 ** 20), loadavgBefore, loadavgAfter,
  },
  params: {
    protocol: "Connect unary, binary protobuf (application/proto), h2c with prior knowledge",
    generator: "closed loop on this process's main thread; the server is a separate process",
    warmupSeconds: settings.warmupSeconds, seconds: settings.seconds, sessions: settings.sessions,
    manyCarts: MANY_CARTS, products: PRODUCTS, quantity: 1,
    scenarios: settings.scenarios.map(({ id, rpc, carts, concurrency, call }) => ({ id, rpc, carts, concurrency, path: call.path })),
  },
  runs,
  targets: checks,
}, startedAt);
console.log(`results: ${file} (and latest.json)`);
process.exit(runs.some((r) => r.error !== undefined) ? 1 : 0);

/** Runs every scenario against a fresh store of `kind`; failures end up in the returned record, not thrown. */
async function benchStorage(kind: StorageKind): Promise<StorageRun> {
  const label = kind === "pglite" ? "PGlite" : "PostgreSQL";
  console.log(`${label}: preparing a fresh store…`);
  let storage: BenchStorage;
  try {
    storage = await openBenchStorage(kind);
  } catch (error) {
    console.log(`${label}: FAILED to prepare storage: ${message(error)}`);
    return { storage: kind, description: label, settings: {}, serverLog: [], error: message(error), results: [] };
  }
  const results: ScenarioResult[] = [];
  let server: SampleServer | undefined;
  let error: string | undefined;
  let serverExit: string | undefined;
  try {
    console.log(`${label}: ${storage.description}; starting the sample server…`);
    server = await startSampleServer(storage.env);
    console.log(`${label}: server pid ${server.pid} ready at ${server.url} in ${(server.startMs / 1000).toFixed(1)} s`);
    for (const scenario of settings.scenarios) {
      if (interrupted) throw new Error("interrupted");
      results.push(await runScenario(server, scenario, label));
      console.log(progressLine(kind, results.at(-1)!));
      if (server.exited !== undefined) throw new Error(`the sample server died during ${scenario.id} (${server.exited})`);
    }
  } catch (e) {
    error = message(e);
    console.log(`${label}: FAILED: ${error}`);
  } finally {
    if (server !== undefined) serverExit = await server.stop();
    await storage.dispose().catch((e: unknown) => console.log(`${label}: cleanup failed: ${message(e)}`));
  }
  const serverLog = server?.output.slice(0, 50) ?? [];
  if (serverLog.length > 0) console.log(`${label}: the server logged ${server!.output.length} warning/error lines; first: ${serverLog[0]!.slice(0, 300)}`);
  return {
    storage: kind, description: storage.description, settings: storage.settings,
    serverStartMs: server?.startMs, serverExit, serverLog, error, results,
  };
}

async function runScenario(server: SampleServer, scenario: Scenario, label: string): Promise<ScenarioResult> {
  const target = { url: server.url, sessions: settings.sessions };
  let activationErrors = 0;
  if (scenario.activate !== undefined) {
    process.stdout.write(`  ${label} ${scenario.id}: activating ${scenario.carts} cart(s)… `);
    const started = Date.now();
    const activation = await sendEachOnce(scenario.activate, { ...target, concurrency: 64 });
    activationErrors = activation.errors;
    console.log(`${Date.now() - started} ms${activation.errors ? `, ${activation.errors} errors: ${Object.keys(activation.errorKinds)[0]}` : ""}`);
  }
  console.log(`  ${label} ${scenario.id}: ${scenario.concurrency} in flight, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s timed…`);
  const result = await runLoad(scenario.call, {
    ...target,
    concurrency: scenario.concurrency,
    warmupMs: settings.warmupSeconds * 1000,
    measureMs: settings.seconds * 1000,
    serverPid: server.pid,
  });
  return { id: scenario.id, rpc: scenario.rpc, label: scenario.label, carts: scenario.carts, concurrency: scenario.concurrency, activationErrors, ...result };
}

function readSettings(env: NodeJS.ProcessEnv): BenchSettings {
  const problems: string[] = [];
  const number = (name: string, fallback: number, integer: boolean): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!(value > 0) || (integer && !Number.isInteger(value))) {
      problems.push(`${name}=${JSON.stringify(raw)} must be a positive ${integer ? "integer" : "number"}`);
      return fallback;
    }
    return value;
  };
  const list = (name: string, allowed: readonly string[], fallback: readonly string[]): string[] => {
    const raw = env[name]?.trim();
    if (!raw) return [...fallback];
    const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
    const unknown = items.filter((s) => !allowed.includes(s));
    if (unknown.length > 0 || items.length === 0) problems.push(`${name}=${JSON.stringify(raw)}: use a comma-separated list of ${allowed.join(", ")}`);
    return items.filter((s) => allowed.includes(s));
  };
  const all = scenarios(MANY_CARTS);
  const ids = all.map((s) => s.id);
  const chosen = list("BENCH_SCENARIOS", ids, ids);
  const result: BenchSettings = {
    seconds: number("BENCH_SECONDS", 5, false),
    warmupSeconds: number("BENCH_WARMUP_SECONDS", 1, false),
    sessions: number("BENCH_SESSIONS", 4, true),
    storages: list("BENCH_STORAGES", ["pglite", "postgres"], ["pglite", "postgres"]) as StorageKind[],
    scenarios: all.filter((s) => chosen.includes(s.id)),
  };
  if (problems.length > 0) {
    console.error(`bench: invalid settings:\n  ${problems.join("\n  ")}`);
    process.exit(2);
  }
  return result;
}

function gitCommit(): string | undefined {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() !== "";
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return undefined;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
