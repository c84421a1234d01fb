import type { DescService, Registry } from "@bufbuild/protobuf";
import type { WorkflowOptions } from "./gen/orrery/v1/options_pb.js";
import { readStateComponent } from "./key-value-entity-model.js";
import type { StateComponentModel } from "./key-value-entity-model.js";
import type { ProblemReport } from "./problem-report.js";

/** Everything the generator needs about one workflow service, validated. */
export interface WorkflowModel extends StateComponentModel<"workflow"> {}

/**
 * Validates a `workflow` option and the service's rpcs (each one a command
 * that starts, steers or reads the workflow, keyed by the workflow id),
 * recording every problem in `report`. Returns the model only when nothing is wrong.
 */
export function readWorkflow(service: DescService, options: WorkflowOptions, registry: Registry, report: ProblemReport): WorkflowModel | undefined {
  // Members of WorkflowBehavior in @orrery/sdk; an rpc may not take their names.
  const behaviorMembers = ["initialState", "steps", "timeout", "stepDefaults"];
  return readStateComponent("workflow", { option: "workflow", noun: "workflow", kindName: "a workflow", behaviorMembers }, service, options, registry, report);
}
