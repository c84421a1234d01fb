// `npm run bench`: drives the shopping-cart sample on PGlite and on
// PostgreSQL, every Connect c=64 row in three client shapes (one h2 session, 64
// HTTP/1.1 connections, 8 h2 sessions), the REST rows over 64 HTTP/1.1
// connections, then a soak; prints the tables and writes
// results/<timestamp>.json and results/latest.json.
//
// Each storage gets a fresh store and its own server process (`node --import
// tsx src/main.ts`, like `npm start`); this process is only the load
// generator, on one event loop: raw node:http2 sessions and raw net sockets
// cost it far less CPU per call than the server spends, so one thread keeps
// 64 calls in flight and a second generator thread would only take CPU from
// the server on a 2-core machine. The "cpu" columns show what each side used.
//
// Settings (environment): BENCH_SECONDS (timed window, 5), BENCH_WARMUP_SECONDS
// (1), BENCH_CLIENTS (shapes of the c=64 rows, "h2x1,h1x64,h2x8"),
// BENCH_SOAK_SECONDS (300; 0 skips the soak), BENCH_SOAK_CLIENT ("h1x64"),
// BENCH_STORAGES ("pglite,postgres"), BENCH_SCENARIOS (ids, default all;
// "none" runs no rows), BENCH_OBSERVABILITY (modes of the observability
// comparison, "off,metrics,tracing"; "none" skips it), BENCH_OBSERVABILITY_ROUNDS
// (1), BENCH_OBSERVABILITY_CLIENT ("h2x1"), BENCH_CLUSTER ("on": the 1-node vs
// 2-node rows, forwarding, failover and hand-off on PostgreSQL; "off" skips
// them), BENCH_CLUSTER_ROUNDS (failovers and hand-offs measured, 5),
// BENCH_VIEW_LAG_SECONDS (the carts view's lag under the write load, 10; 0 skips it),
// BENCH_TIMER_SECONDS (durable timers' firing delay under the write load, 10; 0 skips it), DATABASE_URL (a PostgreSQL server to
// create a fresh database on; unset starts an embedded one; never passed to the
// PGlite run's server).
import { execFileSync } from "node:child_process";
import * as os from "node:os";
import { openBenchStorage } from "./bench-storage.js";
import type { BenchStorage, StorageKind } from "./bench-storage.js";
import { formatObservability, formatReport, formatSoak, formatTimerDelay, formatViewLag, progressLine, writeResults } from "./bench-report.js";
import type { ScenarioResult, StorageRun } from "./bench-report.js";
import { serverMicrosPerCall, targetChecks } from "./bench-targets.js";
import { formatCluster, runClusterBench } from "./cluster-bench.js";
import type { ClusterBench } from "./cluster-bench.js";
import { createBenchIssuer } from "./bench-token.js";
import { clientShape, DEFAULT_CLIENT_SHAPES, openClient, SINGLE_SESSION } from "./client-shape.js";
import type { ClientShape } from "./client-shape.js";
import { runLoad, sendEachOnce } from "./load-generator.js";
import { OBSERVABILITY_MODES, runObservabilityCost } from "./observability-cost.js";
import type { ObservabilityCost, ObservabilityMode } from "./observability-cost.js";
import { startSampleServer } from "./sample-server.js";
import type { SampleServer } from "./sample-server.js";
import { PRODUCTS, scenarios } from "./scenarios.js";
import type { Scenario } from "./scenarios.js";
import { formatSideBySide, REST_CLIENT, sideBySide } from "./side-by-side.js";
import { runSoak, soakIntervals } from "./soak.js";
import { measureTokenVerification } from "./token-verification-cost.js";
import type { VerificationCost } from "./token-verification-cost.js";
import { runViewLag } from "./view-lag.js";
import type { ViewLagResult } from "./view-lag.js";
import { runTimerDelay } from "./timer-delay.js";
import type { TimerDelayResult } from "./timer-delay.js";
import type { SoakResult } from "./soak.js";

/** Carts the "many carts" scenarios spread over. */
const MANY_CARTS = 1000;

