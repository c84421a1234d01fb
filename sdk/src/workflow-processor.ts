import { create, isMessage } from "@bufbuild/protobuf";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { callHandler, computeReply, describeMessage, HandlerFailure } from "./command-processor.js";
import type { ComponentClient } from "./component-client.js";
import { recordTimers } from "./timers.js";
import type { TimerChange } from "./timers.js";
import type { RetryPolicy, StepTarget, Workflow, WorkflowStep } from "./workflow.js";
import { createStepContext, createWorkflowCommandContext } from "./workflow-context.js";
import type { WorkflowProgress, WorkflowStatus } from "./workflow-context.js";
import type { StepEffect, Transition } from "./workflow-effect.js";

/** The step a running workflow is at. */
export interface CurrentStep {
  readonly name: string;
  readonly input: Message | undefined;
  /** Which entry into a step this is, counting every step entry of the workflow from 1: keys the step's calls. */
  readonly visit: number;
  readonly attempt: number;
  /** When the current attempt began (ms since the epoch). */
  readonly startedAt: number;
  /** When a failed attempt is retried; undefined while an attempt runs. */
  readonly retryAt: number | undefined;
  readonly lastError: string | undefined;
}

/**
 * Everything the engine keeps of one workflow, persisted with every change:
 * the user's state, where the workflow is, and its deadlines.
 */
export interface WorkflowRecord {
  readonly status: WorkflowStatus;
  readonly state: Message;
  /** Step entries so far. */
  readonly visits: number;
  readonly step: CurrentStep | undefined;
  /** When paused: until when, and where to go then. */
  readonly pause: { readonly until: number | undefined; readonly then: StepTarget | undefined } | undefined;
  /** The workflow-wide deadline (ms since the epoch), until it is reached. */
  readonly deadline: number | undefined;
  readonly failure: string | undefined;
}

/** The default time one attempt of a step may take. */
export const DEFAULT_STEP_TIMEOUT_MS = 10_000;

/** The record of a workflow never started. */
export function newWorkflowRecord(workflow: Workflow, workflowId: string): WorkflowRecord {
  const state = workflow.behavior.initialState?.(workflowId) ?? create(workflow.spec.state);
  return { status: "not-started", state, visits: 0, step: undefined, pause: undefined, deadline: undefined, failure: undefined };
}

/** What a command handler sees of a record. */
export function progressOf(record: WorkflowRecord): WorkflowProgress {
  return {
    status: record.status,
    step: record.step?.name,
    attempt: record.step?.attempt ?? 0,
    lastError: record.step?.lastError,
    failure: record.failure,
  };
}

/** The outcome of one command against a workflow. */
export type WorkflowCommandOutcome =
  | { readonly kind: "rejected"; readonly code: Code; readonly message: string }
  | {
      readonly kind: "accepted";
      /** Whether the record must be written. */
      readonly changed: boolean;
      readonly record: WorkflowRecord;
      readonly reply: Message;
      readonly timers: readonly TimerChange[];
    };

/** Everything needed to run one workflow command. */
export interface WorkflowCommandInput {
  readonly workflow: Workflow;
  readonly workflowId: string;
  readonly method: DescMethod;
  readonly command: Message;
  readonly record: WorkflowRecord;
  readonly metadata?: Headers;
  readonly signal?: AbortSignal;
  readonly components: ComponentClient;
  /** Now, in ms since the epoch (a test clock in test kits). */
  readonly now: number;
}

/**
 * Runs a workflow command handler and applies its decision to the record.
 * Throws `HandlerFailure` when user code throws or breaks the contract.
 */
