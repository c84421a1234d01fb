// The nodes of a local cluster: one service process each (as `orrery dev`
// runs it), named node-<i>, its lines printed behind its name, its readiness
// read from GET /readyz.
import { setTimeout as sleep } from "node:timers/promises";
import type { ProjectFolder } from "../project-folder.js";
import { startServiceProcess } from "../dev/service-process.js";
import type { ServiceExit, ServiceProcess } from "../dev/service-process.js";

/** One node: its name, address and process. */
export interface ClusterNodeProcess {
  /** "node-<i>", stable across runs: a restarted node rejoins under it. */
  readonly name: string;
  readonly url: string;
  readonly process: ServiceProcess;
  /** Its last lines, for a report when it fails. */
  lastLines(): string[];
}

/** Options for {@link startClusterNodes}. */
export interface ClusterNodesOptions {
  readonly project: ProjectFolder;
  readonly tsxLoader: string;
  readonly orreryFromSource: boolean;
  readonly count: number;
  readonly host: string;
  readonly firstPort: number;
  /** What every node gets on top of its own PORT, HOST, ORRERY_ADVERTISE_URL and ORRERY_NODE_NAME. */
  readonly env: NodeJS.ProcessEnv;
  readonly print: (line: string) => void;
}

const KEPT_LINES = 15;

export function startClusterNodes(options: ClusterNodesOptions): ClusterNodeProcess[] {
  const width = `node-${options.count - 1}`.length;
  return Array.from({ length: options.count }, (_, i) => {
    const name = `node-${i}`;
    const port = options.firstPort + i;
    const url = `http://${urlHost(options.host)}:${port}`;
    const lines: string[] = [];
    const tag = `[${name}]`.padEnd(width + 2);
    const child = startServiceProcess({
      cwd: options.project.dir,
      main: options.project.main,
      tsxLoader: options.tsxLoader,
      orreryFromSource: options.orreryFromSource,
      env: { ...options.env, PORT: String(port), HOST: options.host, ORRERY_ADVERTISE_URL: url, ORRERY_NODE_NAME: name },
      onLine: (line) => {
        lines.push(line);
        if (lines.length > KEPT_LINES) lines.shift();
        options.print(`${tag} ${line}`);
      },
    });
    return { name, url, process: child, lastLines: () => [...lines] };
  });
}

/** What waiting for readiness came to. */
export type ReadyOutcome =
  | { readonly kind: "ready" }
  | { readonly kind: "exited"; readonly node: ClusterNodeProcess; readonly exit: ServiceExit }
  | { readonly kind: "timeout"; readonly waiting: readonly ClusterNodeProcess[] }
  | { readonly kind: "stopped"; readonly signal: string };

/**
 * Polls every node's /readyz until all answer 200, a node exits, `timeoutMs`
 * passes or `stop` resolves; says which nodes it still waits for every
 * `progressMs`.
 */
export async function waitUntilReady(
  nodes: readonly ClusterNodeProcess[],
  options: { timeoutMs: number; progressMs: number; stop: Promise<string>; print: (line: string) => void },
): Promise<ReadyOutcome> {
  const started = Date.now();
  const state = new Map(nodes.map((node) => [node, "not listening yet"]));
  let outcome: ReadyOutcome | undefined;
  void options.stop.then((signal) => (outcome ??= { kind: "stopped", signal }));
  for (const node of nodes) void node.process.exited.then((exit) => (outcome ??= { kind: "exited", node, exit }));
  let lastProgress = started;
  while (outcome === undefined) {
    await Promise.all([...state.keys()].map(async (node) => {
      const answer = await readyz(node.url);
      if (answer.status === 200) state.delete(node);
      else state.set(node, answer.status === undefined ? "not listening yet" : `${answer.status} ${answer.body}`);
    }));
    if (outcome !== undefined) break;
    if (state.size === 0) return { kind: "ready" };
    const now = Date.now();
    if (now - started > options.timeoutMs) return { kind: "timeout", waiting: [...state.keys()] };
    if (now - lastProgress >= options.progressMs) {
      lastProgress = now;
      const waiting = [...state].map(([node, why]) => `${node.name} (${why})`).join(", ");
      options.print(`waiting for ${waiting}, ${Math.round((now - started) / 1000)} s so far`);
    }
    await sleep(200);
  }
  return outcome;
}

async function readyz(url: string): Promise<{ status?: number; body?: string }> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
    return { status: response.status, body: (await response.text()).trim().slice(0, 200) };
  } catch {
    return {};
  }
}

/** Stops every node at once (SIGTERM; SIGKILL after `killAfterMs`); resolves once all have exited. */
export async function stopClusterNodes(nodes: readonly ClusterNodeProcess[], killAfterMs: number): Promise<void> {
  await Promise.all(nodes.map((node) => node.process.stop(killAfterMs)));
}

/** How a process ended, for a report line. */
export function describeExit(exit: ServiceExit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** `host` as it goes into a URL: an IPv6 address in brackets. */
function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
