// The `orrery cluster` run: database and secret, then the nodes, a report
// once all are ready, and on a signal every node stopped before the database.
import path from "node:path";
import { CliError, orreryFromSource, resolvePackageFile, shortPath } from "../project-folder.js";
import type { ProjectFolder } from "../project-folder.js";
import { openClusterDatabase, portFree } from "./cluster-database.js";
import type { ClusterDatabase } from "./cluster-database.js";
import { describeExit, startClusterNodes, stopClusterNodes, waitUntilReady } from "./cluster-nodes.js";
import type { ClusterNodeProcess } from "./cluster-nodes.js";
import { clusterSecret } from "./cluster-secret.js";
import { findExampleCall } from "./example-call.js";

/** Options for {@link runCluster}. */
export interface ClusterOptions {
  readonly project: ProjectFolder;
  readonly nodes: number;
  /** node-0's port; node-<i> serves on port + i. */
  readonly port: number;
  readonly host: string;
  /** The environment the nodes inherit (DATABASE_URL, ORRERY_CLUSTER_SECRET, LOG_*, …). */
  readonly env: NodeJS.ProcessEnv;
  readonly print: (line: string) => void;
  /** Resolves when `orrery cluster` should stop (a signal). */
  readonly stopSignal: Promise<string>;
  /** How long the nodes have to become ready (default 60 s). */
  readonly readyTimeoutMs?: number;
}

/** A node stopped with SIGTERM is killed after this long. */
const KILL_AFTER_MS = 15_000;

/** Runs until `stopSignal` resolves or every node has stopped; resolves with the exit code. */
export async function runCluster(options: ClusterOptions): Promise<number> {
  const { project, print } = options;
  const say = (line: string): void => print(`[cluster] ${line}`);
  const tsxLoader = resolvePackageFile(project.dir, "tsx");
  if (tsxLoader === undefined) throw new CliError("orrery cluster: tsx is not installed; add it to the project: npm install --save-dev tsx");
  const stateDir = path.join(project.dir, ".orrery", "cluster");
  const secret = await clusterSecret(options.env, path.join(stateDir, "secret"));
  for (let i = 0; i < options.nodes; i++) {
    const port = options.port + i;
    if (!(await portFree(options.host, port))) {
      throw new CliError(`orrery cluster: port ${port} (node-${i}'s) is in use on ${options.host}; stop what listens there or choose other ports with --port`);
    }
  }
  let signalled: string | undefined;
  void options.stopSignal.then((signal) => (signalled = signal));

  say(`${project.name}: ${plural(options.nodes, "node")} in ${project.dir}`);
  const database = await openClusterDatabase({
    env: options.env,
    projectDir: project.dir,
    dataDir: path.join(stateDir, "postgres"),
    preferredPort: options.port - 1,
    onLog: () => {}, // shown only when it fails to start
  });
  say(`database: ${database.description.replace(project.dir + path.sep, "")}`);
  say(`cluster secret: ${secret.from === "ORRERY_CLUSTER_SECRET" ? "ORRERY_CLUSTER_SECRET" : `${secret.created ? "generated into" : "from"} ${shortPath(project.dir, secret.from)}`}`);

  const env: NodeJS.ProcessEnv = { ...options.env, DATABASE_URL: database.url, ORRERY_CLUSTER_SECRET: secret.secret };
  if (env["LOG_FORMAT"] === undefined && process.stdout.isTTY) env["LOG_FORMAT"] = "pretty"; // the nodes write to a pipe: "auto" would be JSON
  const started = Date.now();
  const nodes = startClusterNodes({
    project, tsxLoader, orreryFromSource: orreryFromSource(project.dir),
    count: options.nodes, host: options.host, firstPort: options.port, env, print,
  });
  const gone = new Set<ClusterNodeProcess>();
  for (const node of nodes) void node.process.exited.then(() => gone.add(node));
  const killAll = (): void => {
    for (const node of nodes) node.process.kill();
    database.kill();
  };
  process.on("exit", killAll); // orrery cluster itself failed: leave no node behind
  const shutdown = async (why: string, code: number): Promise<number> => {
    const running = nodes.length - gone.size;
    say(`${why}: ${running === 0 ? "stopping the database" : `stopping ${plural(running, "node")}, then the database`} (again to stop at once)`);
    const force = (): void => {
      killAll();
      process.exit(130);
    };
    process.once("SIGINT", force);
    process.once("SIGTERM", force);
    await stopClusterNodes(nodes, KILL_AFTER_MS);
    await database.stop();
    process.off("SIGINT", force);
    process.off("SIGTERM", force);
    process.off("exit", killAll);
    say("stopped");
    return code;
  };

  const outcome = signalled === undefined
    ? await waitUntilReady(nodes, { timeoutMs: options.readyTimeoutMs ?? 60_000, progressMs: 5_000, stop: options.stopSignal, print: say })
    : { kind: "stopped" as const, signal: signalled };
  if (outcome.kind === "stopped") return shutdown(outcome.signal, 0);
  if (outcome.kind !== "ready") {
    const [node, why] = outcome.kind === "exited"
      ? [outcome.node, `exited while starting (${describeExit(outcome.exit)})`]
      : [outcome.waiting[0]!, `was not ready within ${(options.readyTimeoutMs ?? 60_000) / 1000} s${outcome.waiting.length > 1 ? ` (nor ${outcome.waiting.slice(1).map((n) => n.name).join(", ")})` : ""}`];
    console.error(`orrery cluster: ${node.name} ${why}; its last lines:`);
    for (const line of node.lastLines()) console.error(`    ${line}`);
    return shutdown("a node failed to start", 1);
  }

  report(nodes, options, Date.now() - started, say);
  const allGone = new Promise<void>((resolve) => {
    for (const node of nodes) {
      void node.process.exited.then((exit) => {
        if (node.process.stopping) return;
        const others = nodes.filter((n) => !gone.has(n));
        if (others.length > 0) {
          const one = others.length === 1;
          say(`${node.name} stopped by itself (${describeExit(exit)}); ${others.map((n) => n.name).join(", ")} ${one ? "keeps" : "keep"} running and take${one ? "s" : ""} over its shards`);
        } else {
          say(`${node.name} stopped by itself (${describeExit(exit)}); no node is left`);
          resolve();
        }
      });
    }
  });
  const ending = await Promise.race([options.stopSignal, allGone.then(() => undefined)]);
  return ending === undefined ? shutdown("every node has stopped", 1) : shutdown(ending, 0);
}

function report(nodes: readonly ClusterNodeProcess[], options: ClusterOptions, ms: number, say: (line: string) => void): void {
  const first = nodes[0]!.url;
  say(`${plural(nodes.length, "node")} ready in ${(ms / 1000).toFixed(1)} s:`);
  for (const node of nodes) say(`  ${node.name}  ${node.url}`);
  say(`status: curl -s ${first}/orrery/cluster`);
  const call = findExampleCall(path.join(options.project.dir, "proto"));
  if (call !== undefined) {
    say(`try:    curl -s -H 'content-type: application/json' -d '${call.body}' ${first}${call.path}`);
  }
  say("Ctrl-C stops every node, then the database");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
