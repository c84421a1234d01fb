// `npm run bench` (after the shopping-cart rows), or `npm run bench --workspace samples/funds-transfer`:
// completed two-step workflows per second and their end-to-end latency, on
// PGlite and on PostgreSQL. The sample runs as deployed: the wallet service and
// the transfer service, each its own process with its own fresh store; the
// transfer steps call the wallet service over HTTP/2 (withdraw, then deposit).
//
// Load: BENCH_WORKFLOW_CONCURRENCY (32) closed-loop workers, each starting a
// transfer between two random wallets of 1,000 and polling GetTransfer every
// 10 ms until it is COMPLETED; the end-to-end latency is from sending
// StartTransfer to the first GetTransfer that answers COMPLETED (so it includes
// up to 10 ms of polling; at 2 ms the pollers' reads took most of the service's CPU). BENCH_WORKFLOW_SECONDS (10; 0 skips it),
// BENCH_WARMUP_SECONDS (1), BENCH_STORAGES ("pglite,postgres"), DATABASE_URL
// (the server the fresh databases are made on; else an embedded one).
// Prints the rows and writes bench/results/latest.json.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { openBenchStorage } from "../../shopping-cart/bench/bench-storage.js";
import type { BenchStorage, StorageKind } from "../../shopping-cart/bench/bench-storage.js";
import { LatencyRecorder } from "../../shopping-cart/bench/latency-recorder.js";
import type { LatencySummary } from "../../shopping-cart/bench/latency-recorder.js";
import { freePort, readyz, withoutServerSettings } from "../../shopping-cart/bench/sample-server.js";
import { TransferService, TransferStatus } from "../src/gen/transfer/v1/transfer_pb.js";
import { WalletService } from "../src/gen/wallet/v1/wallet_pb.js";

const SAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const WALLETS = 1_000;
/** How often a worker asks whether its transfer completed: polling faster measures the pollers, not the workflows. */
const POLL_MS = 10;

interface WorkflowRow {
  readonly storage: StorageKind;
  readonly concurrency: number;
  readonly seconds: number;
  readonly completed: number;
  readonly perSecond: number;
  /** StartTransfer sent → GetTransfer first answers COMPLETED. */
  readonly endToEnd: LatencySummary;
  /** StartTransfer's own reply (the start stored). */
  readonly start: LatencySummary;
  /** Transfers that ended otherwise (never expected here). */
  readonly otherOutcomes: number;
  readonly errors: number;
}