export async function processWorkflowCommand(input: WorkflowCommandInput): Promise<WorkflowCommandOutcome> {
  const { workflow, method, record } = input;
  const handler = workflow.handler(method.localName);
  if (handler === undefined) throw new HandlerFailure("handler", `no handler for ${method.name}`);
  const timers: TimerChange[] = [];
  const ctx = createWorkflowCommandContext<Message>({
    entityId: input.workflowId,
    entityType: workflow.spec.type,
    method: method.name,
    metadata: input.metadata,
    signal: input.signal,
    components: input.components,
    timers: recordTimers(timers),
    workflow: progressOf(record),
  });
  const effect = await callHandler(method, "ctx.start(...).transitionTo(...).thenReply(...), ctx.reply(...)", () => handler(record.state, input.command, ctx));
  if (effect.kind === "error") return { kind: "rejected", code: effect.code, message: effect.message };
  const name = workflow.spec.type;
  if (effect.start && record.status !== "not-started") {
    return { kind: "rejected", code: Code.AlreadyExists, message: `the ${name} workflow "${input.workflowId}" was started before (it is ${record.status}); start a new one under a new id` };
  }
  if (effect.start && effect.transition === undefined) {
    throw new HandlerFailure("handler", `the ${method.name} handler started the workflow without a transition; finish ctx.start(state) with .transitionTo(step), .pause(), .end() or .fail(...)`);
  }
  if (!effect.start && effect.transition !== undefined && record.status === "not-started") {
    throw new HandlerFailure("handler", `the ${method.name} handler took a transition on a workflow that has not started; start it with ctx.start(state), or answer NOT_FOUND with ctx.error(...)`);
  }
  if (effect.transition !== undefined && (record.status === "ended" || record.status === "failed")) {
    return { kind: "rejected", code: Code.FailedPrecondition, message: `the ${name} workflow "${input.workflowId}" has ${record.status === "ended" ? "ended" : "failed"}; it takes no more transitions` };
  }
  const changed = effect.update !== undefined || effect.transition !== undefined;
  const readOnly = (workflow.spec.methods as Record<string, { readOnly?: boolean } | undefined>)[method.localName]?.readOnly === true;
  if (readOnly && changed) {
    throw new HandlerFailure("handler", `the ${method.name} handler changed the workflow, but ${method.name} is read_only ((orrery.v1.method).read_only = true); reply with ctx.reply(...), or drop read_only from the rpc`);
  }
  let next = record;
  if (effect.update !== undefined) next = { ...next, state: checkedState(workflow, effect.update, `the ${method.name} handler`) };
  if (effect.start) {
    const timeout = workflow.behavior.timeout;
    next = { ...next, deadline: timeout === undefined ? undefined : input.now + timeout.ms };
  }
  if (effect.transition !== undefined) next = take(workflow, next, effect.transition, input.now, `the ${method.name} handler`);
  const state = next.state;
  const reply = computeReply(method, () => effect.reply(state));
  return { kind: "accepted", changed, record: next, reply, timers };
}

/** The facts a step runs with. */
export interface StepRunInput {
  readonly workflow: Workflow;
  readonly workflowId: string;
  readonly record: WorkflowRecord;
  readonly signal: AbortSignal;
  readonly components: ComponentClient;
}

/**
 * Runs the record's current step once. Resolves with the step's decision;
 * rejects when the step throws or returns something that is not a
 * transition (both count as a failed attempt).
 */
export async function runWorkflowStep(input: StepRunInput): Promise<StepEffect<Message>> {
  const { workflow, record } = input;
  const current = record.step;
  if (current === undefined) throw new Error(`the ${workflow.spec.type} workflow "${input.workflowId}" is not at a step`);
  const step = stepOf(workflow, current.name);
  const ctx = createStepContext<Message>({
    workflowId: input.workflowId,
    workflowType: workflow.spec.type,
    step: current.name,
    attempt: current.attempt,
    signal: input.signal,
    components: input.components,
  });
  const effect = (await step.run(record.state, current.input, ctx)) as unknown;
  if (effect === null || typeof effect !== "object" || (effect as { kind?: unknown }).kind !== "transition") {
    throw new HandlerFailure("handler", `step "${current.name}" returned ${describeMessage(effect)} instead of a transition; return ctx.transitionTo(...), ctx.pause(), ctx.end() or ctx.fail(...), or ctx.updateState(state).…`);
  }
  return effect as StepEffect<Message>;
}