interface BenchSettings {
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** The shapes every c=64 row is measured in; c=1 rows use one h2 session. */
  readonly clients: ClientShape[];
  readonly soakSeconds: number;
  readonly soakClient: ClientShape;
  readonly storages: StorageKind[];
  readonly scenarios: Scenario[];
  /** The modes of the observability comparison, run on the first storage only; empty skips it. */
  readonly observability: ObservabilityMode[];
  readonly observabilityRounds: number;
  readonly observabilityClient: ClientShape;
  readonly cluster: boolean;
  readonly clusterRounds: number;
  readonly viewLagSeconds: number;
  readonly timerSeconds: number;
}

/** The observability comparison's row: persisted writes spread over many carts, where every layer does its work. */
const OBSERVABILITY_SCENARIO = `additem-${MANY_CARTS}carts-c64`;

// Signs the GetCart-with-JWT row's token; every sample server of the rows trusts it (a call without a token pays nothing for that).
const issuer = createBenchIssuer("RS256");
const settings = readSettings(process.env);
const startedAt = new Date();
const loadavgBefore = os.loadavg();
const cpuModel = os.cpus()[0]?.model ?? "unknown";
const rowCount = settings.scenarios.reduce((n, s) => n + shapesOf(s).length, 0);
const soakSeconds = settings.soakSeconds > 0 ? settings.soakSeconds + settings.warmupSeconds : 0;
const perStorageSeconds = rowCount * (settings.seconds + settings.warmupSeconds) + soakSeconds;
// Each observability row starts a server of its own (about 4 s with the activation).
const observabilitySeconds = settings.observability.length * settings.observabilityRounds * (settings.seconds + settings.warmupSeconds + 4);
console.log(`Orrery shopping-cart benchmark — node ${process.version}, ${os.availableParallelism()} × ${cpuModel}, load average ${loadavgBefore.map((l) => l.toFixed(2)).join(" ")}`);
console.log((rowCount === 0 ? "no rows" : `${rowCount} rows (c=64 over ${settings.clients.map((c) => c.label).join(", ")}, REST over ${clientShape(REST_CLIENT)!.label}; c=1 over ${SINGLE_SESSION.label}) × ` +
  `(${settings.warmupSeconds} s warm-up + ${settings.seconds} s timed)`) +
  (settings.soakSeconds > 0 ? ` and a ${settings.soakSeconds} s soak over ${settings.soakClient.label}` : ", no soak") +
  ` on ${settings.storages.join(" and ")}` +
  (settings.observability.length > 0
    ? `; then ${settings.observabilityRounds} round(s) of ${OBSERVABILITY_SCENARIO} over ${settings.observabilityClient.label} with observability ${settings.observability.join(" / ")} on ${settings.storages[0]}`
    : "") +
  `; about ${Math.ceil((perStorageSeconds * settings.storages.length + observabilitySeconds) / 60)} min plus start-up.\n`);

// Ctrl-C finishes the current scenario, then stops the server and removes the store; a second one quits at once.
let interrupted = false;
process.once("SIGINT", () => {
  interrupted = true;
  console.log("\ninterrupted: cleaning up after the current scenario (Ctrl-C again to quit now)");
});

// Killed or hung up on: exit, so the exit handlers stop the server and remove the PGlite directory.
for (const signal of ["SIGTERM", "SIGHUP"] as const) process.once(signal, () => process.exit(128 + os.constants.signals[signal]));

const runs: StorageRun[] = [];
for (const [i, kind] of settings.storages.entries()) if (!interrupted) runs.push(await benchStorage(kind, i === 0 && settings.observability.length > 0));
let cluster: ClusterBench | { error: string } | undefined;
if (settings.cluster && !interrupted) cluster = await clusterRows();
const checks = targetChecks(runs, MANY_CARTS);
const compared = sideBySide(runs, MANY_CARTS);
// The in-process cost per verification, beside the server's figure, when the JWT row ran.
let tokenVerification: VerificationCost[] = [];
if (settings.scenarios.some((s) => s.id.startsWith("getcart-jwt-")) && !interrupted) {
  console.log("\nBearer token verification in-process: 5 rounds of 1,000 per algorithm…");
  tokenVerification = await measureTokenVerification(["RS256", "ES256", "EdDSA"]);
}
const loadavgAfter = os.loadavg();

