export { createWorkflowEngine } from "./workflow-engine.js";
export type { WorkflowEngine, WorkflowEngineOptions } from "./workflow-engine.js";
export { createWorkflowSweeper } from "./workflow-sweeper.js";
export type { WorkflowSweeper, WorkflowSweeperOptions } from "./workflow-sweeper.js";
export { WORKFLOW_RECORD_TYPE } from "./workflow-codec.js";
