// View lag: while the 1,000-cart AddItem load runs, a probe adds an item to a
// cart of its own and times how long after the reply (the commit) the carts
// view shows it, polling the view's GetCartRow query. The write path answers
// only after commit, so "reply → visible" is commit → visible plus at most one
// poll interval.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AddItemRequestSchema, CartSchema, ShoppingCartService } from "../src/gen/shop/cart/v1/cart_pb.js";
import { CartRowRequestSchema, CartsView } from "../src/gen/shop/cart/v1/carts_view_pb.js";
import { LatencyRecorder } from "./latency-recorder.js";
import type { LatencySummary } from "./latency-recorder.js";
import { sleep } from "./load-generator.js";
import type { LoadClient, UnaryCall } from "./load-generator.js";
import { startProbedLoad } from "./probed-load.js";
import type { ProbedLoad, ProbedLoadOptions } from "./probed-load.js";

/** What the view lag measurement found. */
export interface ViewLagResult {
  /** The write load it ran under. */
  readonly load: ProbedLoad;
  readonly probes: number;
  /** Probes the view had not shown after 10 s. */
  readonly lost: number;
  /** Reply of the probe's AddItem → its row visible in the view. */
  readonly lagMs: LatencySummary;
  /** How often the view was polled per probe. */
  readonly pollMs: number;
}

/** Runs the write load for `seconds` and probes the view's lag every `everyMs` meanwhile. */
export async function runViewLag(options: ProbedLoadOptions & { readonly everyMs?: number; readonly pollMs?: number }): Promise<ViewLagResult> {
  const everyMs = options.everyMs ?? 50;
  const pollMs = options.pollMs ?? 2;
  const load = await startProbedLoad(options);
  const lag = new LatencyRecorder();
  let probes = 0;
  let lost = 0;
  const running: Promise<void>[] = [];
  for (let n = 0; performance.now() < load.until; n++) {
    running.push(probe(load.probe, `lag-probe-${Date.now()}-${n}`, pollMs).then((ms) => {
      probes++;
      if (ms === undefined) lost++;
      else lag.add(ms * 1000);
    }));
    await sleep(everyMs);
  }
  await Promise.all(running);
  const measured = await load.finish();
  load.probe.close();
  return { load: measured, probes, lost, lagMs: lag.summary(), pollMs };
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
