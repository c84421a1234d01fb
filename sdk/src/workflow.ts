import type { DescMessage, DescService, Message } from "@bufbuild/protobuf";
import { bindHandlers } from "./bind-handlers.js";
import type { MethodSpec } from "./event-sourced-entity.js";
import type { StepContext, WorkflowCommandContext } from "./workflow-context.js";
import type { StepResult, WorkflowHandlerResult } from "./workflow-effect.js";

/** What `protoc-gen-orrery` knows about a workflow service. */
export interface WorkflowSpec<Svc extends DescService = DescService> {
  /** The stable, persisted workflow type name, e.g. "transfer". */
  readonly type: string;
  /** The Connect service whose rpcs start, steer and read the workflow. */
  readonly service: Svc;
  /** The workflow's state message, stored whole with every transition. */
  readonly state: DescMessage;
  /** One entry per rpc, by the method's localName. */
  readonly methods: { readonly [K in keyof Svc["method"]]: MethodSpec };
}

/**
 * How often a failing step runs, and how long it waits between attempts.
 * The wait doubles from `backoffMs` up to `maxBackoffMs`.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (default: no limit). */
  readonly maxAttempts?: number;
  /** The wait before the second attempt (default 100 ms). */
  readonly backoffMs?: number;
  /** The longest wait between attempts (default 30,000 ms). */
  readonly maxBackoffMs?: number;
}

/** A step to go to, with its input when the step declares one. */
export interface StepTarget {
  readonly step: string;
  readonly input?: Message;
}

/**
 * One step of a workflow: it does work (usually calls to other components,
 * through `ctx.components`) and returns the transition to take, with a state
 * update. Its result is persisted before the next step starts; a step that
 * throws or outlives `timeoutMs` is retried by its `retry` policy, and when
 * the attempts are exhausted the workflow goes to `failover` (or fails).
 *
 * A step runs again after a crash or a failed attempt, so it must be safe to
 * repeat: its calls through `ctx.components` carry an idempotency key that is
 * the same on every attempt of one visit of the step, and entities apply a
 * call with a key they saw once. There is no replay of your code: what a step
 * returned is stored, never recomputed.
 */
export interface WorkflowStep<State, Input = any> {
  /** The step's input message, when it takes one; `transitionTo(step, input)` must pass that type. */
  readonly input?: DescMessage;
  /** How long one attempt may take (default: the workflow's `stepDefaults`, else 10,000 ms). */
  readonly timeoutMs?: number;
  /** The retry policy of this step (default: the workflow's `stepDefaults`, else retry without limit). */
  readonly retry?: RetryPolicy;
  /** Where to go when the attempts are exhausted: a compensation step. Without it the workflow fails. */
  readonly failover?: StepTarget | string;
  /** Runs the step: `input` is the message `transitionTo` passed (undefined for a step without `input`). */
  run(state: State, input: Input, ctx: StepContext<State>): StepResult<State>;
}

/** The part of every workflow implementation that is not a command handler. */
export interface WorkflowBehavior<State> {
  /** The state of a workflow never started; defaults to the empty state message. */
  initialState?(workflowId: string): State;
  /** The steps, by name. */
  readonly steps: { readonly [name: string]: WorkflowStep<State> };
  /**
   * A deadline for the whole workflow, from its start: when it passes, the
   * running step is abandoned and the workflow goes to `then` (or fails).
   */
  readonly timeout?: { readonly ms: number; readonly then?: StepTarget | string };
  /** The timeout and retry policy of steps that set none. */
  readonly stepDefaults?: { readonly timeoutMs?: number; readonly retry?: RetryPolicy };
}

/** A generated workflow definition; call `implement` with the handlers and steps. */
export interface WorkflowDefinition<Svc extends DescService, State extends Message, Handlers extends WorkflowBehavior<State>> extends WorkflowSpec<Svc> {
  readonly kind: "workflow";
  /** Binds the handlers and steps to the definition, giving a component to serve or test. */
  implement(handlers: Handlers): Workflow<Svc, State>;
}

