import { create } from "@bufbuild/protobuf";
import type { Message } from "@bufbuild/protobuf";
import {
  applyStepEffect, beginAttempt, dueAction, endPause, failStep, HandlerFailure, IDEMPOTENCY_KEY_HEADER, newWorkflowRecord, nextWakeAt,
  processWorkflowCommand, runWorkflowStep, stepCallKey, stepTimeoutMs, timeOut,
} from "@orrery/sdk";
import type { ComponentClient, StepEffect, Workflow, WorkflowRecord } from "@orrery/sdk";
import type { Logger } from "pino";
import type { CallScope } from "../entity/call-scope.js";
import type { EntityHost } from "../entity/entity-host.js";
import type { EntityObserver } from "../entity/entity-observer.js";
import type { BatchWrite, EntityModel } from "../entity/entity-model.js";
import { keptKeys } from "../entity/key-value-model.js";
import type { AppliedCommand, KeyValueStore } from "../storage/index.js";
import { AdvanceReplySchema, AdvanceRequestSchema, WorkflowEngine } from "../gen/orrery/workflow/v1/engine_pb.js";
import type { AdvanceRequest } from "../gen/orrery/workflow/v1/engine_pb.js";
import { decodeWorkflowRecord, encodeWorkflowRecord, WORKFLOW_RECORD_TYPE } from "./workflow-codec.js";

/** The internal command that carries the engine's decisions into a workflow's mailbox. */
const ADVANCE = WorkflowEngine.method.advance;

/** What the engine tells a workflow's mailbox, beside the request (it never leaves the process). */
type Advance =
  | { readonly kind: "step-done"; readonly visit: number; readonly attempt: number; readonly effect: StepEffect<Message> }
  | { readonly kind: "step-failed"; readonly visit: number; readonly attempt: number; readonly error: string }
  | { readonly kind: "wake" };

/** A step attempt running on this node. */
interface Run {
  readonly visit: number;
  readonly attempt: number;
  readonly shard: number;
  readonly abort: AbortController;
  done: Promise<void>;
}

/** Options of {@link createWorkflowEngine}. */
export interface WorkflowEngineOptions {
  readonly workflow: Workflow;
  readonly store: KeyValueStore;
  /** The shard of a workflow (0 outside a cluster), stored with its row so its owner finds it. */
  readonly shardOf: (workflowId: string) => number;
  /** The component client of a step, made for its attempt (see `InProcessComponents.within`). */
  readonly components: (scope: CallScope) => ComponentClient;
  readonly logger: Logger;
  /** Told when a workflow must be looked at again at `at` (ms since the epoch), so the sweeper wakes in time. */
  readonly onWakeAt: (at: number) => void;
  /** How long the engine waits for its own commands to be committed (default 2,000 ms). */
  readonly storageWaitMs?: number;
  /** Told when a step's attempt ends (metrics). */
  readonly observer?: EntityObserver;
}

/**
 * The engine of one workflow type: an `EntityModel` (a workflow is an entity
 * whose state row holds its record) for the entity host, and the runner of
 * its steps. Every decision goes through the workflow's mailbox and is
 * committed before it takes effect: a command's transition, a step's result,
 * a failed attempt, a due deadline. After each commit the engine starts the
 * step the record is at, if this node is not running it yet, outside the
 * mailbox (a step may take long; commands such as reads keep being answered).
 */
export interface WorkflowEngine {
  readonly model: EntityModel;
  /** Gives the engine the host its commands go to; before `wake`. */
  attach(host: EntityHost): void;
  /** Makes the workflow look at its record now (a deadline is due, or this node took its shard over). */
  wake(workflowId: string): Promise<void>;
  /** Whether a step of the workflow is running on this node. */
  isRunning(workflowId: string): boolean;
  /** Abandons the steps running for `shards` (this node lost them; their new owner resumes them). */
  dropShards(shards: ReadonlySet<number>): void;
  /** Starts no more steps; lets the running ones finish for up to `graceMs`, then abandons the rest. */
  stop(graceMs: number): Promise<void>;
  readonly runningCount: number;
}

