// The write load that the view lag and timer delay measurements probe under:
// every cart activated, the load running past its warm-up, and a probe
// client of its own.
import { openClient, SINGLE_SESSION } from "./client-shape.js";
import type { ClientShape } from "./client-shape.js";
import { sendEachOnce, sleep, startLoad } from "./load-generator.js";
import type { LoadClient, LoadTotals, LoadWindow, UnaryCall } from "./load-generator.js";
import type { SampleServer } from "./sample-server.js";
import type { Scenario } from "./scenarios.js";

/** What a probe measures under. */
export interface ProbedLoadOptions {
  readonly server: SampleServer;
  readonly scenario: Scenario & { readonly activate: UnaryCall };
  readonly shape: ClientShape;
  readonly seconds: number;
  readonly warmupSeconds: number;
}

/** The load a probe runs under, as measured. */
export type ProbedLoad = LoadWindow & LoadTotals & { readonly id: string; readonly client: string };

/** A running write load, past its warm-up, with its timed window started. */
export interface RunningLoad {
  /** A client of the probe's own, over one h2 session. */
  readonly probe: LoadClient;
  /** The `performance.now()` at which the timed window ends. */
  readonly until: number;
  /** Waits for the end of the window and stops the load (the probe stays open). */
  finish(): Promise<ProbedLoad>;
}

/** Activates the scenario's carts, starts its load, waits out the warm-up and starts the timed window. */
export async function startProbedLoad(options: ProbedLoadOptions): Promise<RunningLoad> {
  const { server, scenario, shape } = options;
  await sendEachOnce(scenario.activate, await openClient(SINGLE_SESSION, server.url), 64);
  const load = startLoad(scenario.call, await openClient(shape, server.url), { concurrency: scenario.concurrency, serverPid: server.pid });
  await sleep(options.warmupSeconds * 1000);
  const probe = await openClient(SINGLE_SESSION, server.url);
  const window = load.measure(options.seconds * 1000);
  return {
    probe,
    until: performance.now() + options.seconds * 1000,
    async finish() {
      const measured = await window;
      const totals = await load.stop();
      return { ...measured, ...totals, id: scenario.id, client: shape.label };
    },
  };
}
