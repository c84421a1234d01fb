// What a run produced: the table on stdout, the target ratios, the soak
// tables, and the JSON record under bench/results/.
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { ViewLagResult } from "./view-lag.js";
import type { TimerDelayResult } from "./timer-delay.js";
import type { StorageKind } from "./bench-storage.js";
import { serverMicrosPerCall } from "./bench-targets.js";
import type { TargetCheck } from "./bench-targets.js";
import type { LoadResult } from "./load-generator.js";
import type { ObservabilityCost } from "./observability-cost.js";
import type { Scenario } from "./scenarios.js";
import type { SoakResult } from "./soak.js";

/** One measured scenario on one storage. */
export interface ScenarioResult extends LoadResult, Pick<Scenario, "id" | "rpc" | "label" | "carts" | "concurrency"> {
  /** The client shape's label: "h2×1", "h1×64", "h2×8". */
  readonly client: string;
  /** Failures of the one-call-per-cart activation before the warm-up. */
  readonly activationErrors: number;
}

/** Everything measured on one storage, or why it could not be. */
export interface StorageRun {
  readonly storage: StorageKind;
  readonly description: string;
  readonly settings: Record<string, string>;
  readonly serverStartMs?: number;
  /** How the server ended after SIGTERM ("exit code 0" when it drained cleanly). */
  readonly serverExit?: string;
  /** What the server logged at LOG_LEVEL=warn (first lines only). */
  readonly serverLog: readonly string[];
  readonly error?: string;
  readonly results: readonly ScenarioResult[];
  /** The soak, unless BENCH_SOAK_SECONDS=0 or the run failed before it. */
  readonly soak?: SoakResult | undefined;
  /** The observability comparison, on the first storage unless BENCH_OBSERVABILITY=none. */
  readonly observability?: ObservabilityCost | undefined;
  /** The carts view's lag under the write load, unless BENCH_VIEW_LAG_SECONDS=0. */
  readonly viewLag?: ViewLagResult | undefined;
  readonly timerDelay?: TimerDelayResult | undefined;
}

const STORAGE_LABEL: Record<StorageKind, string> = { pglite: "PGlite", postgres: "PostgreSQL" };

const MAIN_HEAD = ["storage", "scenario", "carts", "c", "client", "req/s", "p50 ms", "p99 ms", "errors", "srv µs/call", "cpu gen", "cpu srv", "cpu pg", "cpu other"] as const;

/** One progress line for a finished scenario. */
export function progressLine(storage: StorageKind, r: ScenarioResult): string {
  const errors = r.errors + r.warmupErrors + r.activationErrors;
  const noise = r.cpu.other ?? 0;
  return `  ${STORAGE_LABEL[storage]} ${r.id} ${r.client}: ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.latencyMs.p50, 2)} ms, p99 ${fmt(r.latencyMs.p99, 2)} ms` +
    (errors > 0 ? `, ${errors} errors` : "") +
    (noise >= 0.25 ? ` (noise: other work used ${noise.toFixed(2)} cores${busiest(r)})` : "");
}

/** The results table and the target ratios, for stdout. */
export function formatReport(runs: readonly StorageRun[], checks: readonly TargetCheck[]): string {
  const rows: string[][] = [];
  for (const run of runs) {
    if (run.error !== undefined) rows.push([STORAGE_LABEL[run.storage], `FAILED: ${run.error.split("\n", 1)[0]}`]);
    for (const r of run.results) {
      rows.push([
        STORAGE_LABEL[run.storage], r.label, r.carts === 0 ? "-" : String(r.carts), String(r.concurrency), r.client,
        fmt(r.rps, 0), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), String(r.errors),
        optional(serverMicrosPerCall(r), (v) => fmt(v, 0)),
        ...[r.cpu.generator, r.cpu.server, r.cpu.postgres, r.cpu.other].map((v) => optional(v, (c) => c.toFixed(2))),
      ]);
    }
  }
  const out: string[] = [];
  // BENCH_SCENARIOS=none: the observability comparison alone.
  if (rows.length > 0) out.push(...mainTable(rows, checks));
  for (const run of runs) if (run.viewLag !== undefined) out.push("", formatViewLag(run.storage, run.viewLag));
  for (const run of runs) if (run.timerDelay !== undefined) out.push("", formatTimerDelay(run.storage, run.timerDelay));
  for (const run of runs) if (run.soak !== undefined) out.push("", formatSoak(run.storage, run.soak));
  for (const run of runs) if (run.observability !== undefined) out.push("", formatObservability(run.storage, run.observability));
  return out.join("\n").replace(/^\n/, "");
}