/** An untyped workflow command handler, as the runtime calls it. */
export type AnyWorkflowHandler = (state: Message, command: Message, ctx: WorkflowCommandContext<Message>) => WorkflowHandlerResult<Message, Message>;

/** An implemented workflow: pass it to `createService({ components })`. */
export interface Workflow<Svc extends DescService = DescService, State extends Message = Message> {
  readonly kind: "workflow";
  readonly spec: WorkflowSpec<Svc>;
  /** The steps and settings, typed for the workflow's state. */
  readonly behavior: WorkflowBehavior<State>;
  /** Looks up a command handler by the method's localName. */
  handler(method: string): AnyWorkflowHandler | undefined;
}

/** Members of `WorkflowBehavior`; an rpc may not take their names. */
export const WORKFLOW_BEHAVIOR_MEMBERS: readonly string[] = ["initialState", "steps", "timeout", "stepDefaults"];

/** Creates a workflow definition; called by generated code, not by hand. */
export function defineWorkflow<Svc extends DescService, State extends Message, Handlers extends WorkflowBehavior<State>>(
  spec: WorkflowSpec<Svc>,
): WorkflowDefinition<Svc, State, Handlers> {
  return {
    ...spec,
    kind: "workflow",
    implement(handlers) {
      const byMethod = bindHandlers<AnyWorkflowHandler>(spec.service, spec.type, spec.methods, handlers, "state, command, ctx");
      checkSteps(spec, handlers as unknown as WorkflowBehavior<Message>);
      return {
        kind: "workflow",
        spec,
        behavior: handlers,
        handler: (method) => byMethod.get(method),
      };
    },
  };
}

/** Throws naming the fix when the steps or settings are not usable. */
function checkSteps(spec: WorkflowSpec, behavior: WorkflowBehavior<Message>): void {
  const where = `${spec.service.typeName} (workflow "${spec.type}")`;
  const steps = behavior.steps as Record<string, WorkflowStep<Message> | undefined> | undefined;
  if (steps === undefined || typeof steps !== "object" || Object.keys(steps).length === 0) {
    throw new Error(`${where}: implement() needs steps: { name: { run(state, input, ctx) { ... } } }, at least one`);
  }
  const target = (t: StepTarget | string | undefined, what: string) => {
    if (t === undefined) return;
    const name = typeof t === "string" ? t : t.step;
    if (steps[name] === undefined) throw new Error(`${where}: ${what} goes to step "${name}", which is not one of the steps (${Object.keys(steps).join(", ")})`);
  };
  for (const [name, step] of Object.entries(steps)) {
    if (step === undefined || typeof step.run !== "function") throw new Error(`${where}: step "${name}" has no run(state, input, ctx) function`);
    if (step.timeoutMs !== undefined) checkMs(step.timeoutMs, `${where}: step "${name}" timeoutMs`);
    checkRetry(step.retry, `${where}: step "${name}" retry`);
    target(step.failover, `the failover of step "${name}"`);
  }
  if (behavior.timeout !== undefined) {
    checkMs(behavior.timeout.ms, `${where}: timeout.ms`);
    target(behavior.timeout.then, "timeout.then");
  }
  if (behavior.stepDefaults?.timeoutMs !== undefined) checkMs(behavior.stepDefaults.timeoutMs, `${where}: stepDefaults.timeoutMs`);
  checkRetry(behavior.stepDefaults?.retry, `${where}: stepDefaults.retry`);
}

function checkMs(ms: number, what: string): void {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`${what} must be a positive number of milliseconds, not ${String(ms)}`);
}

function checkRetry(retry: RetryPolicy | undefined, what: string): void {
  if (retry === undefined) return;
  if (retry.maxAttempts !== undefined && (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1)) {
    throw new RangeError(`${what}.maxAttempts must be an integer >= 1 (attempts in all, the first included), not ${String(retry.maxAttempts)}`);
  }
  if (retry.backoffMs !== undefined) checkMs(retry.backoffMs, `${what}.backoffMs`);
  if (retry.maxBackoffMs !== undefined) checkMs(retry.maxBackoffMs, `${what}.maxBackoffMs`);
}
