export { EventSourcedTestKit } from "./event-sourced-test-kit.js";
export type { TestCommandResult, TestKitOptions } from "./event-sourced-test-kit.js";
export { TestTimers } from "./test-timers.js";
export type { TestTimer } from "./test-timers.js";
export { KeyValueTestKit } from "./key-value-test-kit.js";
export type { KeyValueTestResult } from "./key-value-test-kit.js";
export { WorkflowTestKit } from "./workflow-test-kit.js";
export type { StepAttempt, WorkflowTestResult } from "./workflow-test-kit.js";
