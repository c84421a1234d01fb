// A lean closed-loop load generator: Connect unary calls (binary protobuf)
// over raw node:http2 sessions, a fixed number of requests in flight, a
// warm-up, then a timed window in which every completion is counted and timed.
import * as http2 from "node:http2";
import * as net from "node:net";
import { cpuBetween, sampleCpu } from "./cpu-usage.js";
import type { CpuUsage } from "./cpu-usage.js";
import { LatencyRecorder } from "./latency-recorder.js";
import type { LatencySummary } from "./latency-recorder.js";

/** One unary RPC with its pre-encoded requests and a cheap check of each reply. */
export interface UnaryCall {
  /** The Connect path, e.g. "/shop.cart.v1.ShoppingCartService/AddItem". */
  readonly path: string;
  /** Pre-encoded request messages; each request picks one at random. */
  readonly bodies: readonly Uint8Array[];
  /** Whether `reply` is a good answer to `bodies[index]`; may throw on a bad one. */
  readonly check: (reply: Uint8Array, index: number) => boolean;
}

/** Where to send the load and how much. */
export interface LoadOptions {
  /** The server's base URL, e.g. "http://127.0.0.1:8080" (h2c with prior knowledge). */
  readonly url: string;
  /** HTTP/2 connections; streams are spread over them round-robin. */
  readonly sessions: number;
  /** Requests in flight at all times (closed loop: a reply triggers the next request). */
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** The server process, to report its CPU use over the window. */
  readonly serverPid?: number | undefined;
}

/** What one timed window measured; only replies that passed the check count as requests. */
export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  /** Errors in the warm-up, not counted above. */
  readonly warmupErrors: number;
  /** Error descriptions (numbered ids such as cart-17 folded to cart-#) with their counts, warm-up included. */
  readonly errorKinds: Readonly<Record<string, number>>;
  readonly seconds: number;
  /** Good replies per second in the window. */
  readonly rps: number;
  /** Latency of the good replies. */
  readonly latencyMs: LatencySummary;
  readonly cpu: CpuUsage;
  /** Requests still unanswered 10 s after the window closed (then abandoned). */
  readonly unfinished: number;
}

const DRAIN_MS = 10_000;
const MAX_ERROR_KINDS = 20;

/** Runs `call` at `concurrency` for a warm-up and a timed window. */
export async function runLoad(call: UnaryCall, options: LoadOptions): Promise<LoadResult> {
  const pool = await openSessions(options.url, options.sessions);
  const recorder = new LatencyRecorder();
  const errorKinds = new Map<string, number>();
  let errors = 0;
  let warmupErrors = 0;
  let inFlight = 0;
  let measuring = false;
  let stopped = false;
  let finished: () => void = () => {};
  const allDone = new Promise<void>((resolve) => (finished = resolve));

  const issue = (): void => {
    const index = call.bodies.length === 1 ? 0 : (Math.random() * call.bodies.length) | 0;
    const started = process.hrtime.bigint();
    inFlight++;
    send(pool.next(), call, index, (failure) => {
      const ended = process.hrtime.bigint();
      inFlight--;
      if (failure !== undefined) {
        if (measuring) errors++;
        else if (!stopped) warmupErrors++;
        countKind(errorKinds, failure);
      } else if (measuring) {
        recorder.add(Number(ended - started) / 1000);
      }
      if (!stopped) issue();
      else if (inFlight === 0) finished();
    });
  };
  for (let i = 0; i < options.concurrency; i++) issue();

  await sleep(options.warmupMs);
  const first = sampleCpu(options.serverPid);
  measuring = true;
  await sleep(options.measureMs);
  measuring = false;
  stopped = true;
  const last = sampleCpu(options.serverPid);

  let drainTimer: NodeJS.Timeout | undefined;
  const drainTimeout = new Promise<false>((resolve) => (drainTimer = setTimeout(resolve, DRAIN_MS, false)));
  const drained = await Promise.race([allDone.then(() => true), drainTimeout]);
  clearTimeout(drainTimer);
  const unfinished = drained ? 0 : inFlight;
  if (drained) pool.close();
  else pool.destroy();
  const seconds = Number(last.atNs - first.atNs) / 1e9;
  return {
    requests: recorder.count,
    errors,
    warmupErrors,
    errorKinds: Object.fromEntries(errorKinds),
    seconds,
    rps: recorder.count / seconds,
    latencyMs: recorder.summary(),
    cpu: cpuBetween(first, last),
    unfinished,
  };
}

/** Sends every body of `call` once, `concurrency` at a time (e.g. to activate entities); resolves with the failures. */
export async function sendEachOnce(
  call: UnaryCall,
  options: Pick<LoadOptions, "url" | "sessions" | "concurrency">,
): Promise<{ errors: number; errorKinds: Record<string, number> }> {
  const pool = await openSessions(options.url, options.sessions);
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
      send(pool.next(), call, index, (failure) => {
        inFlight--;
        if (failure !== undefined) {
          errors++;
          countKind(errorKinds, failure);
        }
        issue();
      });
    };
    for (let i = 0; i < Math.min(options.concurrency, call.bodies.length); i++) issue();
    if (call.bodies.length === 0) resolve();
  });
  pool.close();
  return { errors, errorKinds: Object.fromEntries(errorKinds) };
}

/** One Connect unary request; `done` gets undefined on a good reply, else what went wrong. */
function send(
  session: http2.ClientHttp2Session,
  call: UnaryCall,
  index: number,
  done: (failure: string | undefined) => void,
): void {
  let status = 0;
  let streamError: string | undefined;
  const chunks: Buffer[] = [];
  const stream = session.request({
    ":method": "POST",
    ":path": call.path,
    "content-type": "application/proto",
    "connect-protocol-version": "1",
  });
  stream.on("response", (headers) => (status = Number(headers[":status"])));
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("error", (error: NodeJS.ErrnoException) => (streamError ??= `stream error: ${error.code ?? error.message}`));
  stream.on("close", () => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (streamError !== undefined) return done(streamError);
    if (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) return done(`stream reset: code ${stream.rstCode}`);
    if (status !== 200) return done(describeConnectError(status, body));
    try {
      done(call.check(body, index) ? undefined : "reply failed the check");
    } catch (error) {
      done(`undecodable reply: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  stream.end(call.bodies[index]);
}

/** A Connect unary error is JSON `{code, message}` with a non-200 status. */
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

interface SessionPool {
  next(): http2.ClientHttp2Session;
  close(): void;
  destroy(): void;
}

async function openSessions(url: string, count: number): Promise<SessionPool> {
  const target = new URL(url);
  const sessions = await Promise.all(Array.from({ length: count }, () => connect(target)));
  let turn = 0;
  return {
    next: () => sessions[turn++ % sessions.length]!,
    close: () => sessions.forEach((s) => s.close()),
    destroy: () => sessions.forEach((s) => s.destroy()),
  };
}

function connect(url: URL): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, {
      // Nagle on a request/response loop adds ~40 ms stalls (see DESIGN.md, Known facts).
      createConnection: () => net.connect({ host: url.hostname, port: Number(url.port), noDelay: true }),
    });
    session.once("error", reject);
    session.once("connect", () => {
      session.off("error", reject);
      // A session error also fails its streams, which count it; this only keeps it from being thrown.
      session.on("error", () => {});
      resolve(session);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
