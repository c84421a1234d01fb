/**
 * Where a server is in its life: `starting` until its components are hosted,
 * `serving` while it takes traffic, `unavailable` while something it needs
 * (the event store) cannot be reached, `draining` once shutdown has begun.
 */
export type ReadinessState = "starting" | "serving" | "unavailable" | "draining";

/**
 * The one readiness flag of a server. `/readyz` and the gRPC health service
 * read it; the service lifecycle sets it.
 *
 * @example
 * const readiness = createReadiness();
 * await hostComponents();
 * readiness.set("serving");
 * process.once("SIGTERM", () => readiness.set("draining"));
 */
export interface Readiness {
  /** The current state. */
  readonly state: ReadinessState;
  /** Why the server is not serving, for `/readyz` (e.g. which dependency is down since when). */
  readonly detail: string | undefined;
  /** Moves to `state` with an optional `detail`; listeners hear about it only when the state changes. */
  set(state: ReadinessState, detail?: string): void;
  /** Calls `listener` on every change; returns a function that stops it. */
  onChange(listener: (state: ReadinessState) => void): () => void;
}

/** Creates a {@link Readiness}, `starting` unless told otherwise. */
export function createReadiness(initial: ReadinessState = "starting"): Readiness {
  let state = initial;
  let detail: string | undefined;
  const listeners = new Set<(state: ReadinessState) => void>();
  return {
    get state() {
      return state;
    },
    get detail() {
      return detail;
    },
    set(next, why) {
      detail = why;
      if (next === state) return;
      state = next;
      // Copy: a listener may unsubscribe while we iterate.
      for (const listener of [...listeners]) listener(next);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** A {@link Readiness}, or a callback that says whether the server is ready. */
export type ReadinessSource = Readiness | (() => boolean);

/**
 * Turns a callback into a read-only {@link Readiness} (`serving` when it
 * returns true, else `starting`), which it polls every `pollMs` while anyone listens for changes.
 * A {@link Readiness} is returned as it is.
 */
export function toReadiness(source: ReadinessSource, pollMs = 500): Readiness {
  if (typeof source !== "function") return source;
  const read = (): ReadinessState => (source() ? "serving" : "starting");
  const inner = createReadiness(read());
  let timer: NodeJS.Timeout | undefined;
  let listeners = 0;
  return {
    get state() {
      return read();
    },
    detail: undefined,
    set() {
      throw new Error("this readiness is read from a callback; it cannot be set");
    },
    onChange(listener) {
      const stop = inner.onChange(listener);
      inner.set(read());
      listeners++;
      timer ??= setInterval(() => inner.set(read()), pollMs).unref();
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        stop();
        if (--listeners === 0) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
  };
}
