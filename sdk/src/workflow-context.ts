import type { Code } from "@connectrpc/connect";
import type { ComponentClient } from "./component-client.js";
import type { ErrorEffect } from "./effect.js";
import { errorEffect } from "./effect.js";
import { principalOf } from "./principal.js";
import type { Principal } from "./principal.js";
import type { CommandTimers } from "./timers.js";
import type { CommandStateEffect, StepEffect, ThenReply, Transitions, WorkflowReplyEffect } from "./workflow-effect.js";
import { commandEffect, stepEffect } from "./workflow-effect.js";

/** Where a workflow is: never started, running a step, paused, or finished. */
export type WorkflowStatus = "not-started" | "running" | "paused" | "ended" | "failed";

/** What a command handler sees of the workflow's progress. */
export interface WorkflowProgress {
  readonly status: WorkflowStatus;
  /** The step running (or waiting for a retry), when `status` is "running". */
  readonly step: string | undefined;
  /** The attempt of that step, 1 for the first. */
  readonly attempt: number;
  /** The last failure of that step, when an attempt failed. */
  readonly lastError: string | undefined;
  /** Why the workflow failed, when `status` is "failed". */
  readonly failure: string | undefined;
}

/**
 * What a workflow command handler gets besides the state and the command.
 * A command starts the workflow (`ctx.start(state).transitionTo(...)`),
 * steers it (`transitionTo`, `pause`, `end`, `fail`: the step running is
 * abandoned and its result ignored), updates its state, or only reads it.
 *
 * @example
 * startTransfer(state, cmd, ctx) {
 *   return ctx.start({ ...state, transferId: cmd.transferId, status: STARTED }).transitionTo("withdraw").thenReply((s) => s);
 * }
 */
export interface WorkflowCommandContext<State> {
  /** The id of the workflow this command is for (the request's entity key). */
  readonly entityId: string;
  /** The persisted type name of the workflow, e.g. "transfer". */
  readonly entityType: string;
  /** The rpc name, e.g. "Approve". */
  readonly method: string;
  readonly metadata: Headers;
  /** Who made the call: its source and, with a valid bearer token, its claims. */
  readonly principal: Principal;
  readonly signal: AbortSignal;
  /** Typed clients for other components (use them in steps: a command should decide quickly). */
  readonly components: ComponentClient;
  /** Schedule and cancel durable timers; the changes take effect only if this command commits. */
  readonly timers: CommandTimers;
  /** The workflow's progress: its status, step and attempt. */
  readonly workflow: WorkflowProgress;
  /** Start the workflow with `state`; refused with ALREADY_EXISTS when it has started before. Finish with a transition. */
  start(state: State): Transitions<ThenReply<State>>;
  /** Replace the state; then take a transition, or reply. */
  updateState(state: State): CommandStateEffect<State>;
  /** Run `step` next (abandoning the step running, if any). */
  transitionTo(step: string, input?: Parameters<Transitions<unknown>["transitionTo"]>[1]): ThenReply<State>;
  /** Wait for a command; with `timeoutMs`, go to `then` when none came in time. */
  pause(options?: Parameters<Transitions<unknown>["pause"]>[0]): ThenReply<State>;
  /** Finish the workflow. */
  end(): ThenReply<State>;
  /** Finish the workflow as failed. */
  fail(message: string): ThenReply<State>;
  /** Reply without changing anything. */
  reply<Reply>(reply: Reply): WorkflowReplyEffect<Reply, State>;
  /** Reject the command with a Connect code and a message the caller can act on. */
  error(code: Code, message: string): ErrorEffect;
}

/** The facts a runtime or test kit supplies to build a workflow command context. */
export interface WorkflowCommandContextInit {
  readonly entityId: string;
  readonly entityType: string;
  readonly method: string;
  readonly metadata?: Headers;
  readonly signal?: AbortSignal;
  readonly components: ComponentClient;
  readonly timers: CommandTimers;
  readonly workflow: WorkflowProgress;
}

/** Creates a workflow command context; for runtimes and test kits. */
export function createWorkflowCommandContext<State>(init: WorkflowCommandContextInit): WorkflowCommandContext<State> {
  const plain = commandEffect<State>(false, undefined);
  return {
    entityId: init.entityId,
    entityType: init.entityType,
    method: init.method,
    metadata: init.metadata ?? new Headers(),
    principal: principalOf(init.metadata),
    signal: init.signal ?? new AbortController().signal,
    components: init.components,
    timers: init.timers,
    workflow: init.workflow,
    start: (state) => commandEffect<State>(true, state),
    updateState: (state) => commandEffect<State>(false, state),
    transitionTo: (step, input) => plain.transitionTo(step, input),
    pause: (options) => plain.pause(options),
    end: () => plain.end(),
    fail: (message) => plain.fail(message),
    reply: (reply) => plain.thenReply(reply),
    error: errorEffect,
  };
}

/**
 * What a step's `run` gets besides the state and its input: which workflow,
 * step and attempt it is, a signal aborted when the attempt is given up
 * (timeout, or a command moved the workflow on), the component client, and
 * the transitions to return.
 *
 * @example
 * async run(state, _input, ctx) {
 *   await ctx.components.forService(WalletService).withdraw({ walletId: state.from, amount: state.amount });
 *   return ctx.updateState({ ...state, status: WITHDRAWN }).transitionTo("deposit");
 * }
 */
export interface StepContext<State> extends Transitions<StepEffect<State>> {
  readonly workflowId: string;
  readonly workflowType: string;
  /** The step's name. */
  readonly step: string;
  /** 1 for the first attempt of this visit of the step, 2 for its first retry, ... */
  readonly attempt: number;
  /** Aborted when this attempt is given up: pass it on to slow work. */
  readonly signal: AbortSignal;
  /**
   * Typed clients for other components. Each call carries an idempotency key
   * made of the workflow, the step's visit and the call's position in the
   * step, the same on every attempt: an entity that applied it once returns
   * the first reply and persists nothing new.
   */
  readonly components: ComponentClient;
  /** Replace the state, and take a transition. */
  updateState(state: State): Transitions<StepEffect<State>>;
}

/** The facts a runtime or test kit supplies to build a step context. */
export interface StepContextInit {
  readonly workflowId: string;
  readonly workflowType: string;
  readonly step: string;
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly components: ComponentClient;
}

/** Creates a step context; for runtimes and test kits. */
export function createStepContext<State>(init: StepContextInit): StepContext<State> {
  return {
    ...init,
    ...stepEffect<State>(undefined),
    updateState: (state) => stepEffect<State>(state),
  };
}