console.log(`\n${formatReport(runs, checks)}`);
if (compared.length > 0 || tokenVerification.length > 0) console.log(`\n${formatSideBySide(compared, tokenVerification)}`);
if (cluster !== undefined) console.log(`\n${"error" in cluster ? `Cluster: FAILED: ${cluster.error}` : formatCluster(cluster)}`);
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
    protocol: "Connect unary, binary protobuf (application/proto), POST; REST rows: the google.api.http route, JSON, over h1×64; h2×N: N h2c sessions (prior knowledge); h1×N: N HTTP/1.1 keep-alive connections, one request in flight on each",
    jwt: `the GetCart + JWT row sends one ${issuer.algorithm} bearer token (iss, sub, iat, exp) on every call; the server (ORRERY_JWT_PUBLIC_KEY, ORRERY_JWT_ISSUER) verifies it each time`,
    generator: "closed loop on this process's main thread (raw node:http2 sessions, raw node:net sockets for HTTP/1.1); the server is a separate process",
    warmupSeconds: settings.warmupSeconds, seconds: settings.seconds,
    clients: settings.clients.map((c) => c.label), singleConnectionClient: SINGLE_SESSION.label,
    soakSeconds: settings.soakSeconds, soakClient: settings.soakClient.label,
    observability: settings.observability, observabilityRounds: settings.observabilityRounds, observabilityClient: settings.observabilityClient.label,
    manyCarts: MANY_CARTS, products: PRODUCTS, quantity: 1,
    scenarios: settings.scenarios.map(({ id, rpc, protocol, carts, concurrency, call }) => ({ id, rpc, protocol, carts, concurrency, path: call.path })),
  },
  runs,
  cluster,
  targets: checks,
  sideBySide: compared,
  tokenVerification,
}, startedAt);
console.log(`results: ${file} (and latest.json)`);
process.exit(runs.some((r) => r.error !== undefined) || (cluster !== undefined && "error" in cluster) ? 1 : 0);

/** The cluster rows, on a fresh PostgreSQL database of their own. */
async function clusterRows(): Promise<ClusterBench | { error: string }> {
  console.log(`\nCluster: 1 node vs 2 nodes on a fresh PostgreSQL database, then ${settings.clusterRounds} failovers and hand-offs with the default timing…`);
  let storage: BenchStorage | undefined;
  try {
    storage = await openBenchStorage("postgres");
    const scenario = scenarios(MANY_CARTS).find((s) => s.id === OBSERVABILITY_SCENARIO)!;
    return await runClusterBench({
      scenario: { ...scenario, activate: scenario.activate! },
      storageEnv: storage.env,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
      rounds: settings.clusterRounds,
      log: (line) => console.log(`  ${line}`),
      interrupted: () => interrupted,
    });
  } catch (e) {
    console.log(`Cluster: FAILED: ${message(e)}`);
    return { error: message(e) };
  } finally {
    await storage?.dispose().catch((e: unknown) => console.log(`Cluster: cleanup failed: ${message(e)}`));
  }
}

/**
 * Runs every scenario against a fresh store of `kind`, then (`observe`) the
 * observability comparison on the same store; failures end up in the
 * returned record, not thrown.
 */
