// Timer firing delay: while the 1,000-cart AddItem load runs, a probe asks a
// cart reminder of its own for a reminder every `everyMs` (each Remind stores
// a durable timer due `delayMs` later); once all are due, it reads when each
// fired. Fire time (the Fire handler's clock) − due time (the Remind
// handler's clock), both on the server: no clock of this process counts.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetReminderRequestSchema, RemindRequestSchema, CartReminderService, ReminderSchema } from "../src/gen/shop/cart/v1/reminder_pb.js";
import type { Reminder } from "../src/gen/shop/cart/v1/reminder_pb.js";
import { LatencyRecorder } from "./latency-recorder.js";
import type { LatencySummary } from "./latency-recorder.js";
import { sleep } from "./load-generator.js";
import type { LoadClient, UnaryCall } from "./load-generator.js";
import { startProbedLoad } from "./probed-load.js";
import type { ProbedLoad, ProbedLoadOptions } from "./probed-load.js";

/** What the timer delay measurement found. */
export interface TimerDelayResult {
  /** The write load it ran under. */
  readonly load: ProbedLoad;
  readonly timers: number;
  /** Timers not fired 10 s after their due time, or whose Remind failed. */
  readonly lost: number;
  /** Fired more than once (at least once allows it; a healthy run has none). */
  readonly repeated: number;
  /** Fire time − due time. */
  readonly delayMs: LatencySummary;
  readonly timerDelayMs: number;
}

/** Runs the write load for `seconds`, scheduling a timer due `delayMs` later every `everyMs` meanwhile. */
export async function runTimerDelay(options: ProbedLoadOptions & { readonly everyMs?: number; readonly delayMs?: number }): Promise<TimerDelayResult> {
  const everyMs = options.everyMs ?? 20;
  const delayMs = options.delayMs ?? 200;
  const load = await startProbedLoad(options);
  const { probe } = load;
  const run = `${Date.now()}`;
  const scheduled: Array<Promise<string | undefined>> = [];
  for (let n = 0; performance.now() < load.until; n++) {
    const cartId = `timer-probe-${run}-${n}`;
    scheduled.push(call(probe, remindCall(cartId, delayMs)).then((failed) => (failed === undefined ? cartId : undefined)));
    await sleep(everyMs);
  }
  const cartIds = await Promise.all(scheduled);
  const measured = await load.finish();
  // The last timers come due, and the write load is gone: what is read now was recorded under it.
  const recorder = new LatencyRecorder();
  let lost = cartIds.filter((id) => id === undefined).length;
  let repeated = 0;
  await sleep(delayMs + 500);
  for (const cartId of cartIds) {
    if (cartId === undefined) continue;
    let reminder: Reminder | undefined;
    for (let i = 0; i < 100; i++) {
      reminder = await read(probe, cartId);
      if (reminder !== undefined && reminder.fired > 0) break;
      await sleep(100);
    }
    if (reminder === undefined || reminder.fired === 0) {
      lost++;
      continue;
    }
    if (reminder.fired > 1) repeated++;
    recorder.add(Number(reminder.firedAtMs - reminder.dueAtMs) * 1000);
  }
  probe.close();
  return { load: measured, timers: cartIds.length, lost, repeated, delayMs: recorder.summary(), timerDelayMs: delayMs };
}

function remindCall(cartId: string, delayMs: number): UnaryCall {
  return {
    path: `/${CartReminderService.typeName}/${CartReminderService.method.remind.name}`,
    bodies: [toBinary(RemindRequestSchema, create(RemindRequestSchema, { cartId, delayMs: BigInt(delayMs) }))],
    check: (reply) => fromBinary(ReminderSchema, reply).cartId === cartId,
  };
}

function call(client: LoadClient, unary: UnaryCall): Promise<string | undefined> {
  return new Promise((resolve) => client.send(unary, 0, resolve));
}

/** The reminder of `cartId`, or undefined when the read failed. */
async function read(client: LoadClient, cartId: string): Promise<Reminder | undefined> {
  let reminder: Reminder | undefined;
  const failed = await call(client, {
    path: `/${CartReminderService.typeName}/${CartReminderService.method.getReminder.name}`,
    bodies: [toBinary(GetReminderRequestSchema, create(GetReminderRequestSchema, { cartId }))],
    check: (reply) => {
      reminder = fromBinary(ReminderSchema, reply);
      return true;
    },
  });
  return failed === undefined ? reminder : undefined;
}