/** The record after the current step decided `effect`. Throws `HandlerFailure` for a transition that cannot be taken. */
export function applyStepEffect(workflow: Workflow, record: WorkflowRecord, effect: StepEffect<Message>, now: number): WorkflowRecord {
  const where = `step "${record.step?.name}"`;
  const state = effect.update === undefined ? record.state : checkedState(workflow, effect.update, where);
  return take(workflow, { ...record, state }, effect.transition, now, where);
}

/**
 * The record after an attempt of the current step failed with `message`: a
 * retry after its backoff, or (attempts exhausted) the step's failover, or
 * the workflow failed.
 */
export function failStep(workflow: Workflow, record: WorkflowRecord, message: string, now: number): WorkflowRecord {
  const current = record.step!;
  const policy = retryOf(workflow, current.name);
  const max = policy.maxAttempts ?? Infinity;
  if (current.attempt < max) {
    const wait = Math.min(policy.maxBackoffMs ?? 30_000, (policy.backoffMs ?? 100) * 2 ** Math.min(current.attempt - 1, 30));
    return { ...record, step: { ...current, attempt: current.attempt + 1, retryAt: now + wait, lastError: message } };
  }
  const failover = stepOf(workflow, current.name).failover;
  const why = `step "${current.name}" failed ${current.attempt === 1 ? "its only attempt" : `all ${current.attempt} attempts`}: ${message}`;
  if (failover === undefined) return finish(record, { kind: "fail", message: why });
  return take(workflow, record, toStep(failover), now, `the failover of step "${current.name}"`);
}

/** The record once the workflow-wide deadline passed: the timeout's step, or failed. */
export function timeOut(workflow: Workflow, record: WorkflowRecord, now: number): WorkflowRecord {
  const then = workflow.behavior.timeout?.then;
  const cleared = { ...record, deadline: undefined };
  const ms = workflow.behavior.timeout?.ms ?? 0;
  if (then === undefined) return finish(cleared, { kind: "fail", message: `the workflow timed out after ${ms} ms` });
  return take(workflow, cleared, toStep(then), now, "the workflow's timeout");
}

/** The record once a timed pause is over: its `then` step. */
export function endPause(workflow: Workflow, record: WorkflowRecord, now: number): WorkflowRecord {
  return take(workflow, record, toStep(record.pause!.then!), now, "the pause's timeout");
}

/** The record with a new attempt of its current step beginning now (a retry that is due, or a resumption). */
export function beginAttempt(record: WorkflowRecord, now: number): WorkflowRecord {
  return { ...record, step: { ...record.step!, startedAt: now, retryAt: undefined } };
}

/** How long one attempt of `step` may take. */
export function stepTimeoutMs(workflow: Workflow, step: string): number {
  return stepOf(workflow, step).timeoutMs ?? workflow.behavior.stepDefaults?.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
}

/**
 * When the engine must look at the workflow next, without a command: the
 * running attempt's deadline or the retry's time, a timed pause's end, the
 * workflow-wide deadline (the earliest); undefined when nothing is due.
 */
export function nextWakeAt(workflow: Workflow, record: WorkflowRecord): number | undefined {
  let at: number | undefined;
  if (record.status === "running" && record.step !== undefined) {
    at = record.step.retryAt ?? record.step.startedAt + stepTimeoutMs(workflow, record.step.name);
  } else if (record.status === "paused") {
    at = record.pause?.until;
  } else {
    return undefined;
  }
  if (record.deadline !== undefined) at = at === undefined ? record.deadline : Math.min(at, record.deadline);
  return at;
}

/** What is due for the record at `now`, for the engine to act on. */
export function dueAction(record: WorkflowRecord, now: number): "time-out" | "end-pause" | "retry" | "attempt-deadline" | undefined {
  if (record.status !== "running" && record.status !== "paused") return undefined;
  if (record.deadline !== undefined && now >= record.deadline) return "time-out";
  if (record.status === "paused") return record.pause?.until !== undefined && now >= record.pause.until ? "end-pause" : undefined;
  const step = record.step!;
  if (step.retryAt !== undefined) return now >= step.retryAt ? "retry" : undefined;
  return "attempt-deadline";
}