async function benchStorage(kind: StorageKind, observe: boolean): Promise<StorageRun> {
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
  let soak: SoakResult | undefined;
  let viewLag: ViewLagResult | undefined;
  let timerDelay: TimerDelayResult | undefined;
  let observability: ObservabilityCost | undefined;
  let server: SampleServer | undefined;
  let error: string | undefined;
  let serverExit: string | undefined;
  // BENCH_SCENARIOS=none with BENCH_SOAK_SECONDS=0 leaves the main server nothing to do.
  if (settings.scenarios.length > 0 || settings.soakSeconds > 0 || settings.viewLagSeconds > 0 || settings.timerSeconds > 0) {
    try {
      console.log(`${label}: ${storage.description}; starting the sample server…`);
      server = await startSampleServer({ ...storage.env, ...issuer.serverEnv });
      console.log(`${label}: server pid ${server.pid} ready at ${server.url} in ${(server.startMs / 1000).toFixed(1)} s`);
      for (const scenario of settings.scenarios) {
        const activationErrors = await activate(server, scenario, label);
        for (const shape of shapesOf(scenario)) {
          if (interrupted) throw new Error("interrupted");
          results.push(await runRow(server, scenario, shape, activationErrors, label));
          console.log(progressLine(kind, results.at(-1)!));
          if (server.exited !== undefined) throw new Error(`the sample server died during ${scenario.id} over ${shape.label} (${server.exited})`);
        }
      }
      if (settings.viewLagSeconds > 0 && !interrupted) {
        const scenario = scenarios(MANY_CARTS).find((s) => s.id === OBSERVABILITY_SCENARIO)!;
        console.log(`  ${label} view lag: ${scenario.id} over ${settings.soakClient.label} for ${settings.viewLagSeconds} s, an AddItem probe every 50 ms…`);
        viewLag = await runViewLag({ server, scenario: { ...scenario, activate: scenario.activate! }, shape: settings.soakClient, seconds: settings.viewLagSeconds, warmupSeconds: settings.warmupSeconds });
        console.log(`  ${formatViewLag(kind, viewLag)}`);
        if (server.exited !== undefined) throw new Error(`the sample server died during the view lag measurement (${server.exited})`);
      }
      if (settings.timerSeconds > 0 && !interrupted) {
        const scenario = scenarios(MANY_CARTS).find((s) => s.id === OBSERVABILITY_SCENARIO)!;
        console.log(`  ${label} timers: ${scenario.id} over ${settings.soakClient.label} for ${settings.timerSeconds} s, a reminder due 200 ms later scheduled every 20 ms…`);
        timerDelay = await runTimerDelay({ server, scenario: { ...scenario, activate: scenario.activate! }, shape: settings.soakClient, seconds: settings.timerSeconds, warmupSeconds: settings.warmupSeconds });
        console.log(`  ${formatTimerDelay(kind, timerDelay)}`);
        if (server.exited !== undefined) throw new Error(`the sample server died during the timer measurement (${server.exited})`);
      }
      if (settings.soakSeconds > 0 && !interrupted) {
        soak = await soakStorage(server, storage, label);
        console.log(formatSoak(kind, soak).replace(/^/gm, "  "));
        if (server.exited !== undefined) throw new Error(`the sample server died during the soak (${server.exited})`);
      }
    } catch (e) {
      error = message(e);
      console.log(`${label}: FAILED: ${error}`);
    } finally {
      if (server !== undefined) serverExit = await server.stop();
    }
  }
  try {
    if (observe && error === undefined && !interrupted) {
      observability = await observabilityCost(storage, label);
      console.log(formatObservability(kind, observability).replace(/^/gm, "  "));
    }
  } catch (e) {
    error = `observability comparison: ${message(e)}`;
    console.log(`${label}: FAILED: ${error}`);
  } finally {
    await storage.dispose().catch((e: unknown) => console.log(`${label}: cleanup failed: ${message(e)}`));
  }
  const serverLog = server?.output.slice(0, 50) ?? [];
  if (serverLog.length > 0) console.log(`${label}: the server logged ${server!.output.length} warning/error lines; first: ${serverLog[0]!.slice(0, 300)}`);
  return {
    storage: kind, description: storage.description, settings: storage.settings,
    serverStartMs: server?.startMs, serverExit, serverLog, error, results, soak, viewLag, timerDelay, observability,
  };
}

