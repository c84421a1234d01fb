import type { GeneratedFile } from "@bufbuild/protoplugin";
import type { WorkflowModel } from "./workflow-model.js";

const sdk = "@orrery/sdk";

/**
 * Prints the typed stub of one workflow: its state, context and step types,
 * the handlers interface (one command handler per rpc, plus the steps) and
 * the definition built with `defineWorkflow` from `@orrery/sdk`.
 */
export function generateWorkflow(f: GeneratedFile, workflow: WorkflowModel): void {
  const { service, baseName, type } = workflow;
  const WorkflowCommandContext = f.import("WorkflowCommandContext", sdk).toTypeOnly();
  const StepContext = f.import("StepContext", sdk).toTypeOnly();
  const WorkflowStep = f.import("WorkflowStep", sdk).toTypeOnly();
  const WorkflowBehavior = f.import("WorkflowBehavior", sdk).toTypeOnly();
  const WorkflowDefinition = f.import("WorkflowDefinition", sdk).toTypeOnly();
  const WorkflowHandlerResult = f.import("WorkflowHandlerResult", sdk).toTypeOnly();
  const defineWorkflow = f.import("defineWorkflow", sdk);
  const State = f.importShape(workflow.state);
  const Service = f.importSchema(service);
  const names = {
    state: `${baseName}State`, context: `${baseName}Context`, stepContext: `${baseName}StepContext`,
    step: `${baseName}Step`, handlers: `${baseName}Handlers`,
  };

  f.print(f.jsDoc(`The state of the workflow "${type}" (${service.typeName}).`));
  f.print(f.export("type", names.state), " = ", State, ";");
  f.print(f.jsDoc(`The command context of the workflow "${type}".`));
  f.print(f.export("type", names.context), " = ", WorkflowCommandContext, "<", State, ">;");
  f.print(f.jsDoc(`What a step of the workflow "${type}" gets besides the state and its input.`));
  f.print(f.export("type", names.stepContext), " = ", StepContext, "<", State, ">;");
  f.print(f.jsDoc(`A step of the workflow "${type}"; \`Input\` is its input message, when it declares one.`));
  f.print(f.export("type", names.step), "<Input = undefined> = ", WorkflowStep, "<", State, ", Input>;");
  f.print();

  f.print(f.jsDoc([
    `The command handlers and steps of the workflow "${type}", one handler per`,
    `rpc of ${service.typeName}: a handler starts the workflow`,
    "(ctx.start(state).transitionTo(step)), steers it (transitionTo, pause, end,",
    "fail) or reads it (ctx.reply). The steps do the work, each returning the",
    "next transition; every step's result is stored before the next one runs.",
    "",
    `Implement them with \`${baseName}.implement({ ..., steps: { ... } })\`.`,
  ].join("\n")));
  f.print(f.export("interface", names.handlers), " extends ", WorkflowBehavior, "<", State, "> {");
  for (const [i, { method }] of workflow.methods.entries()) {
    if (i > 0) f.print();
    f.print(f.jsDoc(method, "  "));
    f.print("  ", method.localName, "(state: ", State, ", command: ", f.importShape(method.input), ", ctx: ", names.context, "): ",
      WorkflowHandlerResult, "<", f.importShape(method.output), ", ", State, ">;");
  }
  f.print("}");
  f.print();

  const typeArgs = ["<typeof ", Service, ", ", State, ", ", names.handlers, ">"];
  f.print(f.jsDoc([
    `The workflow "${type}" (${service.typeName}): its state, and per rpc the`,
    "workflow id field and whether it is read-only.",
    `Serve it with \`createService({ components: [${baseName}.implement(handlers)] })\`.`,
  ].join("\n")));
  f.print(f.export("const", baseName), ": ", WorkflowDefinition, typeArgs, " =");
  f.print("  ", defineWorkflow, typeArgs, "({");
  f.print("    type: ", f.string(type), ",");
  f.print("    service: ", Service, ",");
  f.print("    state: ", f.importSchema(workflow.state), ",");
  f.print("    methods: {");
  for (const { method, entityKey, readOnly } of workflow.methods) {
    f.print("      ", method.localName, ": { entityKey: ", f.string(entityKey.localName), ", readOnly: ", readOnly, " },");
  }
  f.print("    },");
  f.print("  });");
}
