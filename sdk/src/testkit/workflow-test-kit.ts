import { clone, create } from "@bufbuild/protobuf";
import type { DescMessage, DescService, Message, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import type { ComponentClient } from "../component-client.js";
import { withPrincipal } from "../principal.js";
import type { Principal } from "../principal.js";
import type { Workflow } from "../workflow.js";
import type { WorkflowStatus } from "../workflow-context.js";
import {
  applyStepEffect, beginAttempt, dueAction, endPause, failStep, newWorkflowRecord, processWorkflowCommand, runWorkflowStep, timeOut,
} from "../workflow-processor.js";
import type { WorkflowRecord } from "../workflow-processor.js";
import { HandlerFailure } from "../command-processor.js";
import type { TestKitOptions } from "./event-sourced-test-kit.js";
import { noComponents } from "./no-components.js";
import { TestTimers } from "./test-timers.js";

/** The outcome of one command in the workflow test kit. */
export interface WorkflowTestResult<Reply, State> {
  /** The reply, when the command was accepted. */
  readonly reply: Reply | undefined;
  /** The error, when the command was rejected (by the handler, or by the workflow: ALREADY_EXISTS, an ended workflow). */
  readonly error: { readonly code: Code; readonly message: string } | undefined;
  /** The state once the steps the command set off ran as far as they could at the test clock. */
  readonly state: State;
  readonly status: WorkflowStatus;
}

/** One attempt of a step, as the test kit ran it. */
export interface StepAttempt {
  readonly step: string;
  readonly attempt: number;
  /** Which entry into a step this was (every step entry of the workflow counts). */
  readonly visit: number;
  /** What it led to: the next step's name, "paused", "ended", "failed", or "retry" after a failed attempt. */
  readonly then: string;
  /** Why the attempt failed, when it did. */
  readonly error: string | undefined;
}

/**
 * Runs one workflow in memory, with no database and no server, through the
 * same record logic the runtime uses: each command, then the steps it sets
 * off, one after the other, until the workflow pauses, ends, or waits for a
 * retry or a deadline on the test clock (`advance` moves it). Steps call the
 * components you pass (stubs, usually). A step's `timeoutMs` is not
 * simulated: a step that throws is (make the stub throw).
 *
 * @example
 * const kit = WorkflowTestKit.of(transfer, { components: walletStub });
 * await kit.call("startTransfer", { transferId: "t1", fromWalletId: "a", toWalletId: "b", amount: 10n });
 * assert.equal(kit.status, "ended");
 * assert.deepEqual(kit.history.map((a) => a.step), ["withdraw", "deposit"]);
 */
export class WorkflowTestKit<Svc extends DescService, State extends Message> {
  readonly workflowId: string;
  /** The timers command handlers scheduled, and the test clock the workflow's retries, pauses and deadlines follow. */
  readonly timers: TestTimers;
  readonly #workflow: Workflow;
  readonly #components: ComponentClient;
  #record: WorkflowRecord;
  readonly #history: StepAttempt[] = [];

  private constructor(workflow: Workflow<Svc, State>, options: TestKitOptions) {
    this.#workflow = workflow as unknown as Workflow;
    this.workflowId = options.entityId ?? "test-workflow";
    this.#components = options.components ?? noComponents;
    this.timers = options.timers ?? new TestTimers({ components: this.#components });
    this.#record = newWorkflowRecord(this.#workflow, this.workflowId);
  }

  /** A test kit for a workflow never started. */
  static of<Svc extends DescService, State extends Message>(workflow: Workflow<Svc, State>, options: TestKitOptions = {}): WorkflowTestKit<Svc, State> {
    return new WorkflowTestKit(workflow, options);
  }

  get state(): State {
    return this.#record.state as State;
  }

  get status(): WorkflowStatus {
    return this.#record.status;
  }

  /** The step the workflow is at, when running (or waiting for a retry). */
  get step(): string | undefined {
    return this.#record.step?.name;
  }

  /** Why the workflow failed, when it did. */
  get failure(): string | undefined {
    return this.#record.failure;
  }

  /** Every step attempt so far, in order. */
  get history(): readonly StepAttempt[] {
    return this.#history;
  }

  /** Sends a command by the method's localName, then runs the steps it sets off. */
  async call<K extends keyof Svc["method"] & string>(
    method: K,
    command: MessageInitShape<Svc["method"][K]["input"]>,
    options: { metadata?: ConstructorParameters<typeof Headers>[0]; /** Who calls, as `ctx.principal` shows it. */ principal?: Principal } = {},
  ): Promise<WorkflowTestResult<MessageShape<Svc["method"][K]["output"]>, State>> {
    const workflow = this.#workflow;
    const desc = workflow.spec.service.methods.find((m) => m.localName === method);
    if (desc === undefined) throw new Error(`${workflow.spec.service.typeName} has no method "${method}"`);
    const outcome = await processWorkflowCommand({
      workflow, workflowId: this.workflowId, method: desc,
      command: create(desc.input, command as MessageInitShape<DescMessage>),
      record: this.#record,
      metadata: withPrincipal(new Headers(options.metadata), options.principal),
      components: this.#components,
      now: this.timers.now.getTime(),
    });
    if (outcome.kind === "rejected") {
      return { reply: undefined, error: { code: outcome.code, message: outcome.message }, state: this.state, status: this.status };
    }
    if (outcome.changed) this.#record = stored(workflow, outcome.record);
    this.timers.apply(outcome.timers);
    await this.#settle();
    return { reply: outcome.reply as MessageShape<Svc["method"][K]["output"]>, error: undefined, state: this.state, status: this.status };
  }

  /** Moves the test clock `ms` on, fires the command timers due by then, and runs what became due (retries, timed pauses, the workflow's timeout). */
  async advance(ms: number): Promise<void> {
    await this.timers.fireDue(ms);
    await this.#settle();
  }

  /** Runs steps and due deadlines until nothing more is due at the test clock. */
  async #settle(): Promise<void> {
    const workflow = this.#workflow;
    for (let rounds = 0; ; rounds++) {
      if (rounds === 10_000) throw new Error(`${workflow.spec.type} "${this.workflowId}": 10,000 steps ran without the workflow pausing or ending; does a step loop?`);
      const now = this.timers.now.getTime();
      const action = dueAction(this.#record, now);
      if (action === undefined) return;
      if (action === "time-out") this.#record = stored(workflow, timeOut(workflow, this.#record, now));
      else if (action === "end-pause") this.#record = stored(workflow, endPause(workflow, this.#record, now));
      else await this.#attempt(action === "retry" ? beginAttempt(this.#record, now) : this.#record);
    }
  }

  async #attempt(record: WorkflowRecord): Promise<void> {
    const workflow = this.#workflow;
    const step = record.step!;
    const now = () => this.timers.now.getTime();
    let next: WorkflowRecord;
    let error: string | undefined;
    try {
      const effect = await runWorkflowStep({ workflow, workflowId: this.workflowId, record, signal: new AbortController().signal, components: this.#components });
      next = applyStepEffect(workflow, record, effect, now());
    } catch (cause) {
      error = cause instanceof HandlerFailure || cause instanceof Error ? cause.message : String(cause);
      next = failStep(workflow, record, error, now());
    }
    this.#record = stored(workflow, next);
    const then = next.status === "running" ? (next.step!.visit === step.visit ? "retry" : next.step!.name) : next.status;
    this.#history.push({ step: step.name, attempt: step.attempt, visit: step.visit, then, error });
  }
}

/** The record as stored: a copy of the state that the handlers holding the old one cannot change. */
function stored(workflow: Workflow, record: WorkflowRecord): WorkflowRecord {
  return { ...record, state: clone(workflow.spec.state, record.state) };
}