/** The observability comparison: a server per mode and round on the same store, one after the other. */
async function observabilityCost(storage: BenchStorage, label: string): Promise<ObservabilityCost> {
  const scenario = scenarios(MANY_CARTS).find((s) => s.id === OBSERVABILITY_SCENARIO)!;
  const shape = settings.observabilityClient;
  console.log(`  ${label} observability: ${scenario.id} over ${shape.label}, ${settings.observabilityRounds} round(s) of ` +
    `${settings.observability.join(", ")} (a fresh server each), ${settings.warmupSeconds} s warm-up + ${settings.seconds} s timed…`);
  return runObservabilityCost({
    modes: settings.observability,
    rounds: settings.observabilityRounds,
    scenario: { ...scenario, activate: scenario.activate! },
    shape,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
    storageEnv: storage.env,
    interrupted: () => interrupted,
    onRow: (r) => {
      const cost = serverMicrosPerCall(r);
      console.log(`  ${label} observability round ${r.round} ${r.mode}: ${r.rps.toFixed(0)} req/s, ` +
        `${cost === undefined ? "?" : cost.toFixed(0)} srv µs/call, p99 ${r.latencyMs.p99.toFixed(2)} ms` +
        `${r.errors + r.warmupErrors + r.activationErrors > 0 ? `, ${r.errors + r.warmupErrors + r.activationErrors} errors` : ""}, cpu other ${(r.cpu.other ?? 0).toFixed(2)}`);
    },
  });
}

/** The client shapes a scenario is measured in: c=1 needs one connection only; REST goes over HTTP/1.1 connections. */
function shapesOf(scenario: Scenario): ClientShape[] {
  if (scenario.protocol === "rest") return [clientShape(REST_CLIENT)!];
  return scenario.concurrency === 1 ? [SINGLE_SESSION] : settings.clients;
}

/** Sends the scenario's activation calls once (over one h2 session), so every cart is active before its rows; returns the failures. */
async function activate(server: SampleServer, scenario: Scenario, label: string): Promise<number> {
  if (scenario.activate === undefined) return 0;
  process.stdout.write(`  ${label} ${scenario.id}: activating ${scenario.carts} cart(s)… `);
  const started = Date.now();
  const activation = await sendEachOnce(scenario.activate, await openClient(SINGLE_SESSION, server.url), 64);
  console.log(`${Date.now() - started} ms${activation.errors ? `, ${activation.errors} errors: ${Object.keys(activation.errorKinds)[0]}` : ""}`);
  return activation.errors;
}

async function runRow(server: SampleServer, scenario: Scenario, shape: ClientShape, activationErrors: number, label: string): Promise<ScenarioResult> {
  console.log(`  ${label} ${scenario.id} over ${shape.label}: ${scenario.concurrency} in flight, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s timed…`);
  const result = await runLoad(scenario.call, await openClient(shape, server.url), {
    concurrency: scenario.concurrency,
    warmupMs: settings.warmupSeconds * 1000,
    measureMs: settings.seconds * 1000,
    serverPid: server.pid,
  });
  return {
    id: scenario.id, rpc: scenario.rpc, label: scenario.label, carts: scenario.carts, concurrency: scenario.concurrency,
    client: shape.label, activationErrors, ...result,
  };
}

/** The soak: the many-carts AddItem row at c=64, held for BENCH_SOAK_SECONDS. */
async function soakStorage(server: SampleServer, storage: BenchStorage, label: string): Promise<SoakResult> {
  const scenario = scenarios(MANY_CARTS).find((s) => s.id === `additem-${MANY_CARTS}carts-c64`)!;
  const plan = soakIntervals(settings.soakSeconds);
  console.log(`  ${label} soak: ${scenario.id} over ${settings.soakClient.label}, ${settings.warmupSeconds} s warm-up + ` +
    `${plan.count} × ${plan.seconds.toFixed(0)} s…`);
  return runSoak({
    scenario: { ...scenario, activate: scenario.activate! },
    shape: settings.soakClient,
    seconds: settings.soakSeconds,
    warmupSeconds: settings.warmupSeconds,
    server,
    storage,
    onInterval: (i, index, count) => {
      const rss = i.serverRssBytes === undefined ? "?" : (i.serverRssBytes / 2 ** 20).toFixed(0);
      const journal = "error" in i.journal ? "journal ?" : `journal ${(i.journal.bytes / 2 ** 20).toFixed(1)} MB${i.journal.events === undefined ? "" : `, ${i.journal.events} events`}`;
      console.log(`  ${label} soak ${index + 1}/${count} at ${i.atSeconds.toFixed(0)} s: ${i.rps.toFixed(0)} req/s, ` +
        `p99 ${i.latencyMs.p99.toFixed(2)} ms, ${i.errors} errors, server RSS ${rss} MB, ${journal}, cpu other ${(i.cpu.other ?? 0).toFixed(2)}`);
    },
  });
}

