// What metrics and tracing cost per call: one row measured against servers
// started in each observability mode, the modes alternated (off, metrics,
// tracing, then backwards, …) so that a machine that speeds up or slows down
// during the run does not favour one mode; the medians are compared.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { serverMicrosPerCall } from "./bench-targets.js";
import { openClient, SINGLE_SESSION } from "./client-shape.js";
import type { ClientShape } from "./client-shape.js";
import { median } from "./latency-recorder.js";
import { sendEachOnce, sleep, startLoad } from "./load-generator.js";
import type { LoadResult } from "./load-generator.js";
import { startSampleServer } from "./sample-server.js";
import type { Scenario } from "./scenarios.js";

/** off: ORRERY_METRICS=off; metrics: the default; tracing: metrics and spans exported over OTLP to a sink in the bench. */
export type ObservabilityMode = "off" | "metrics" | "tracing";

export const OBSERVABILITY_MODES: readonly ObservabilityMode[] = ["off", "metrics", "tracing"];

/** One measured row in one mode. */
export interface ObservabilityRow extends LoadResult {
  readonly mode: ObservabilityMode;
  /** 1-based. */
  readonly round: number;
  readonly activationErrors: number;
  /** OTLP bytes the sink received during the timed window, per good reply (tracing only): spans dropped would show as a fall. */
  readonly sinkBytesPerCall?: number | undefined;
  /** How the server ended after SIGTERM. */
  readonly serverExit: string;
  /** The first lines it logged (at LOG_LEVEL=warn, warnings and errors only). */
  readonly serverLog: readonly string[];
}

/** A mode's medians over its rounds. */
export interface ObservabilityMedian {
  readonly mode: ObservabilityMode;
  readonly rps: number;
  readonly serverMicrosPerCall: number | undefined;
}

/** The whole comparison on one storage. */
export interface ObservabilityCost extends Pick<Scenario, "id" | "rpc" | "label" | "carts" | "concurrency"> {
  readonly client: string;
  readonly rows: readonly ObservabilityRow[];
  readonly medians: readonly ObservabilityMedian[];
}

export interface ObservabilityCostOptions {
  readonly modes: readonly ObservabilityMode[];
  readonly rounds: number;
  readonly scenario: Scenario & { readonly activate: NonNullable<Scenario["activate"]> };
  readonly shape: ClientShape;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** The storage's environment for the server (its data directory or DATABASE_URL). */
  readonly storageEnv: Record<string, string>;
  readonly onRow: (row: ObservabilityRow) => void;
  readonly interrupted: () => boolean;
}

/** The server's environment in `mode`; the sample server drops the bench's own ORRERY_* and OTEL_* variables. */
export function observabilityEnv(mode: ObservabilityMode, sinkUrl: string): Record<string, string> {
  if (mode === "off") return { ORRERY_METRICS: "off" };
  if (mode === "metrics") return { ORRERY_METRICS: "on" };
  return { ORRERY_METRICS: "on", OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl };
}

/** Round `round` (0-based) runs the modes forwards when even, backwards when odd. */
export function modeOrder(modes: readonly ObservabilityMode[], round: number): ObservabilityMode[] {
  return round % 2 === 0 ? [...modes] : [...modes].reverse();
}

/**
 * Starts a server per mode and round on the same store (one at a time:
 * PGlite's directory has one owner), activates the scenario's carts, warms
 * up and measures one window. A server that fails to start ends the
 * comparison with an error; the rows measured so far are kept in it.
 */
export async function runObservabilityCost(options: ObservabilityCostOptions): Promise<ObservabilityCost> {
  const { scenario, shape } = options;
  const sink = await startOtlpSink();
  const rows: ObservabilityRow[] = [];
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const mode of modeOrder(options.modes, round)) {
        if (options.interrupted()) throw new Error("interrupted");
        const server = await startSampleServer({ ...options.storageEnv, ...observabilityEnv(mode, sink.url) });
        let measured: Omit<ObservabilityRow, "serverExit" | "serverLog">;
        try {
          const activation = await sendEachOnce(scenario.activate, await openClient(SINGLE_SESSION, server.url), 64);
          const load = startLoad(scenario.call, await openClient(shape, server.url), { concurrency: scenario.concurrency, serverPid: server.pid });
          await sleep(options.warmupSeconds * 1000);
          const bytesBefore = sink.bytes;
          const window = await load.measure(options.seconds * 1000);
          const sinkBytes = sink.bytes - bytesBefore;
          measured = {
            ...window, ...(await load.stop()), mode, round: round + 1, activationErrors: activation.errors,
            sinkBytesPerCall: mode === "tracing" && window.requests > 0 ? sinkBytes / window.requests : undefined,
          };
        } catch (error) {
          await server.stop();
          throw error;
        }
        rows.push({ ...measured, serverExit: await server.stop(), serverLog: server.output.slice(0, 10) });
        options.onRow(rows.at(-1)!);
      }
    }
  } finally {
    await sink.close();
  }
  return {
    id: scenario.id, rpc: scenario.rpc, label: scenario.label, carts: scenario.carts, concurrency: scenario.concurrency,
    client: shape.label, rows, medians: options.modes.map((mode) => medianOf(mode, rows.filter((r) => r.mode === mode))),
  };
}

function medianOf(mode: ObservabilityMode, rows: readonly ObservabilityRow[]): ObservabilityMedian {
  const costs = rows.map(serverMicrosPerCall).filter((c) => c !== undefined);
  return { mode, rps: median(rows.map((r) => r.rps)) ?? 0, serverMicrosPerCall: median(costs) };
}

/** An OTLP/HTTP endpoint in this process that answers every export with 200 and keeps only a byte count. */
async function startOtlpSink(): Promise<{ url: string; readonly bytes: number; close(): Promise<void> }> {
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get bytes() {
      return bytes;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
