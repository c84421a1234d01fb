// The service under `orrery dev` (or one node under `orrery cluster`):
// src/main.ts run by node through tsx, its output passed on line by line, its
// readiness told over the IPC channel (dev-channel.ts), so that no LOG_LEVEL
// can hide it, and the channel's end stopping it.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { DEV_CHANNEL_ENV, servingUrlOf } from "./dev-channel.js";

/** How the service process ended. */
export interface ServiceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One run of the service. */
export interface ServiceProcess {
  readonly pid: number | undefined;
  /** Resolves with the URL it serves on, or with the exit if it ends before serving. */
  readonly ready: Promise<{ url: string } | { exit: ServiceExit }>;
  /** Resolves when the process has ended. */
  readonly exited: Promise<ServiceExit>;
  /** Whether `stop()` was called (an exit after it is no crash). */
  readonly stopping: boolean;
  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves once the process is gone. */
  stop(killAfterMs?: number): Promise<ServiceExit>;
  /** SIGKILL now, synchronously (when `orrery dev` itself must end at once). */
  kill(): void;
}

/** Options for {@link startServiceProcess}. */
export interface ServiceProcessOptions {
  readonly cwd: string;
  readonly main: string;
  /** tsx's loader, resolved from the project (or the runtime). */
  readonly tsxLoader: string;
  /** Resolve @orrery/* to their TypeScript sources (inside the Orrery repository; installed packages ship only dist/). */
  readonly orreryFromSource: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Each line the service prints, as printed (see {@link readableLogLine}). */
  readonly onLine: (line: string, stream: "stdout" | "stderr") => void;
}

export function startServiceProcess(options: ServiceProcessOptions): ServiceProcess {
  // Own process group: a Ctrl-C in the terminal reaches only `orrery dev`, which stops the service once, gracefully.
  const child = spawn(
    process.execPath,
    [...(options.orreryFromSource ? ["--conditions=orrery-source"] : []), "--import", pathToFileURL(options.tsxLoader).href, options.main],
    { cwd: options.cwd, env: { ...options.env, [DEV_CHANNEL_ENV]: "1" }, stdio: ["ignore", "pipe", "pipe", "ipc"], detached: true },
  );
  let stopping = false;
  const exited = new Promise<ServiceExit>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
    child.on("error", () => resolve({ code: null, signal: null }));
  });
  const serving = new Promise<{ url: string }>((resolve) => {
    child.on("message", (message) => {
      const url = servingUrlOf(message);
      if (url !== undefined) resolve({ url });
    });
  });
  for (const [stream, source] of [["stdout", child.stdout!], ["stderr", child.stderr!]] as const) {
    createInterface({ input: source, crlfDelay: Infinity }).on("line", (line) => options.onLine(line, stream));
  }
  return {
    pid: child.pid,
    ready: Promise.race([serving, exited.then((exit) => ({ exit }))]),
    exited,
    get stopping() {
      return stopping;
    },
    async stop(killAfterMs = 15_000) {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
    kill() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

interface PinoLine {
  level?: number;
  time?: number;
  msg?: string;
  err?: { message?: string; stack?: string };
  [key: string]: unknown;
}

function parseLogLine(line: string): PinoLine | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === "object" && value !== null && "msg" in value ? (value as PinoLine) : undefined;
  } catch {
    return undefined;
  }
}

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** A pino JSON line as "HH:MM:SS LEVEL message (error)"; any other line as it is. */
export function readableLogLine(line: string): string {
  const entry = parseLogLine(line);
  if (entry === undefined) return line;
  const time = new Date(entry.time ?? Date.now()).toISOString().slice(11, 19);
  const level = LEVELS[entry.level ?? 30] ?? String(entry.level);
  const error = entry.err?.stack ?? entry.err?.message;
  return `${time} ${level.padEnd(5)} ${entry.msg ?? ""}${error !== undefined ? `\n${error}` : ""}`;
}
