import type { DescMessage, DescMethod, Message, MessageInitShape } from "@bufbuild/protobuf";
import type { ComponentClient } from "../component-client.js";
import { checkTimerName, dueTime, timerSchedule } from "../timers.js";
import type { TimerChange, TimerTarget, Timers, TimerWhen } from "../timers.js";
import { noComponents } from "./no-components.js";

/** A timer the test clock holds. */
export interface TestTimer {
  readonly name: string;
  /** When it is due, on the test clock. */
  readonly dueAt: Date;
  readonly method: DescMethod;
  readonly request: Message;
  /** Calls `method(request)` through the test's component client and resolves with the reply. */
  fire(): Promise<Message>;
}

/**
 * Timers on a clock the test moves: scheduled timers are visible in
 * `scheduled`, and `advance(ms)` moves the clock and hands over the ones that
 * came due, for the test to assert and, with `fire()`, to call through the
 * component client it was given. Test kits apply a command's timer changes
 * only when the command is accepted, as the runtime does on commit.
 *
 * @example
 * const timers = new TestTimers({ components: stubClient });
 * const kit = EventSourcedTestKit.of(cart, { timers });
 * await kit.call("addItem", { cartId: "c1", productId: "p1", name: "Pen", quantity: 1 });
 * const [due] = timers.advance(30 * 60_000);
 * assert.equal(due?.name, "expire-c1");
 */
export class TestTimers implements Timers {
  #now: number;
  #components: ComponentClient;
  #timers = new Map<string, TestTimer>();

  constructor(options: { readonly components?: ComponentClient; readonly now?: Date } = {}) {
    this.#now = (options.now ?? new Date(0)).getTime();
    this.#components = options.components ?? noComponents;
  }

  /** The test clock. */
  get now(): Date {
    return new Date(this.#now);
  }

  /** Every timer not yet due, earliest first. */
  get scheduled(): readonly TestTimer[] {
    return [...this.#timers.values()].sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  /** The timer named `name`, if one is scheduled. */
  get(name: string): TestTimer | undefined {
    return this.#timers.get(name);
  }

  schedule<I extends DescMessage>(name: string, when: TimerWhen, method: TimerTarget<I>, request: MessageInitShape<I>): Promise<void> {
    try {
      this.apply([timerSchedule(name, when, method, request)]);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error); // as the runtime's timers do
    }
  }

  cancel(name: string): Promise<void> {
    try {
      checkTimerName(name);
      this.apply([{ kind: "cancel", name }]);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Applies a command's timer changes, in order; for test kits. */
  apply(changes: readonly TimerChange[]): void {
    for (const change of changes) {
      if (change.kind === "cancel") {
        this.#timers.delete(change.name);
        continue;
      }
      const { name, method, request } = change;
      const components = this.#components;
      this.#timers.delete(name); // a replaced timer goes to the end of its due time's queue
      this.#timers.set(name, {
        name, method, request, dueAt: new Date(dueTime(change.when, this.#now)),
        fire: () => {
          const client = components.forService(method.parent) as unknown as Record<string, (request: Message) => Promise<Message>>;
          return client[method.localName]!(request);
        },
      });
    }
  }

  /** Moves the clock `ms` on and removes and returns the timers due by then, earliest first. */
  advance(ms: number): TestTimer[] {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance takes a number of milliseconds >= 0, not ${String(ms)}`);
    this.#now += ms;
    const due = this.scheduled.filter((timer) => timer.dueAt.getTime() <= this.#now);
    for (const timer of due) this.#timers.delete(timer.name);
    return due;
  }

  /** `advance(ms)`, then fires each due timer in turn; resolves with their replies. */
  async fireDue(ms: number): Promise<Message[]> {
    const replies: Message[] = [];
    for (const timer of this.advance(ms)) replies.push(await timer.fire());
    return replies;
  }
}
