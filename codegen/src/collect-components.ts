import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescFile, DescService, Registry } from "@bufbuild/protobuf";
import { component, ComponentOptionsSchema } from "./gen/orrery/v1/options_pb.js";
import type { EventSourcedEntityModel } from "./event-sourced-entity-model.js";
import { readEventSourcedEntity } from "./event-sourced-entity-model.js";
import type { ConsumerModel } from "./consumer-model.js";
import { readConsumer } from "./consumer-model.js";
import type { KeyValueEntityModel } from "./key-value-entity-model.js";
import type { ViewModel } from "./view-model.js";
import { readView } from "./view-model.js";
import { readKeyValueEntity } from "./key-value-entity-model.js";
import { readWorkflow } from "./workflow-model.js";
import type { WorkflowModel } from "./workflow-model.js";
import { checkServiceAccess, readClaimsMessage } from "./access-options.js";
import { checkRouteConflicts } from "./http-rule-check.js";
import type { HttpRoute } from "./http-rule-check.js";
import { unsupportedOption } from "./option-support.js";
import type { Fail } from "./entity-methods.js";
import type { ProblemReport } from "./problem-report.js";
import { pluginName, pluginVersion } from "./version.js";

/**
 * Finds every service in `files` that carries `option (orrery.v1.component)`,
 * validates it, and groups the valid components by proto file.
 * Services without the option are ignored. Problems go to `report`, including
 * ones that span services (two components with one `type`).
 */
export function collectComponents(
  files: readonly DescFile[],
  registry: Registry,
  report: ProblemReport,
  /** Every file of the run, imports included: where a consumer's source is looked up. */
  allFiles: readonly DescFile[] = files,
): Map<DescFile, ComponentModel[]> {
  const byFile = new Map<DescFile, ComponentModel[]>();
  const byType = new Map<string, DescService>();
  const routes: HttpRoute[] = [];
  for (const file of files) {
    const baseNames = new Map<string, DescService>();
    /** Reports a component whose generated names clash with an earlier one's in the same file. */
    const clashes = (model: ComponentModel): boolean => {
      const sameBase = baseNames.get(model.baseName);
      if (sameBase !== undefined) {
        report.add(
          { service: model.service },
          `its generated names (${model.baseName}, ${model.baseName}Handlers, ...) clash with those of service ${sameBase.typeName} in the same file`,
          "rename one of the services, or move it to its own file",
        );
        return true;
      }
      baseNames.set(model.baseName, model.service);
      return false;
    };
    for (const service of file.services) {
      if (!hasOption(service, component)) continue;
      const { kind } = getOption(service, component);
      if (kind.case === undefined) {
        report.add({ service, option: "(orrery.v1.component)" }, "the option declares no component kind", "set event_sourced_entity { type, state, events }, key_value_entity { type, state }, workflow { type, state }, view {} or consumer { source } in the option");
        continue;
      }
      const kindName = ComponentOptionsSchema.fields.find((f) => f.localName === kind.case)?.name ?? kind.case;
      const unsupported = unsupportedOption("ComponentOptions", kindName);
      if (unsupported !== undefined || (kind.case !== "eventSourcedEntity" && kind.case !== "keyValueEntity" && kind.case !== "workflow" && kind.case !== "consumer" && kind.case !== "view")) {
        report.add(
          { service, option: `(orrery.v1.component).${kindName}` },
          `${kindName} is not supported yet by ${pluginName} ${pluginVersion}; only event_sourced_entity, key_value_entity, workflow, consumer and view are`,
          unsupported?.fix ?? "declare the service as an event_sourced_entity, a key_value_entity or a consumer",
        );
        continue;
      }
      const fail: Fail = (site, problem, fix) => report.add({ service, ...site }, problem, fix);
      checkServiceAccess(service, kind.case === "consumer" ? "a consumer's rpcs are not served there" : undefined, fail);
      if (kind.case === "view" || kind.case === "consumer") readClaimsMessage(service, kind.case === "view" ? "a view" : "a consumer", registry, fail);
      if (kind.case === "view") {
        const view = readView(service, kind.value, allFiles, registry, report);
        if (view !== undefined && !clashes(view)) {
          byFile.set(file, [...(byFile.get(file) ?? []), view]);
          routes.push(...view.routes);
        }
        continue;
      }
      if (kind.case === "consumer") {
        const consumer = readConsumer(service, kind.value, allFiles, registry, report);
        if (consumer !== undefined && !clashes(consumer)) byFile.set(file, [...(byFile.get(file) ?? []), consumer]);
        continue;
      }
      const type = kind.value.type.trim();
      const other = byType.get(type);
      if (type !== "" && other !== undefined) {
        report.add(
          { service, option: `(orrery.v1.component).${kindName}.type` },
          `type "${type}" is also declared by service ${other.typeName} in ${other.file.proto.name}; a component type names one component`,
          "give one of the two services another type",
        );
      } else if (type !== "") {
        byType.set(type, service);
      }
      const entity = kind.case === "eventSourcedEntity"
        ? readEventSourcedEntity(service, kind.value, registry, report)
        : kind.case === "workflow"
          ? readWorkflow(service, kind.value, registry, report)
          : readKeyValueEntity(service, kind.value, registry, report);
      if (entity === undefined) continue;
      if (clashes(entity)) continue;
      byFile.set(file, [...(byFile.get(file) ?? []), entity]);
      routes.push(...entity.methods.flatMap((m) => m.routes));
    }
  }
  // One server may serve every component generated here: their REST routes must not clash.
  checkRouteConflicts(routes, ({ method, option }, problem, fix) => report.add({ service: method.parent, method, option }, problem, fix));
  return byFile;
}

/** A validated component of any kind the plugin generates. */
export type ComponentModel = EventSourcedEntityModel | KeyValueEntityModel | WorkflowModel | ConsumerModel | ViewModel;