/** The idempotency key of the `n`th call (from 1) of a step's visit: the same on every attempt. */
export function stepCallKey(type: string, workflowId: string, step: string, visit: number, n: number): string {
  return `${type}/${workflowId}/${step}#${visit}/${n}`;
}

function take(workflow: Workflow, record: WorkflowRecord, t: Transition, now: number, where: string): WorkflowRecord {
  if (t.kind === "end" || t.kind === "fail") return finish(record, t);
  if (t.kind === "pause") {
    if (t.timeoutMs !== undefined && (!Number.isFinite(t.timeoutMs) || t.timeoutMs <= 0)) {
      throw new HandlerFailure("handler", `${where} paused with timeoutMs ${String(t.timeoutMs)}; give a positive number of milliseconds`);
    }
    if (t.then !== undefined) stepOf(workflow, t.then.step, where);
    if (t.then !== undefined) checkInput(workflow, t.then.step, t.then.input, where);
    const until = t.timeoutMs === undefined ? undefined : now + t.timeoutMs;
    return { ...record, status: "paused", step: undefined, pause: { until, then: until === undefined ? undefined : t.then }, failure: undefined };
  }
  stepOf(workflow, t.step, where);
  const input = checkInput(workflow, t.step, t.input, where);
  const visit = record.visits + 1;
  return {
    ...record,
    status: "running",
    visits: visit,
    step: { name: t.step, input, visit, attempt: 1, startedAt: now, retryAt: undefined, lastError: undefined },
    pause: undefined,
  };
}

function finish(record: WorkflowRecord, t: { kind: "end" } | { kind: "fail"; message: string }): WorkflowRecord {
  return { ...record, status: t.kind === "end" ? "ended" : "failed", step: undefined, pause: undefined, deadline: undefined, failure: t.kind === "fail" ? t.message : undefined };
}

function toStep(target: StepTarget | string): Transition {
  return typeof target === "string" ? { kind: "step", step: target, input: undefined } : { kind: "step", step: target.step, input: target.input };
}

function stepOf(workflow: Workflow, name: string, where?: string): WorkflowStep<Message> {
  const step = (workflow.behavior.steps as Record<string, WorkflowStep<Message> | undefined>)[name];
  if (step === undefined || !Object.hasOwn(workflow.behavior.steps, name)) {
    const names = Object.keys(workflow.behavior.steps).join(", ");
    throw new HandlerFailure("handler", `${where ?? "the workflow"} went to step "${name}", which is not one of the steps of "${workflow.spec.type}" (${names})`);
  }
  return step;
}

function retryOf(workflow: Workflow, name: string): RetryPolicy {
  return stepOf(workflow, name).retry ?? workflow.behavior.stepDefaults?.retry ?? {};
}

/** The step's input: the message given, checked against the step's `input`; an empty one when the step declares one and none was given. */
function checkInput(workflow: Workflow, name: string, input: Message | undefined, where: string): Message | undefined {
  const declared = stepOf(workflow, name).input;
  if (declared === undefined) {
    if (input !== undefined) throw new HandlerFailure("handler", `${where} passed ${describeMessage(input)} to step "${name}", which declares no input; declare input: ${input.$typeName.split(".").pop()}Schema on the step, or pass none`);
    return undefined;
  }
  if (input === undefined) return create(declared);
  if (!isMessage(input, declared)) throw new HandlerFailure("handler", `${where} passed ${describeMessage(input)} to step "${name}", whose input is ${declared.typeName}`);
  return input;
}

function checkedState(workflow: Workflow, state: unknown, where: string): Message {
  if (!isMessage(state, workflow.spec.state)) {
    throw new HandlerFailure("state", `${where} stored ${describeMessage(state)} as the state of "${workflow.spec.type}"; the state is ${workflow.spec.state.typeName}`);
  }
  return state;
}
