/** A loop's pause that a wake-up cuts short; see {@link createWakeUp}. */
export interface WakeUp {
  /** Ends the current (or, if none, the next) `sleep` now. */
  wake(): void;
  /** Resolves after `ms`, or at the first `wake` (one that came since the last sleep counts), or at once when `stopped()`. */
  sleep(ms: number): Promise<void>;
}

/** Creates the pause of a loop that sleeps between passes and is woken by signals (projections, timers). */
export function createWakeUp(stopped: () => boolean): WakeUp {
  let wakeUp: (() => void) | undefined;
  let woken = false;
  return {
    wake() {
      woken = true;
      wakeUp?.();
    },
    sleep(ms) {
      if (woken || stopped()) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const timer = setTimeout(done, Math.max(0, ms));
        function done() {
          clearTimeout(timer);
          wakeUp = undefined;
          woken = false;
          resolve();
        }
        wakeUp = done;
      });
    },
  };
}