/** The rows of every storage in one table, the target ratios and the legend. */
function mainTable(rows: readonly string[][], checks: readonly TargetCheck[]): string[] {
  const head = MAIN_HEAD;
  // A failure row has two cells: the storage, then a message that runs past the columns.
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => i === 0 || r.length > 2).map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.length === 2 ? `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]}` : cells.map((c, i) => (i < 2 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line), ""];
  out.push("Targets (reported, never asserted; \"info\" lines are for comparison):");
  const percent = (v: number | undefined): string => (v === undefined ? "n/a" : `${(v * 100).toFixed(0)}%`);
  const times = (v: number | undefined): string => (v === undefined ? "n/a" : `${v.toFixed(2)}×`);
  for (const c of checks) {
    const met = c.ratio === undefined ? "not measured" : (c.direction === "at least" ? c.ratio >= c.target : c.ratio <= c.target) ? "met" : "not met";
    const noisy = c.noise !== undefined && c.noise >= 0.25 ? `; noisy: other work used up to ${c.noise.toFixed(2)} cores` : "";
    const figures = c.direction === "at least"
      ? `${percent(c.ratio)} by req/s, ${percent(c.cpuRatio)} by server CPU per call  (target >= ${percent(c.target)}`
      : `${times(c.ratio)}  (target <= ${times(c.target)}`;
    out.push(`  ${STORAGE_LABEL[c.storage].padEnd(10)}  ${c.client.padEnd(6)}  ${c.name}: ${figures}${c.binding ? `: ${met}` : ", info"}${noisy})`);
  }
  out.push("", "req/s counts good replies in the timed window; p50/p99 are their latencies; errors are failed calls in the window.",
    "srv µs/call is the server process's CPU time per good reply: its cost per call, which other work on the machine",
    "does not distort the way it distorts req/s. The cpu columns are cores used in the window by the load generator,",
    "the server process, every postgres process, and everything else on the machine (not ours: noise).",
    "client: h2×N is N HTTP/2 sessions (h2c), h1×N is N HTTP/1.1 keep-alive connections with one request in flight on each.");
  return out;
}

/** One soak as its own small table: an interval a row. */
/** One line: the view's lag behind the writes, beside the write load it ran under. */
export function formatViewLag(storage: StorageKind, lag: ViewLagResult): string {
  return `View lag on ${STORAGE_LABEL[storage]}: AddItem reply → row visible in CartsView, ${lag.probes} probes` +
    `${lag.lost > 0 ? ` (${lag.lost} not visible within 10 s)` : ""}: p50 ${fmt(lag.lagMs.p50, 1)} ms, p99 ${fmt(lag.lagMs.p99, 1)} ms, ` +
    `max ${fmt(lag.lagMs.max, 1)} ms (polled every ${lag.pollMs} ms; goal p99 <= 50 ms on PostgreSQL), ` +
    `under ${lag.load.id} over ${lag.load.client} at ${fmt(lag.load.rps, 0)} req/s, p99 ${fmt(lag.load.latencyMs.p99, 2)} ms, ${lag.load.errors} errors`;
}

/** One line: durable timers' firing delay, beside the write load it ran under. */
export function formatTimerDelay(storage: StorageKind, t: TimerDelayResult): string {
  return `Timer firing delay on ${STORAGE_LABEL[storage]}: fire time − due time of ${t.timers} reminders due ${t.timerDelayMs} ms after scheduling` +
    `${t.lost > 0 ? ` (${t.lost} not fired or not scheduled)` : ""}${t.repeated > 0 ? ` (${t.repeated} fired more than once)` : ""}: ` +
    `p50 ${fmt(t.delayMs.p50, 1)} ms, p99 ${fmt(t.delayMs.p99, 1)} ms, max ${fmt(t.delayMs.max, 1)} ms (goal: within 100 ms on an idle node), ` +
    `under ${t.load.id} over ${t.load.client} at ${fmt(t.load.rps, 0)} req/s, p99 ${fmt(t.load.latencyMs.p99, 2)} ms, ${t.load.errors} errors`;
}

