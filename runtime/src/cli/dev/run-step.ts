// One step of the dev loop (generate, type check) as a child process whose
// output is kept for the report, and which shutdown can cancel.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";

/** A command to run for a step. */
export interface StepCommand {
  /** What the step runs, for the report: "buf generate", "npm run generate", "tsc --noEmit". */
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** How a step ended. */
export interface StepResult {
  readonly ok: boolean;
  /** stdout and stderr, interleaved as they came. */
  readonly output: string;
  readonly ms: number;
}

/** Runs steps one at a time; `cancel()` ends the one running (on shutdown). */
export interface StepRunner {
  run(step: StepCommand): Promise<StepResult>;
  cancel(): void;
}

export function createStepRunner(): StepRunner {
  let running: ChildProcess | undefined;
  return {
    run(step) {
      const started = Date.now();
      return new Promise((resolve) => {
        let output = "";
        const child = spawn(step.command, [...step.args], { cwd: step.cwd, env: step.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
        running = child;
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        const finish = (ok: boolean, extra = ""): void => {
          if (running === child) running = undefined;
          resolve({ ok, output: output + extra, ms: Date.now() - started });
        };
        child.on("error", (error) => finish(false, `${step.command}: ${error.message}\n`));
        child.on("close", (code, signal) => finish(code === 0, code === 0 || output.trim() !== "" ? "" : `${step.label} exited with ${code ?? signal}\n`));
      });
    },
    cancel() {
      running?.kill("SIGTERM");
    },
  };
}