function readSettings(env: NodeJS.ProcessEnv): BenchSettings {
  const problems: string[] = [];
  const number = (name: string, fallback: number, orZero = false): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!(value > 0 || (orZero && value === 0))) {
      problems.push(`${name}=${JSON.stringify(raw)} must be a ${orZero ? "non-negative" : "positive"} number`);
      return fallback;
    }
    return value;
  };
  const shapes = (name: string, fallback: readonly string[]): ClientShape[] => {
    const items = (env[name]?.trim() || fallback.join(",")).split(",").map((s) => s.trim()).filter((s) => s !== "");
    const parsed = items.map((item) => clientShape(item));
    if (items.length === 0 || parsed.some((p) => p === undefined)) problems.push(`${name}=${JSON.stringify(env[name])}: use a comma-separated list of shapes such as h2x1, h1x64, h2x8`);
    return parsed.filter((p) => p !== undefined);
  };
  if (env["BENCH_SESSIONS"] !== undefined) problems.push(`BENCH_SESSIONS is gone: the c=64 rows run over BENCH_CLIENTS (default ${DEFAULT_CLIENT_SHAPES.join(",")}; e.g. BENCH_CLIENTS=h2x4)`);
  const list = (name: string, allowed: readonly string[], fallback: readonly string[]): string[] => {
    const raw = env[name]?.trim();
    if (!raw) return [...fallback];
    const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
    const unknown = items.filter((s) => !allowed.includes(s));
    if (unknown.length > 0 || items.length === 0) problems.push(`${name}=${JSON.stringify(raw)}: use a comma-separated list of ${allowed.join(", ")}`);
    return items.filter((s) => allowed.includes(s));
  };
  const all = scenarios(MANY_CARTS, issuer);
  const ids = all.map((s) => s.id);
  const chosen = env["BENCH_SCENARIOS"]?.trim() === "none" ? [] : list("BENCH_SCENARIOS", ids, ids);
  const observability = env["BENCH_OBSERVABILITY"]?.trim() === "none" ? [] : list("BENCH_OBSERVABILITY", OBSERVABILITY_MODES, OBSERVABILITY_MODES) as ObservabilityMode[];
  const result: BenchSettings = {
    seconds: number("BENCH_SECONDS", 5),
    warmupSeconds: number("BENCH_WARMUP_SECONDS", 1),
    clients: shapes("BENCH_CLIENTS", DEFAULT_CLIENT_SHAPES),
    soakSeconds: number("BENCH_SOAK_SECONDS", 300, true),
    soakClient: shapes("BENCH_SOAK_CLIENT", ["h1x64"])[0] ?? SINGLE_SESSION,
    storages: list("BENCH_STORAGES", ["pglite", "postgres"], ["pglite", "postgres"]) as StorageKind[],
    scenarios: all.filter((s) => chosen.includes(s.id)),
    observability: [...new Set(observability)],
    observabilityRounds: Math.round(number("BENCH_OBSERVABILITY_ROUNDS", 1)),
    observabilityClient: shapes("BENCH_OBSERVABILITY_CLIENT", [SINGLE_SESSION.id])[0] ?? SINGLE_SESSION,
    cluster: list("BENCH_CLUSTER", ["on", "off"], ["on"])[0] !== "off",
    clusterRounds: Math.round(number("BENCH_CLUSTER_ROUNDS", 5)),
    viewLagSeconds: number("BENCH_VIEW_LAG_SECONDS", 10, true),
    timerSeconds: number("BENCH_TIMER_SECONDS", 10, true),
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