export function formatSoak(storage: StorageKind, soak: SoakResult): string {
  const head = ["t s", "req/s", "p50 ms", "p99 ms", "errors", "srv µs/call", "rss MB", "events", "journal MB", "cpu gen", "cpu srv", "cpu pg", "cpu other"];
  const mb = (bytes: number | undefined): string => optional(bytes, (b) => fmt(b / 2 ** 20, 1));
  const rows = soak.intervals.map((i) => [
    fmt(i.atSeconds, 0), fmt(i.rps, 0), fmt(i.latencyMs.p50, 2), fmt(i.latencyMs.p99, 2), String(i.errors),
    optional(serverMicrosPerCall(i), (v) => fmt(v, 0)), mb(i.serverRssBytes),
    "error" in i.journal ? "?" : optional(i.journal.events, (e) => fmt(e, 0)), "error" in i.journal ? "?" : mb(i.journal.bytes),
    ...[i.cpu.generator, i.cpu.server, i.cpu.postgres, i.cpu.other].map((v) => optional(v, (c) => c.toFixed(2))),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  const journal = storage === "pglite" ? "journal = PGlite's data directory on disk" : "journal = pg_total_relation_size('orrery_events'), events = its rows";
  const failed = soak.intervals.find((i) => "error" in i.journal)?.journal;
  return [
    `Soak on ${STORAGE_LABEL[storage]}: ${soak.rpc} ${soak.carts} carts c=${soak.concurrency} over ${soak.client}, ` +
      `${soak.intervals.length} × ${fmt(soak.intervalSeconds, 0)} s (${journal})`,
    line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line),
    ...(failed !== undefined && "error" in failed ? [`journal size not read: ${failed.error}`] : []),
  ].join("\n");
}

/** The observability comparison: a row per server (mode and round), then each mode's medians against "off". */
export function formatObservability(storage: StorageKind, cost: ObservabilityCost): string {
  const head = ["round", "mode", "req/s", "p50 ms", "p99 ms", "errors", "srv µs/call", "sink B/call", "cpu gen", "cpu srv", "cpu other"];
  const rows = cost.rows.map((r) => [
    String(r.round), r.mode, fmt(r.rps, 0), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), String(r.errors + r.warmupErrors + r.activationErrors),
    optional(serverMicrosPerCall(r), (v) => fmt(v, 0)), optional(r.sinkBytesPerCall, (v) => fmt(v, 0)),
    ...[r.cpu.generator, r.cpu.server, r.cpu.other].map((v) => optional(v, (c) => c.toFixed(2))),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const off = cost.medians.find((m) => m.mode === "off");
  const medians = cost.medians.map((m) => {
    const versus = off === undefined || m === off ? "" :
      ` (${signed(((m.rps / off.rps) - 1) * 100, 0)}% req/s` +
      (m.serverMicrosPerCall !== undefined && off.serverMicrosPerCall !== undefined ? `, ${signed(m.serverMicrosPerCall - off.serverMicrosPerCall, 0)} µs/call against off)` : ")");
    return `  ${m.mode.padEnd(8)} ${fmt(m.rps, 0)} req/s, ${optional(m.serverMicrosPerCall, (v) => fmt(v, 0))} srv µs/call${versus}`;
  });
  const rounds = Math.max(0, ...cost.rows.map((r) => r.round));
  return [
    `Observability on ${STORAGE_LABEL[storage]}: ${cost.rpc} ${cost.carts} carts c=${cost.concurrency} over ${cost.client}, a fresh server per row ` +
      "(off: ORRERY_METRICS=off; metrics: the default; tracing: metrics and OTLP spans to a sink in the bench, counted in cpu gen)",
    line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line),
    `Medians over ${rounds} round(s):`, ...medians,
  ].join("\n");
}

function signed(value: number, digits: number): string {
  return `${value >= 0 ? "+" : "−"}${fmt(Math.abs(value), digits)}`;
}

/** Writes `record` as results/<timestamp>.json and results/latest.json; returns the first path. */
export async function writeResults(record: unknown, startedAt: Date): Promise<string> {
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(record, null, 2)}\n`;
  const file = `${dir}${startedAt.toISOString().replace(/:/g, "-")}.json`;
  await writeFile(file, json);
  await writeFile(`${dir}latest.json`, json);
  return file;
}

function fmt(value: number, digits: number): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function busiest(r: ScenarioResult): string {
  const top = r.cpu.busiestOthers[0];
  return top === undefined ? "" : `, most by pid ${top.pid}: ${top.command.slice(0, 80)}`;
}

function optional(value: number | undefined, format: (value: number) => string): string {
  return value === undefined ? "-" : format(value);
}
