// A lean closed-loop load generator: a fixed number of Connect unary calls
// (binary protobuf), or REST calls (JSON, HTTP/1.1 only), in flight over a client of any shape (h2 sessions or
// HTTP/1.1 connections: load-generator-h2.ts, load-generator-h1.ts), a
// warm-up, then timed windows in which every completion is counted and timed.
import { cpuBetween, sampleCpu } from "./cpu-usage.js";
import type { CpuUsage } from "./cpu-usage.js";
import { LatencyRecorder } from "./latency-recorder.js";
import type { LatencySummary } from "./latency-recorder.js";

/** One unary RPC with its pre-encoded requests and a cheap check of each reply. */
export interface UnaryCall {
  /** The Connect path, e.g. "/shop.cart.v1.ShoppingCartService/AddItem"; for a REST call its route, e.g. "POST /carts/{cart_id}/items". */
  readonly path: string;
  /** Pre-encoded request messages (REST: JSON text; empty for a GET); each request picks one at random. */
  readonly bodies: readonly Uint8Array[];
  /** Headers every request carries besides the protocol's own, e.g. `authorization`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A REST call instead of a Connect one: request `i` is `method` on `paths[i]` with `bodies[i]`; HTTP/1.1 clients only. */
  readonly rest?: { readonly method: "GET" | "POST"; readonly paths: readonly string[] };
  /** Whether `reply` is a good answer to `bodies[index]`; may throw on a bad one. */
  readonly check: (reply: Uint8Array, index: number) => boolean;
}

/** Open connections to the server that carry Connect unary calls. */
export interface LoadClient {
  /** Sends `call.bodies[index]`; `done` gets undefined on a good reply, else what went wrong. */
  send(call: UnaryCall, index: number, done: (failure: string | undefined) => void): void;
  /** Closes the connections once the calls in flight are answered. */
  close(): void;
  /** Closes the connections at once, failing the calls in flight. */
  destroy(): void;
}

/** How much load and what to watch. */
export interface LoadOptions {
  /** Requests in flight at all times (closed loop: a reply triggers the next request). */
  readonly concurrency: number;
  /** The server process, to report its CPU use over each window. */
  readonly serverPid?: number | undefined;
}

/** What one timed window measured; only replies that passed the check count as requests. */
export interface LoadWindow {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  /** Good replies per second in the window. */
  readonly rps: number;
  /** Latency of the good replies. */
  readonly latencyMs: LatencySummary;
  readonly cpu: CpuUsage;
}

/** A warm-up and one timed window. */
export interface LoadResult extends LoadWindow, LoadTotals {}

/** What a whole load run saw outside its windows. */
export interface LoadTotals {
  /** Errors outside the timed windows (the warm-up), not counted in them. */
  readonly warmupErrors: number;
  /** Error descriptions (numbered ids such as cart-17 folded to cart-#) with their counts, warm-up included. */
  readonly errorKinds: Readonly<Record<string, number>>;
  /** Requests still unanswered 10 s after the load stopped (then abandoned). */
  readonly unfinished: number;
}

/** A closed loop that is running: measure windows back to back, then stop it. */
export interface RunningLoad {
  /** Counts and times the completions of the next `ms` milliseconds. */
  measure(ms: number): Promise<LoadWindow>;
  /** Stops issuing, waits for the calls in flight (10 s at most), and closes the client. */
  stop(): Promise<LoadTotals>;
}

const DRAIN_MS = 10_000;
const MAX_ERROR_KINDS = 20;

