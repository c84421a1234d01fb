// The soak: the 1,000-cart AddItem write load held for minutes, measured in
// back-to-back intervals with the server's memory and the journal's size at
// the end of each, so a decline can be told apart: the server (RSS, journal
// or index growth) or the machine (the "cpu other" column).
import type { BenchStorage, JournalSize } from "./bench-storage.js";
import { openClient, SINGLE_SESSION } from "./client-shape.js";
import type { ClientShape } from "./client-shape.js";
import { sendEachOnce, sleep, startLoad } from "./load-generator.js";
import type { LoadTotals, LoadWindow, UnaryCall } from "./load-generator.js";
import type { SampleServer } from "./sample-server.js";
import type { Scenario } from "./scenarios.js";

/** One interval of the soak. */
export interface SoakInterval extends LoadWindow {
  /** Seconds from the end of the warm-up to the end of this interval. */
  readonly atSeconds: number;
  /** The server's resident set size at the end of the interval. */
  readonly serverRssBytes: number | undefined;
  /** The journal at the end of the interval, or why it could not be read. */
  readonly journal: JournalSize | { readonly error: string };
}

/** The whole soak on one storage. */
export interface SoakResult extends LoadTotals, Pick<Scenario, "id" | "rpc" | "label" | "carts" | "concurrency"> {
  /** The client shape's label, e.g. "h1×64". */
  readonly client: string;
  readonly intervalSeconds: number;
  readonly activationErrors: number;
  readonly intervals: readonly SoakInterval[];
}

/** What the soak drives and watches. */
export interface SoakOptions {
  readonly scenario: Scenario & { readonly activate: UnaryCall };
  readonly shape: ClientShape;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly server: SampleServer;
  readonly storage: BenchStorage;
  /** Called with each interval as it ends, for progress lines. */
  readonly onInterval: (interval: SoakInterval, index: number, count: number) => void;
}

/** At least five intervals, none longer than a minute: a 300 s soak reports once a minute, a 20 s one every 4 s. */
export function soakIntervals(seconds: number): { count: number; seconds: number } {
  const count = Math.max(5, Math.ceil(seconds / 60));
  return { count, seconds: seconds / count };
}

/** Activates the scenario's carts, warms up, then runs the load for `seconds` in back-to-back intervals. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { scenario, shape, server, storage } = options;
  const activation = await sendEachOnce(scenario.activate, await openClient(SINGLE_SESSION, server.url), 64);
  const load = startLoad(scenario.call, await openClient(shape, server.url), { concurrency: scenario.concurrency, serverPid: server.pid });
  await sleep(options.warmupSeconds * 1000);
  const plan = soakIntervals(options.seconds);
  const intervals: SoakInterval[] = [];
  let atSeconds = 0;
  // The next window starts as soon as one ends; the probes run during it, a few ms after the boundary.
  let window = load.measure(plan.seconds * 1000);
  for (let i = 0; i < plan.count; i++) {
    const measured = await window;
    if (i + 1 < plan.count) window = load.measure(plan.seconds * 1000);
    const serverRssBytes = server.residentBytes();
    const journal = await storage.journalSize().catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));
    atSeconds += measured.seconds;
    intervals.push({ ...measured, atSeconds, serverRssBytes, journal });
    options.onInterval(intervals.at(-1)!, i, plan.count);
    if (server.exited !== undefined) break;
  }
  const totals = await load.stop();
  return {
    id: scenario.id, rpc: scenario.rpc, label: scenario.label, carts: scenario.carts, concurrency: scenario.concurrency,
    client: shape.label, intervalSeconds: plan.seconds, activationErrors: activation.errors, intervals, ...totals,
  };
}