/** Creates the engine of `workflow`; see {@link WorkflowEngine}. */
export function createWorkflowEngine(options: WorkflowEngineOptions): WorkflowEngine {
  const { workflow, store, logger } = options;
  const type = workflow.spec.type;
  const storageWaitMs = options.storageWaitMs ?? 2_000;
  const pending = new WeakMap<AdvanceRequest, Advance>();
  const runs = new Map<string, Run>();
  let host: EntityHost | undefined;
  let stopped = false;

  const asState = (record: WorkflowRecord) => record as unknown as Message;
  const asRecord = (state: Message) => state as unknown as WorkflowRecord;

  /** Sends the engine's decision to the workflow's mailbox. */
  async function advance(workflowId: string, what: Advance): Promise<void> {
    if (host === undefined) throw new Error("the workflow engine has no host yet");
    const request = create(AdvanceRequestSchema, { workflowId, kind: what.kind });
    pending.set(request, what);
    await host.invoke(ADVANCE, workflowId, request, { deadline: performance.now() + storageWaitMs });
  }

  /** After a commit: abandon a run the record moved past, and start the step the record is at. */
  function committed(workflowId: string, record: WorkflowRecord): void {
    const run = runs.get(workflowId);
    const step = record.status === "running" ? record.step : undefined;
    const current = step !== undefined && step.retryAt === undefined ? step : undefined;
    if (run !== undefined && (current === undefined || run.visit !== current.visit || run.attempt !== current.attempt)) {
      run.abort.abort(new Error("the workflow moved on"));
      runs.delete(workflowId);
    }
    if (current !== undefined && !runs.has(workflowId) && !stopped) start(workflowId, record);
    const at = nextWakeAt(workflow, record);
    if (at !== undefined) options.onWakeAt(at);
  }

  function start(workflowId: string, record: WorkflowRecord): void {
    const step = record.step!;
    const abort = new AbortController();
    const timeoutMs = stepTimeoutMs(workflow, step.name);
    let calls = 0;
    const components = options.components({
      headers: undefined,
      deadline: performance.now() + Math.max(1, step.startedAt + timeoutMs - Date.now()),
      // Not this workflow's own entry: a step runs outside the mailbox, so a call back into the workflow waits for nothing.
      caller: { type: `${type} step ${step.name}`, id: workflowId },
      // The same keys on every attempt of this visit: an entity that applied a call once answers a retry with the first reply.
      perCall: () => ({ [IDEMPOTENCY_KEY_HEADER]: stepCallKey(type, workflowId, step.name, step.visit, ++calls) }),
      correlationId: `workflow:${type}/${workflowId}`,
    });
    const run: Run = { visit: step.visit, attempt: step.attempt, shard: options.shardOf(workflowId), abort, done: Promise.resolve() };
    runs.set(workflowId, run);
    const began = performance.now();
    const ended = (outcome: "ok" | "failed" | "abandoned") => options.observer?.stepEnded?.(type, step.name, outcome, (performance.now() - began) / 1000);
    run.done = (async () => {
      let outcome: Advance;
      try {
        const effect = await runWorkflowStep({ workflow, workflowId, record, signal: abort.signal, components });
        outcome = { kind: "step-done", visit: step.visit, attempt: step.attempt, effect };
      } catch (error) {
        const message = describeFailure(error);
        if (!abort.signal.aborted) {
          logger.warn(
            { err: error, workflowType: type, workflowId, step: step.name, attempt: step.attempt },
            `${type} "${workflowId}": step "${step.name}" failed (attempt ${step.attempt}): ${message}`,
          );
        }
        outcome = { kind: "step-failed", visit: step.visit, attempt: step.attempt, error: message };
      }
      // Abandoned (timed out, or the workflow moved on): whoever abandoned it decided already.
      if (abort.signal.aborted) {
        ended("abandoned");
        return;
      }
      ended(outcome.kind === "step-done" ? "ok" : "failed");
      try {
        await advance(workflowId, outcome);
      } catch (error) {
        // Not recorded: the attempt's deadline wakes the workflow, and the step runs again (its calls' keys make that safe).
        logger.warn(
          { err: error, workflowType: type, workflowId, step: step.name },
          `${type} "${workflowId}": the result of step "${step.name}" could not be stored (${describeFailure(error)}); the step runs again at its deadline`,
        );
      }
    })().finally(() => {
      if (runs.get(workflowId) === run) runs.delete(workflowId);
    });
  }

  /** The record after the engine's decision `what`; the same record when it no longer applies. */
  function decide(workflowId: string, record: WorkflowRecord, what: Advance, now: number): WorkflowRecord {
    if (what.kind === "wake") {
      switch (dueAction(record, now)) {
        case "time-out":
          return timeOut(workflow, record, now);
        case "end-pause":
          return endPause(workflow, record, now);
        case "retry":
          return beginAttempt(record, now);
        case "attempt-deadline": {
          const step = record.step!;
          const run = runs.get(workflowId);
          if (run === undefined || run.visit !== step.visit || run.attempt !== step.attempt) return beginAttempt(record, now); // resume here
          const timeoutMs = stepTimeoutMs(workflow, step.name);
          if (now < step.startedAt + timeoutMs) return record;
          return failStep(workflow, record, `the attempt timed out after ${timeoutMs} ms`, now);
        }
        default:
          return record;
      }
    }
    const step = record.status === "running" ? record.step : undefined;
    if (step === undefined || step.visit !== what.visit || step.attempt !== what.attempt || step.retryAt !== undefined) return record; // stale
    if (what.kind === "step-failed") return failStep(workflow, record, what.error, now);
    try {
      return applyStepEffect(workflow, record, what.effect, now);
    } catch (error) {
      // A transition that cannot be taken (an unknown step, a wrong input) fails the attempt like a throw.
      if (!(error instanceof HandlerFailure)) throw error;
      logger.warn({ err: error, workflowType: type, workflowId, step: step.name }, `${type} "${workflowId}": ${error.message}`);
      return failStep(workflow, record, error.message, now);
    }
  }

  const model: EntityModel = {
    component: workflow,
    async load(workflowId) {
      const stored = await store.load(type, workflowId);
      if (stored === undefined || stored.state === undefined) return { state: asState(newWorkflowRecord(workflow, workflowId)), seqNr: stored?.revision ?? 0 };
      if (stored.state.type !== WORKFLOW_RECORD_TYPE) {
        throw new HandlerFailure("state", `the stored state of ${type} "${workflowId}" is a ${stored.state.type}, not a workflow record; was "${type}" the type of another component before?`);
      }
      return { state: asState(decodeWorkflowRecord(workflow, workflowId, stored.state.payload)), seqNr: stored.revision };
    },
    async handle(run) {
      const record = asRecord(run.state);
      const now = Date.now();
      if (run.method === ADVANCE) {
        const what = pending.get(run.command as AdvanceRequest);
        if (what === undefined) throw new HandlerFailure("handler", `${ADVANCE.parent.typeName}/${ADVANCE.name} is internal to the workflow engine`);
        const next = decide(run.entityId, record, what, now);
        return { kind: "accepted", state: asState(next), reply: create(AdvanceReplySchema), change: next === record ? undefined : next, timers: [] };
      }
      const outcome = await processWorkflowCommand({
        workflow, workflowId: run.entityId, method: run.method, command: run.command, record,
        metadata: run.metadata, signal: run.signal, components: run.components, now,
      });
      if (outcome.kind === "rejected") return outcome;
      return { kind: "accepted", state: asState(outcome.record), reply: outcome.reply, change: outcome.changed ? outcome.record : undefined, timers: outcome.timers };
    },
    appliedCommands: (workflowId) => store.appliedCommands(type, workflowId),
    batch(workflowId, revision): BatchWrite {
      let last: WorkflowRecord | undefined;
      const recorded = new Map<string, AppliedCommand>();
      return {
        recorded,
        add(outcome, applied) {
          const change = outcome.change as WorkflowRecord | undefined;
          if (change !== undefined) {
            encodeWorkflowRecord(workflow, change); // a record that cannot be encoded fails the command that made it
            last = change;
            if (applied !== undefined) recorded.set(applied.key, applied);
          }
          return revision;
        },
        get empty() {
          return last === undefined;
        },
        async commit({ deadline, spans, fence, applied }) {
          const record = last!;
          await store.write({
            entityType: type, entityId: workflowId, revision: revision + 1,
            state: { type: WORKFLOW_RECORD_TYPE, payload: encodeWorkflowRecord(workflow, record) },
            deadline, spans, fence,
            applied: recorded.size === 0 ? undefined : keptKeys(applied, recorded),
            wake: { shard: options.shardOf(workflowId), at: nextWakeAt(workflow, record) },
          });
          committed(workflowId, record);
          return revision + 1;
        },
      };
    },
  };

  return {
    model,
    attach(h) {
      host = h;
    },
    wake: (workflowId) => advance(workflowId, { kind: "wake" }),
    isRunning: (workflowId) => runs.has(workflowId),
    dropShards(shards) {
      for (const [id, run] of runs) {
        if (!shards.has(run.shard)) continue;
        run.abort.abort(new Error("this node no longer owns the workflow's shard"));
        runs.delete(id);
      }
    },
    async stop(graceMs) {
      // No new steps; the running ones get `graceMs` to finish (their results are stored), then are abandoned.
      stopped = true;
      const all = [...runs.values()];
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(all.map((r) => r.done)), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      for (const run of runs.values()) run.abort.abort(new Error("the service is stopping"));
    },
    get runningCount() {
      return runs.size;
    },
  };
}

function describeFailure(error: unknown): string {
  if (error instanceof HandlerFailure) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
