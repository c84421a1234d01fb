// For component authors.
export { defineEventSourcedEntity } from "./event-sourced-entity.js";
export type {
  EventSourcedEntity,
  EventSourcedEntityBehavior,
  EventSourcedEntityDefinition,
  EventSourcedEntityOptions,
  EventSourcedEntitySpec,
  MethodSpec,
} from "./event-sourced-entity.js";
export { defineKeyValueEntity } from "./key-value-entity.js";
export type { KeyValueEntity, KeyValueEntityBehavior, KeyValueEntityDefinition, KeyValueEntitySpec } from "./key-value-entity.js";
export type { KeyValueCommandContext } from "./key-value-context.js";
export type { KeyValueEffect, KeyValueHandlerResult, KeyValueReplyEffect, StateEffect } from "./key-value-effect.js";
export type {
  CompiledViewQuery,
  Coercion,
  CountSource,
  FieldPath,
  IndexSuggestion,
  QueryParameter,
  QueryResultShape,
  QueryTable,
  ResponseField,
  ScalarCoercion,
} from "./view-query-plan.js";
export { createViewUpdateContext, defineView } from "./view.js";
export type { AnyViewUpdateHandler, View, ViewDefinition, ViewSpec, ViewTableSpec, ViewUpdateContext, ViewUpdateEffect } from "./view.js";
export { defineWorkflow } from "./workflow.js";
export type { RetryPolicy, StepTarget, Workflow, WorkflowBehavior, WorkflowDefinition, WorkflowSpec, WorkflowStep } from "./workflow.js";
export type { StepContext, WorkflowCommandContext, WorkflowProgress, WorkflowStatus } from "./workflow-context.js";
export type {
  CommandStateEffect,
  PauseOptions,
  StepEffect,
  StepResult,
  ThenReply,
  Transition,
  Transitions,
  WorkflowEffect,
  WorkflowHandlerResult,
  WorkflowReplyEffect,
} from "./workflow-effect.js";
export { defineConsumer } from "./consumer.js";
export type { AnyConsumerHandler, Consumer, ConsumerContext, ConsumerDefinition, ConsumerMethodSpec, ConsumerResult, ConsumerSpec } from "./consumer.js";
export type { CommandContext } from "./command-context.js";
export type { Effect, ErrorEffect, HandlerResult, PersistEffect, ReplyEffect } from "./effect.js";
export type { ComponentClient } from "./component-client.js";
export type { JwtClaims, Principal } from "./principal.js";
export { IDEMPOTENCY_KEY_HEADER } from "./component-client.js";
export type { CommandTimers, TimerTarget, Timers, TimerWhen } from "./timers.js";
export { Code, ConnectError } from "@connectrpc/connect";

// For runtimes and test kits; component authors do not need these.
export { createCommandContext } from "./command-context.js";
export { attachPrincipal, principalOf } from "./principal.js";
export type { CommandContextInit } from "./command-context.js";
export { errorEffect, persistEffect } from "./effect.js";
export { HandlerFailure, initialState, processCommand } from "./command-processor.js";
export type { CommandInput, CommandOutcome, HandlerFailurePhase } from "./command-processor.js";
export type { AnyCommandHandler } from "./event-sourced-entity.js";
export { createKeyValueCommandContext } from "./key-value-context.js";
export type { KeyValueCommandContextInit } from "./key-value-context.js";
export { initialKeyValueState, processKeyValueCommand } from "./key-value-processor.js";
export type { KeyValueCommandInput, KeyValueOutcome } from "./key-value-processor.js";
export type { AnyKeyValueHandler } from "./key-value-entity.js";
export { createStepContext, createWorkflowCommandContext } from "./workflow-context.js";
export type { StepContextInit, WorkflowCommandContextInit } from "./workflow-context.js";
export {
  DEFAULT_STEP_TIMEOUT_MS,
  applyStepEffect,
  beginAttempt,
  dueAction,
  endPause,
  failStep,
  newWorkflowRecord,
  nextWakeAt,
  processWorkflowCommand,
  progressOf,
  runWorkflowStep,
  stepCallKey,
  stepTimeoutMs,
  timeOut,
} from "./workflow-processor.js";
export type { CurrentStep, StepRunInput, WorkflowCommandInput, WorkflowCommandOutcome, WorkflowRecord } from "./workflow-processor.js";
export { WORKFLOW_BEHAVIOR_MEMBERS } from "./workflow.js";
export type { AnyWorkflowHandler } from "./workflow.js";
export { checkTimerName, dueTime, recordTimers, timerSchedule } from "./timers.js";
export type { TimerChange } from "./timers.js";
