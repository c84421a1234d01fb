// View lag: while the 1,000-cart AddItem load runs, a probe adds an item to a
// cart of its own and times how long after the reply (the commit) the carts
// view shows it, polling the view's GetCartRow query. The write path answers
// only after commit, so "reply → visible" is commit → visible plus at most one
// poll interval.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AddItemRequestSchema, CartSchema, ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { CartRowRequestSchema, CartsView } from "../src/gen/shop/cart/v1/carts_view_pb.js";
import { openClient, SINGLE_SESSION } from "./client-shape.js";
import type { ClientShape } from "./client-shape.js";
import { LatencyRecorder } from "./latency-recorder.js";
import type { LatencySummary } from "./latency-recorder.js";
import { sendEachOnce, sleep, startLoad } from "./load-generator.js";
import type { LoadClient, LoadTotals, LoadWindow, UnaryCall } from "./load-generator.js";
import type { SampleServer } from "./sample-server.js";
import type { Scenario } from "./scenarios.js";

/** What the view lag measurement found. */
export interface ViewLagResult {
  /** The write load it ran under. */
  readonly load: LoadWindow & LoadTotals & { readonly id: string; readonly client: string };
  readonly probes: number;
  /** Probes the view had not shown after 10 s. */
  readonly lost: number;
  /** Reply of the probe's AddItem → its row visible in the view. */
  readonly lagMs: LatencySummary;
  /** How often the view was polled per probe. */
  readonly pollMs: number;
}

/** Runs the write load for `seconds` and probes the view's lag every `everyMs` meanwhile. */
export async function runViewLag(options: {
  readonly server: SampleServer;
  readonly scenario: Scenario & { readonly activate: UnaryCall };
  readonly shape: ClientShape;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly everyMs?: number;
  readonly pollMs?: number;
}): Promise<ViewLagResult> {
  const { server, scenario, shape } = options;
  const everyMs = options.everyMs ?? 50;
  const pollMs = options.pollMs ?? 2;
  await sendEachOnce(scenario.activate, await openClient(SINGLE_SESSION, server.url), 64);
  const load = startLoad(scenario.call, await openClient(shape, server.url), { concurrency: scenario.concurrency, serverPid: server.pid });
  await sleep(options.warmupSeconds * 1000);
  const probeClient = await openClient(SINGLE_SESSION, server.url);
  const lag = new LatencyRecorder();
  let probes = 0;
  let lost = 0;
  const window = load.measure(options.seconds * 1000);
  const until = performance.now() + options.seconds * 1000;
  const running: Promise<void>[] = [];
  for (let n = 0; performance.now() < until; n++) {
    running.push(probe(probeClient, `lag-probe-${Date.now()}-${n}`, pollMs).then((ms) => {
      probes++;
      if (ms === undefined) lost++;
      else lag.add(ms * 1000);
    }));
    await sleep(everyMs);
  }
  await Promise.all(running);
  const measured = await window;
  const totals = await load.stop();
  probeClient.close();
  return { load: { ...measured, ...totals, id: scenario.id, client: shape.label }, probes, lost, lagMs: lag.summary(), pollMs };
}

/** Adds an item to a new cart, then polls the view until the row shows it; the lag in ms, or undefined after 10 s. */
async function probe(client: LoadClient, cartId: string, pollMs: number): Promise<number | undefined> {
  const add: UnaryCall = {
    path: `/${ShoppingCartService.typeName}/${ShoppingCartService.method.addItem.name}`,
    bodies: [toBinary(AddItemRequestSchema, create(AddItemRequestSchema, { cartId, productId: "probe", name: "probe", quantity: 1 }))],
    check: (reply) => fromBinary(CartSchema, reply).cartId === cartId,
  };
  const row: UnaryCall = {
    path: `/${CartsView.typeName}/${CartsView.method.getCartRow.name}`,
    bodies: [toBinary(CartRowRequestSchema, create(CartRowRequestSchema, { cartId }))],
    check: (reply) => fromBinary(CartSchema, reply).items.some((i) => i.productId === "probe"),
  };
  const send = (call: UnaryCall) => new Promise<string | undefined>((resolve) => client.send(call, 0, resolve));
  if ((await send(add)) !== undefined) return undefined;
  const committed = performance.now();
  while (performance.now() - committed < 10_000) {
    if ((await send(row)) === undefined) return performance.now() - committed;
    await sleep(pollMs);
  }
  return undefined;
}