function env(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0, not ${JSON.stringify(raw)}`);
  return value;
}

/** Starts one of the sample's services as its own process and waits for /readyz. */
async function startService(script: string, storage: BenchStorage, extra: Record<string, string>): Promise<{ url: string; stop(): Promise<void>; output: string[] }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["--conditions=orrery-source", "--import", "tsx", `src/${script}`], {
    cwd: SAMPLE_DIR,
    env: { ...withoutServerSettings(process.env), ...storage.env, ...extra, WALLET_PORT: String(port), TRANSFER_PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", ORRERY_CLUSTER_SECRET: "bench-secret-of-the-funds-transfer" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout!.on("data", (d: Buffer) => output.push(String(d)));
  child.stderr!.on("data", (d: Buffer) => output.push(String(d)));
  const killOnExit = () => void child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited before it was ready:\n${output.join("").slice(-2_000)}`);
    if ((await readyz(url)) === 200) break;
    if (Date.now() > deadline) throw new Error(`${script} was not ready within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, output,
    async stop() {
      process.off("exit", killOnExit);
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function measure(kind: StorageKind, concurrency: number, seconds: number, warmupSeconds: number): Promise<WorkflowRow> {
  const walletStore = await openBenchStorage(kind);
  const transferStore = await openBenchStorage(kind);
  const wallet = await startService("wallet-main.ts", walletStore, {});
  const transfer = await startService("transfer-main.ts", transferStore, { ORRERY_SERVICE_WALLET_URL: wallet.url, TRANSFER_APPROVAL_ABOVE: String(2n ** 62n) });
  try {
    const wallets = createClient(WalletService, createConnectTransport({ baseUrl: wallet.url, httpVersion: "2" }));
    const transfers = createClient(TransferService, createConnectTransport({ baseUrl: transfer.url, httpVersion: "2" }));
    for (let i = 0; i < WALLETS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => wallets.createWallet({ walletId: `w${i + j}`, initialBalance: 1_000_000_000n })));
    }
    const endToEnd = new LatencyRecorder();
    const start = new LatencyRecorder();
    let completed = 0;
    let otherOutcomes = 0;
    let errors = 0;
    let measuring = false;
    let stop = false;
    let n = 0;
    const worker = async (w: number) => {
      while (!stop) {
        const transferId = `b${w}-${n++}`;
        const from = Math.floor(Math.random() * WALLETS);
        const to = (from + 1 + Math.floor(Math.random() * (WALLETS - 1))) % WALLETS;
        const sent = performance.now();
        const counted = measuring;
        try {
          await transfers.startTransfer({ transferId, fromWalletId: `w${from}`, toWalletId: `w${to}`, amount: 1n });
          if (counted) start.add((performance.now() - sent) * 1000);
          for (;;) {
            const { status } = await transfers.getTransfer({ transferId });
            if (status === TransferStatus.COMPLETED) break;
            if (status !== TransferStatus.STARTED && status !== TransferStatus.WITHDRAWN) {
              otherOutcomes++;
              break;
            }
            await new Promise((r) => setTimeout(r, POLL_MS));
          }
          if (counted && measuring) {
            endToEnd.add((performance.now() - sent) * 1000);
            completed++;
          }
        } catch {
          if (counted) errors++;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    };
    const workers = Array.from({ length: concurrency }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
    measuring = true;
    const began = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - began) / 1000;
    stop = true;
    await Promise.all(workers);
    return {
      storage: kind, concurrency, seconds: elapsed, completed, perSecond: completed / elapsed,
      endToEnd: endToEnd.summary(), start: start.summary(), otherOutcomes, errors,
    };
  } finally {
    await transfer.stop();
    await wallet.stop();
    await transferStore.dispose();
    await walletStore.dispose();
  }
}

function format(row: WorkflowRow): string {
  const label = row.storage === "pglite" ? "PGlite" : "PostgreSQL";
  return `Two-step workflows on ${label} (transfer service → wallet service, c=${row.concurrency}): ${row.perSecond.toFixed(0)} completed/s; ` +
    `end to end p50 ${row.endToEnd.p50.toFixed(1)} ms, p99 ${row.endToEnd.p99.toFixed(1)} ms; StartTransfer p50 ${row.start.p50.toFixed(1)} ms, ` +
    `p99 ${row.start.p99.toFixed(1)} ms; ${row.completed} completed in ${row.seconds.toFixed(1)} s, ${row.otherOutcomes} other outcomes, ${row.errors} errors`;
}

const seconds = env("BENCH_WORKFLOW_SECONDS", 10);
if (seconds === 0) {
  console.log("workflow bench: skipped (BENCH_WORKFLOW_SECONDS=0)");
} else {
  const concurrency = env("BENCH_WORKFLOW_CONCURRENCY", 32);
  const warmup = env("BENCH_WARMUP_SECONDS", 1);
  const storages = (process.env["BENCH_STORAGES"] ?? "pglite,postgres").split(",").map((s) => s.trim()).filter(Boolean) as StorageKind[];
  const rows: WorkflowRow[] = [];
  for (const kind of storages) {
    console.log(`workflows on ${kind}: ${concurrency} workers for ${seconds} s (after ${warmup} s of warm-up)…`);
    const row = await measure(kind, concurrency, seconds, warmup);
    console.log(`  ${format(row)}`);
    rows.push(row);
  }
  mkdirSync(new URL("results/", import.meta.url), { recursive: true });
  const file = new URL("results/latest.json", import.meta.url);
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), machine: { cpus: os.cpus().length, load: os.loadavg() }, rows }, null, 2)}\n`);
  console.log(`\n${rows.map(format).join("\n")}\nwritten to ${fileURLToPath(file)}`);
}
