// Runs the shopping-cart sample as its own process, exactly as `npm start`
// does, so the load generator never shares an event loop with the server.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The sample's folder: src/main.ts is resolved from here. */
const SAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));

/** A running sample server. */
export interface SampleServer {
  readonly url: string;
  readonly pid: number;
  /** Milliseconds from spawn until /readyz answered 200. */
  readonly startMs: number;
  /** Lines the server wrote to stdout or stderr (at LOG_LEVEL=warn, only warnings and errors). */
  readonly output: readonly string[];
  /** How the process ended, while it has not been stopped: a crash mid-run. */
  readonly exited: string | undefined;
  /** The process's resident set size in bytes (VmRSS in /proc/<pid>/status); undefined where /proc is missing. */
  residentBytes(): number | undefined;
  /** Sends SIGTERM and waits for the exit (SIGKILL after `graceMs`); resolves with how it ended. */
  stop(graceMs?: number): Promise<string>;
}

/**
 * Starts `node --import tsx src/main.ts` on a free loopback port and waits
 * until it is ready. The server inherits this process's environment minus its
 * settings (DATABASE_URL, ORRERY_*, OTEL_*), so `env` alone decides where it
 * stores events and what it observes: a PGlite run stays on PGlite when
 * DATABASE_URL is set here, and a run without tracing exports nothing.
 */
export async function startSampleServer(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<SampleServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  // BENCH_SERVER_NODE_ARGS passes extra node flags to the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env["BENCH_SERVER_NODE_ARGS"] ?? "").split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, "--conditions=orrery-source", "--import", "tsx", "src/main.ts"], {
    cwd: SAMPLE_DIR,
    env: { ...withoutServerSettings(process.env), ...env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      if (line.trim() !== "" && output.length < 1000) output.push(line);
    });
  }
  let gone: string | undefined;
  // A bench that dies (an uncaught error, EPIPE on a closed stdout) must not leave its server running.
  const killOnExit = (): void => void child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => {
      process.off("exit", killOnExit);
      resolve((gone = signal ?? `exit code ${code}`));
    }),
  );

  try {
    await waitUntilReady(url, () => gone, readyTimeoutMs);
  } catch (error) {
    child.kill("SIGKILL");
    const tail = output.slice(-15).join("\n");
    throw new Error(`${error instanceof Error ? error.message : String(error)}${tail ? `\nserver output:\n${tail}` : ""}`);
  }
  return {
    url,
    pid: child.pid!,
    startMs: Date.now() - started,
    output,
    get exited() {
      return gone;
    },
    residentBytes: () => residentBytes(child.pid!),
    stop: (graceMs = 15_000) => stop(child, exited, graceMs),
  };
}

/** `env` without the variables that pick or tune the server's storage or its observability (OTEL_* would turn tracing on). */
export function withoutServerSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => name !== "DATABASE_URL" && !name.startsWith("ORRERY_") && !name.startsWith("OTEL_")));
}

function residentBytes(pid: number): number | undefined {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

async function stop(child: ChildProcess, exited: Promise<string>, graceMs: number): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  const how = await exited;
  clearTimeout(timer);
  return how;
}

async function waitUntilReady(url: string, exited: () => string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone !== undefined) throw new Error(`the sample server exited before it was ready (${gone})`);
    if ((await readyz(url)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the sample server was not ready within ${timeoutMs / 1000} s`);
}

/** The status /readyz answers (0 when nothing answers). */
export function readyz(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/readyz`, { timeout: 2_000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
