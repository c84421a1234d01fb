// The `orrery dev` loop: on a change under proto/ or src/, regenerate (protos
// only), type-check, then restart the service; a failing step keeps the last
// good server running and says why.
import path from "node:path";
import { CliError, orreryFromSource, resolvePackageFile, shortPath } from "../project-folder.js";
import type { ProjectFolder } from "../project-folder.js";
import { generateCommand, typeCheckCommand } from "./dev-commands.js";
import { createStepRunner } from "./run-step.js";
import type { StepCommand, StepResult } from "./run-step.js";
import { readableLogLine, startServiceProcess } from "./service-process.js";
import type { ServiceProcess } from "./service-process.js";
import { changedFiles, snapshotTree, watchTree } from "./watch-tree.js";

/** Options for {@link runDevLoop}. */
export interface DevLoopOptions {
  readonly project: ProjectFolder;
  /** The service's environment (PORT, ORRERY_DATA_DIR, …). */
  readonly env: NodeJS.ProcessEnv;
  /** Prints one line of the report. */
  readonly print: (line: string) => void;
  /** Quiet time after the last file event before acting. */
  readonly debounceMs?: number;
  /** Resolves when `orrery dev` should stop (a signal). */
  readonly stopSignal: Promise<string>;
}

const MAX_REPORT_LINES = 30;

/** Runs until `stopSignal` resolves; then stops the service and any running step. Resolves with the exit code. */
export async function runDevLoop(options: DevLoopOptions): Promise<number> {
  const { project, print } = options;
  const env: NodeJS.ProcessEnv = { LOG_FORMAT: "pretty", ...options.env };
  const tsxLoader = resolvePackageFile(project.dir, "tsx");
  const fromSource = orreryFromSource(project.dir);
  if (tsxLoader === undefined) throw new CliError("orrery dev: tsx is not installed; add it to the project: npm install --save-dev tsx");
  const dirs = [path.join(project.dir, "proto"), path.join(project.dir, "src")];
  const generate = generateCommand(project);
  const typeCheck = typeCheckCommand(project);
  const steps = createStepRunner();
  const say = (line: string): void => print(`[dev] ${line}`);
  const dataDir = env["ORRERY_DATA_DIR"] || ".orrery/data";
  say(`${project.name}: watching proto/ and src/ in ${project.dir}`);
  say(env["DATABASE_URL"] ? "storage: PostgreSQL at DATABASE_URL" : `storage: PGlite in ${dataDir} (kept across restarts)`);
  if (generate === undefined) say("no generate script and no buf.gen.yaml: proto changes are not regenerated");
  if (typeCheck === undefined) say("typescript is not installed: no type check before restarts");

  let service: ServiceProcess | undefined;
  let servingUrl: string | undefined;
  let generateFailed = false;
  let closing = false;
  let snapshot = snapshotTree(dirs);

  const report = (step: StepCommand, result: StepResult, what: string): void => {
    if (result.ok) {
      say(`${what} ok (${step.label}, ${result.ms} ms)`);
      return;
    }
    say(`${what} failed (${step.label}, ${result.ms} ms):`);
    const lines = result.output.trimEnd().split("\n").filter((l) => l.trim() !== "");
    for (const line of lines.slice(0, MAX_REPORT_LINES)) print(`    ${line}`);
    if (lines.length > MAX_REPORT_LINES) print(`    … and ${lines.length - MAX_REPORT_LINES} more lines`);
    say(servingUrl !== undefined && service !== undefined ? `still serving the last good build on ${servingUrl}` : "the service is not running; it starts once this is fixed");
  };

  const restart = async (): Promise<void> => {
    const started = Date.now();
    const previous = service;
    if (previous !== undefined) await previous.stop();
    if (closing) return;
    const next = startServiceProcess({
      cwd: project.dir, main: project.main, tsxLoader, orreryFromSource: fromSource, env,
      onLine: (line) => {
        for (const part of readableLogLine(line).split("\n")) print(`[svc] ${part}`);
      },
    });
    service = next;
    servingUrl = undefined;
    const outcome = await next.ready;
    if ("url" in outcome) {
      servingUrl = outcome.url;
      if (env["PORT"] === "0") env["PORT"] = new URL(outcome.url).port; // keep the port across restarts
      say(`${previous === undefined ? "started" : "restarted"} in ${Date.now() - started} ms, serving on ${outcome.url} (pid ${next.pid})`);
      void next.exited.then((exit) => {
        if (next.stopping || closing) return;
        say(`the service stopped by itself (${describeExit(exit)}); it restarts on the next change`);
        if (service === next) servingUrl = undefined;
      });
    } else if (!next.stopping) {
      say(`the service exited while starting (${describeExit(outcome.exit)}); it restarts on the next change`);
    }
  };

  // One pass: what changed since the last snapshot, and the steps that it calls for.
  const cycle = async (first: boolean): Promise<void> => {
    const now = snapshotTree(dirs);
    const changed = first ? [] : changedFiles(snapshot, now);
    snapshot = now;
    if (!first && changed.length === 0) return;
    for (const file of changed.slice(0, 5)) say(`${shortPath(project.dir, file)} changed`);
    if (changed.length > 5) say(`… and ${changed.length - 5} more files changed`);
    const protoDir = dirs[0]! + path.sep;
    if (generate !== undefined && (first || generateFailed || changed.some((f) => f.startsWith(protoDir)))) {
      const result = await steps.run(generate);
      if (closing) return;
      // What generate wrote is no change of the user's; a proto edited meanwhile still is.
      const written = [...snapshotTree(dirs)].filter(([file]) => !file.startsWith(protoDir));
      snapshot = new Map([...written, ...[...now].filter(([file]) => file.startsWith(protoDir))]);
      generateFailed = !result.ok;
      report(generate, result, "generate");
      if (!result.ok) return;
    }
    if (typeCheck !== undefined) {
      const result = await steps.run(typeCheck);
      if (closing) return;
      const errors = result.output.split("\n").filter((l) => / error TS\d+:/.test(l)).length;
      report(typeCheck, result, errors > 0 ? `type check (${errors} error${errors === 1 ? "" : "s"})` : "type check");
      if (!result.ok) return;
    }
    await restart();
  };

  // Changes while a pass runs are picked up by one more pass right after it.
  let running: Promise<void> | undefined;
  let again = false;
  const kick = (first = false): void => {
    if (closing) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    running = cycle(first)
      .catch((error: unknown) => say(`internal error: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  };

  const watch = watchTree(dirs, options.debounceMs ?? 150, () => kick());
  const killService = (): void => service?.kill();
  process.on("exit", killService); // orrery dev itself failed: leave no server behind
  kick(true);
  const signal = await options.stopSignal;
  closing = true;
  say(`${signal}: stopping (again to stop at once)`);
  const force = (): void => {
    killService();
    process.exit(130);
  };
  process.once("SIGINT", force);
  process.once("SIGTERM", force);
  watch.close();
  steps.cancel();
  await service?.stop(); // also ends a start in progress
  await running;
  await service?.stop();
  process.off("SIGINT", force);
  process.off("SIGTERM", force);
  process.off("exit", killService);
  say("stopped");
  return 0;
}

function describeExit(exit: { code: number | null; signal: string | null }): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}
