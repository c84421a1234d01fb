// A real process under test (`orrery <command>`, a built executable) whose
// output is read as it comes, plus a copy of the shopping-cart sample to run
// the CLI in.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const orreryBin = path.join(repoRoot, "runtime", "bin", "orrery.js");

/** A running process and everything it printed so far (stdout and stderr interleaved). */
export interface WatchedProcess {
  readonly child: ChildProcess;
  readonly output: string;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
  /**
   * Waits until the output after character `from` matches `pattern`;
   * rejects after `timeoutMs` or when the process exits first, quoting the output.
   */
  waitFor(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<RegExpExecArray>;
  /** SIGTERM (or `signal`), then SIGKILL after 20 s; resolves with how it exited. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts `command args` in `cwd`; `env` replaces the environment entirely.
 * With `group`, the process leads a process group of its own and `stop` signals
 * the whole group, as Ctrl-C in a terminal does: `npm start` runs the service
 * under `sh -c`, which does not pass a signal on to it. With `detached` alone, it
 * leads its own group but `stop` signals only the process itself.
 */
export function startProcess(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, { group = false, detached = false } = {}): WatchedProcess {
  const child = spawn(command, [...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: group || detached });
  const signal = (name: NodeJS.Signals): void => {
    try {
      if (group && child.pid !== undefined) process.kill(-child.pid, name);
      else child.kill(name);
    } catch {
      // already gone
    }
  };
  let output = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | string>((resolve) => {
    child.on("close", (code, signal) => {
      resolve(code ?? signal ?? "unknown");
      for (const listener of listeners) listener();
    });
  });
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    child,
    get output() {
      return output;
    },
    exited,
    waitFor(pattern, { from = 0, timeoutMs = 60_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output.slice(from));
          if (match !== null) {
            done();
            resolve(match);
          } else if (ended) {
            done();
            reject(new Error(`exited before printing ${pattern}; output:\n${output}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(name = "SIGTERM") {
      if (!ended) {
        signal(name);
        const timer = setTimeout(() => signal("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
  };
}

/** Waits until `url`/readyz answers 200, or the process ends. */
export async function waitReady(url: string, service: WatchedProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let ended = false;
  void service.exited.then(() => (ended = true));
  for (;;) {
    if (ended) throw new Error(`the service exited before it was ready:\n${service.output}`);
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) })).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms:\n${service.output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `orrery <args>` run from this checkout (through tsx, as the bin does inside the repository). */
export function startOrrery(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): WatchedProcess {
  return startProcess(process.execPath, [orreryBin, ...args], cwd, env);
}

/** The environment of this test process without what would point a service elsewhere. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["DATABASE_URL", "ORRERY_DATA_DIR", "PORT", "NODE_OPTIONS", "LOG_FORMAT", "LOG_LEVEL"]) delete env[name];
  return { ...env, HOST: "127.0.0.1", ...extra };
}

/**
 * Copies the shopping-cart sample (package.json, proto/, src/) to a new folder
 * under the repository's git-ignored .tmp/, where node still finds the
 * workspace packages by walking up.
 */
export async function copySample(label: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const sample = path.join(repoRoot, "samples", "shopping-cart");
  const dir = path.join(repoRoot, ".tmp", `orrery-bin-${label}-${process.pid}-${randomBytes(3).toString("hex")}`);
  await mkdir(dir, { recursive: true });
  for (const part of ["package.json", "proto", "src"]) await cp(path.join(sample, part), path.join(dir, part), { recursive: true });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
