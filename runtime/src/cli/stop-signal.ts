// When a long-running command (`orrery dev`, `orrery cluster`) should stop: a
// signal, or the end of the process that started it.
import process from "node:process";

/**
 * Resolves with what asked the command to stop: SIGINT (Ctrl-C), SIGTERM,
 * SIGHUP, or "the parent process exited".
 */
export function stopSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => resolve(signal));
    // `npm run …` runs the command under `sh -c`, and dash dies of the SIGTERM that npm passes on without passing it further.
    whenParentExits(() => resolve("the parent process exited"));
  });
}

/** Calls `gone` once this process's parent has exited, seen as a new parent (the one that adopted it). */
function whenParentExits(gone: () => void, everyMs = 250): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    gone();
  }, everyMs);
  timer.unref();
}
