// What a run produced: the table on stdout, the target ratios, and the JSON
// record under bench/results/.
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { StorageKind } from "./bench-storage.js";
import type { LoadResult } from "./load-generator.js";
import type { Scenario } from "./scenarios.js";

/** One measured scenario on one storage. */
export interface ScenarioResult extends LoadResult, Pick<Scenario, "id" | "rpc" | "label" | "carts" | "concurrency"> {
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
}

/** A ratio of two scenarios of one storage against its goal. */
export interface TargetCheck {
  readonly name: string;
  readonly storage: StorageKind;
  /** The scenario's req/s over the better no-op run's: what the target is about. */
  readonly ratio: number | undefined;
  /**
   * The same comparison by the server's CPU time per call (cheapest no-op ÷ scenario).
   * It is what req/s would give on a quiet machine if the server process were the limit.
   */
  readonly cpuRatio: number | undefined;
  /** The most cores other work used during the compared windows; above ~0.25 the req/s ratio is suspect. */
  readonly noise: number | undefined;
  readonly target: number;
  /** Only PostgreSQL carries the issue's targets; PGlite's ratio is shown for comparison. */
  readonly binding: boolean;
}

const STORAGE_LABEL: Record<StorageKind, string> = { pglite: "PGlite", postgres: "PostgreSQL" };

/**
 * The issue's two targets, per storage: AddItem over many carts and GetCart
 * against the no-op, all at c=64; the no-op ceiling is the better of its two runs.
 */
export function targetChecks(runs: readonly StorageRun[], manyCarts: number): TargetCheck[] {
  return runs.flatMap((run) => {
    const find = (id: string): ScenarioResult | undefined => run.results.find((r) => r.id === id);
    const noops = [find("noop-c64"), find("noop-c64-again")].filter((r) => r !== undefined && r.rps > 0) as ScenarioResult[];
    const ceiling = noops.reduce<ScenarioResult | undefined>((best, r) => (best === undefined || r.rps > best.rps ? r : best), undefined);
    const noopCosts = noops.map(serverMicrosPerCall).filter((c) => c !== undefined);
    const cheapest = noopCosts.length > 0 ? Math.min(...noopCosts) : undefined;
    const binding = run.storage === "postgres";
    const check = (id: string, rpc: string, target: number): TargetCheck => {
      const r = find(id);
      const cost = r && serverMicrosPerCall(r);
      return {
        name: `${rpc} ${manyCarts} carts c=64 / best no-op c=64`, storage: run.storage, target, binding,
        ratio: r && ceiling ? r.rps / ceiling.rps : undefined,
        cpuRatio: cost !== undefined && cheapest !== undefined ? cheapest / cost : undefined,
        noise: r && ceiling ? Math.max(r.cpu.other ?? 0, ceiling.cpu.other ?? 0) : undefined,
      };
    };
    return [check(`additem-${manyCarts}carts-c64`, "AddItem", 0.5), check(`getcart-${manyCarts}carts-c64`, "GetCart", 0.8)];
  });
}

/** The server process's CPU time per good reply, in microseconds. */
function serverMicrosPerCall(r: ScenarioResult): number | undefined {
  return r.cpu.server === undefined || r.rps === 0 ? undefined : (r.cpu.server * 1e6) / r.rps;
}

/** One progress line for a finished scenario. */
export function progressLine(storage: StorageKind, r: ScenarioResult): string {
  const errors = r.errors + r.warmupErrors + r.activationErrors;
  const noise = r.cpu.other ?? 0;
  return `  ${STORAGE_LABEL[storage]} ${r.id}: ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.latencyMs.p50, 2)} ms, p99 ${fmt(r.latencyMs.p99, 2)} ms` +
    (errors > 0 ? `, ${errors} errors` : "") +
    (noise >= 0.25 ? ` (noise: other work used ${noise.toFixed(2)} cores${busiest(r)})` : "");
}

/** The results table and the target ratios, for stdout. */
export function formatReport(runs: readonly StorageRun[], checks: readonly TargetCheck[]): string {
  const head = ["storage", "scenario", "carts", "c", "req/s", "p50 ms", "p99 ms", "errors", "srv µs/call", "cpu gen", "cpu srv", "cpu pg", "cpu other"];
  const rows: string[][] = [];
  for (const run of runs) {
    if (run.error !== undefined) rows.push([STORAGE_LABEL[run.storage], `FAILED: ${run.error.split("\n", 1)[0]}`]);
    for (const r of run.results) {
      rows.push([
        STORAGE_LABEL[run.storage], r.label, r.carts === 0 ? "-" : String(r.carts), String(r.concurrency),
        fmt(r.rps, 0), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), String(r.errors),
        optional(serverMicrosPerCall(r), (v) => fmt(v, 0)),
        ...[r.cpu.generator, r.cpu.server, r.cpu.postgres, r.cpu.other].map((v) => optional(v, (c) => c.toFixed(2))),
      ]);
    }
  }
  // A failure row has two cells: the storage, then a message that runs past the columns.
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => i === 0 || r.length > 2).map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.length === 2 ? `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]}` : cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line), ""];
  out.push("Targets (not asserted; PostgreSQL carries them, PGlite shown for comparison):");
  const percent = (v: number | undefined): string => (v === undefined ? "n/a" : `${(v * 100).toFixed(0)}%`);
  for (const c of checks) {
    const verdict = c.ratio === undefined ? "not measured" : c.ratio >= c.target ? "met" : "not met";
    const noisy = c.noise !== undefined && c.noise >= 0.25 ? `; noisy: other work used up to ${c.noise.toFixed(2)} cores` : "";
    out.push(`  ${STORAGE_LABEL[c.storage].padEnd(10)}  ${c.name}: ${percent(c.ratio)} by req/s, ${percent(c.cpuRatio)} by server CPU per call` +
      `  (target >= ${c.target * 100}%${c.binding ? `: ${verdict}` : ", info only"}${noisy})`);
  }
  out.push("", "req/s counts good replies in the timed window; p50/p99 are their latencies; errors are failed calls in the window.",
    "srv µs/call is the server process's CPU time per good reply: its cost per call, which other work on the machine",
    "does not distort the way it distorts req/s. The cpu columns are cores used in the window by the load generator,",
    "the server process, every postgres process, and everything else on the machine (not ours: noise).");
  return out.join("\n");
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