/** Starts `options.concurrency` calls of `call` on `client`, each answered call issuing the next; owns `client` from now on. */
export function startLoad(call: UnaryCall, client: LoadClient, options: LoadOptions): RunningLoad {
  const errorKinds = new Map<string, number>();
  let window: { recorder: LatencyRecorder; errors: number } | undefined;
  let warmupErrors = 0;
  let inFlight = 0;
  let stopped = false;
  let finished: () => void = () => {};
  const allDone = new Promise<void>((resolve) => (finished = resolve));

  const issue = (): void => {
    const index = call.bodies.length === 1 ? 0 : (Math.random() * call.bodies.length) | 0;
    const started = process.hrtime.bigint();
    inFlight++;
    client.send(call, index, (failure) => {
      const ended = process.hrtime.bigint();
      inFlight--;
      if (failure !== undefined) {
        if (window !== undefined) window.errors++;
        else if (!stopped) warmupErrors++;
        countKind(errorKinds, failure);
      } else if (window !== undefined) {
        window.recorder.add(Number(ended - started) / 1000);
      }
      if (!stopped) issue();
      else if (inFlight === 0) finished();
    });
  };
  for (let i = 0; i < options.concurrency; i++) issue();

  return {
    async measure(ms) {
      const current = { recorder: new LatencyRecorder(), errors: 0 };
      const first = sampleCpu(options.serverPid);
      window = current;
      await sleep(ms);
      if (window === current) window = undefined;
      const last = sampleCpu(options.serverPid);
      const seconds = Number(last.atNs - first.atNs) / 1e9;
      return {
        requests: current.recorder.count,
        errors: current.errors,
        seconds,
        rps: current.recorder.count / seconds,
        latencyMs: current.recorder.summary(),
        cpu: cpuBetween(first, last),
      };
    },
    async stop() {
      window = undefined;
      stopped = true;
      let drainTimer: NodeJS.Timeout | undefined;
      const drainTimeout = new Promise<false>((resolve) => (drainTimer = setTimeout(resolve, DRAIN_MS, false)));
      const drained = inFlight === 0 || (await Promise.race([allDone.then(() => true), drainTimeout]));
      clearTimeout(drainTimer);
      const unfinished = drained ? 0 : inFlight;
      if (drained) client.close();
      else client.destroy();
      return { warmupErrors, errorKinds: Object.fromEntries(errorKinds), unfinished };
    },
  };
}

/** Runs `call` at `options.concurrency` on `client` for a warm-up and one timed window, then closes `client`. */
export async function runLoad(
  call: UnaryCall,
  client: LoadClient,
  options: LoadOptions & { readonly warmupMs: number; readonly measureMs: number },
): Promise<LoadResult> {
  const load = startLoad(call, client, options);
  await sleep(options.warmupMs);
  const window = await load.measure(options.measureMs);
  return { ...window, ...(await load.stop()) };
}

/** Sends every body of `call` once, `concurrency` at a time (e.g. to activate entities), then closes `client`. */
export async function sendEachOnce(
  call: UnaryCall,
  client: LoadClient,
  concurrency: number,
): Promise<{ errors: number; errorKinds: Record<string, number> }> {
  const errorKinds = new Map<string, number>();
  let errors = 0;
  let nextIndex = 0;
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    const issue = (): void => {
      if (nextIndex === call.bodies.length) {
        if (inFlight === 0) resolve();
        return;
      }
      const index = nextIndex++;
      inFlight++;
      client.send(call, index, (failure) => {
        inFlight--;
        if (failure !== undefined) {
          errors++;
          countKind(errorKinds, failure);
        }
        issue();
      });
    };
    for (let i = 0; i < Math.min(concurrency, call.bodies.length); i++) issue();
    if (call.bodies.length === 0) resolve();
  });
  client.close();
  return { errors, errorKinds: Object.fromEntries(errorKinds) };
}

/** Judges one complete reply: undefined when it is a 200 that passes the call's check, else what went wrong. */
export function replyFailure(call: UnaryCall, index: number, status: number, body: Buffer): string | undefined {
  if (status !== 200) return describeConnectError(status, body);
  try {
    return call.check(body, index) ? undefined : "reply failed the check";
  } catch (error) {
    return `undecodable reply: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** A Connect unary error is JSON `{code, message}` with a non-200 status; a REST one has the same two fields (a number code). */
function describeConnectError(status: number, body: Buffer): string {
  try {
    const { code, message } = JSON.parse(body.toString("utf8")) as { code?: string; message?: string };
    return `HTTP ${status} ${code ?? "?"}: ${message ?? ""}`;
  } catch {
    return `HTTP ${status}: ${body.toString("utf8", 0, Math.min(body.length, 200))}`;
  }
}

function countKind(kinds: Map<string, number>, failure: string): void {
  // Fold numbered ids so "cart-17" and "cart-912" count as one kind; cap the distinct kinds.
  let kind = failure.replace(/(?<=[-_])\d+/g, "#").slice(0, 300);
  if (!kinds.has(kind) && kinds.size >= MAX_ERROR_KINDS) kind = "(other errors)";
  kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
