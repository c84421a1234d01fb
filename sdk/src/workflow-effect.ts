import type { Message } from "@bufbuild/protobuf";
import type { ErrorEffect } from "./effect.js";
import type { StepTarget } from "./workflow.js";

/**
 * Where a workflow goes next: run a step (with its input), wait for a
 * command (optionally only for a while, then go to a step), or finish.
 */
export type Transition =
  | { readonly kind: "step"; readonly step: string; readonly input: Message | undefined }
  | { readonly kind: "pause"; readonly timeoutMs: number | undefined; readonly then: StepTarget | undefined }
  | { readonly kind: "end" }
  | { readonly kind: "fail"; readonly message: string };

/** How long a pause lasts, and where the workflow goes when it is over without a command having moved it on. */
export interface PauseOptions {
  readonly timeoutMs: number;
  /** The step to take when the time is up. */
  readonly then: StepTarget | string;
}

/** A workflow command's decision: start or steer the workflow (or leave it), update the state, and reply. */
export interface WorkflowReplyEffect<Reply, State> {
  readonly kind: "reply";
  /** The handler called `ctx.start(...)`: refused with ALREADY_EXISTS when the workflow has started before. */
  readonly start: boolean;
  /** The new state; undefined leaves it. */
  readonly update: State | undefined;
  /** The transition to take; undefined leaves the workflow where it is (a read, or a state update only). */
  readonly transition: Transition | undefined;
  /** Computes the reply from the state after the update. */
  readonly reply: (state: State) => Reply;
}

/** What a workflow command handler returns. */
export type WorkflowEffect<Reply, State = unknown> = WorkflowReplyEffect<Reply, State> | ErrorEffect;

/** A workflow command handler's result: an effect, or a promise of one. */
export type WorkflowHandlerResult<Reply, State = unknown> = WorkflowEffect<Reply, State> | Promise<WorkflowEffect<Reply, State>>;

/** A step's decision: the transition to take, with a state update. */
export interface StepEffect<State> {
  readonly kind: "transition";
  readonly update: State | undefined;
  readonly transition: Transition;
}

/** What a step's `run` returns. */
export type StepResult<State> = StepEffect<State> | Promise<StepEffect<State>>;

/** The transitions a builder can finish with, each giving `R`. */
export interface Transitions<R> {
  /** Run `step` next, with `input` when the step declares one. */
  transitionTo(step: string, input?: Message): R;
  /** Wait for a command to move the workflow on; with `timeoutMs`, go to `then` when none did in time. */
  pause(options?: PauseOptions): R;
  /** Finish the workflow: it answers its read-only commands from then on. */
  end(): R;
  /** Finish the workflow as failed, with a reason kept in its record. */
  fail(message: string): R;
}

/** Finishes a command's effect with the reply. */
export interface ThenReply<State> {
  /** Reply with a value, or with a function of the state after the update. */
  thenReply<Reply>(reply: Reply | ((state: State) => Reply)): WorkflowReplyEffect<Reply, State>;
}

/** The builder `ctx.updateState(...)` in a command gives: take a transition too, or reply. */
export type CommandStateEffect<State> = Transitions<ThenReply<State>> & ThenReply<State>;

/** Builds a command's effect builders over `start` and `update`. */
export function commandEffect<State>(start: boolean, update: State | undefined): CommandStateEffect<State> {
  const then = (transition: Transition | undefined): ThenReply<State> => ({
    thenReply<Reply>(reply: Reply | ((state: State) => Reply)): WorkflowReplyEffect<Reply, State> {
      const fn = typeof reply === "function" ? (reply as (state: State) => Reply) : () => reply;
      return { kind: "reply", start, update, transition, reply: fn };
    },
  });
  return { ...transitions(then), ...then(undefined) };
}

/** Builds a step's transitions over `update`. */
export function stepEffect<State>(update: State | undefined): Transitions<StepEffect<State>> {
  return transitions((transition) => ({ kind: "transition", update, transition }));
}

function transitions<R>(finish: (transition: Transition) => R): Transitions<R> {
  return {
    transitionTo: (step, input) => finish({ kind: "step", step, input }),
    pause: (options) => finish({
      kind: "pause",
      timeoutMs: options?.timeoutMs,
      then: options === undefined ? undefined : typeof options.then === "string" ? { step: options.then } : options.then,
    }),
    end: () => finish({ kind: "end" }),
    fail: (message) => finish({ kind: "fail", message: String(message) }),
  };
}
