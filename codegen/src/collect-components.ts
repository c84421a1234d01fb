import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescFile, DescService, Registry } from "@bufbuild/protobuf";
import { component, ComponentOptionsSchema } from "./gen/orrery/v1/options_pb.js";
import type { EventSourcedEntityModel } from "./event-sourced-entity-model.js";
import { readEventSourcedEntity } from "./event-sourced-entity-model.js";
import { checkRouteConflicts } from "./http-rule-check.js";
import type { HttpRoute } from "./http-rule-check.js";
import { unsupportedOption } from "./option-support.js";
import type { ProblemReport } from "./problem-report.js";
import { pluginName, pluginVersion } from "./version.js";

/**
 * Finds every service in `files` that carries `option (orrery.v1.component)`,
 * validates it, and groups the valid event-sourced entities by proto file.
 * Services without the option are ignored. Problems go to `report`, including
 * ones that span services (two components with one `type`).
 */
export function collectComponents(
  files: readonly DescFile[],
  registry: Registry,
  report: ProblemReport,
): Map<DescFile, EventSourcedEntityModel[]> {
  const byFile = new Map<DescFile, EventSourcedEntityModel[]>();
  const byType = new Map<string, DescService>();
  const routes: HttpRoute[] = [];
  for (const file of files) {
    const baseNames = new Map<string, DescService>();
    for (const service of file.services) {
      if (!hasOption(service, component)) continue;
      const { kind } = getOption(service, component);
      if (kind.case === undefined) {
        report.add({ service, option: "(orrery.v1.component)" }, "the option declares no component kind", "set event_sourced_entity { type, state, events } in the option");
        continue;
      }
      const kindName = ComponentOptionsSchema.fields.find((f) => f.localName === kind.case)?.name ?? kind.case;
      const unsupported = unsupportedOption("ComponentOptions", kindName);
      if (unsupported !== undefined || kind.case !== "eventSourcedEntity") {
        report.add(
          { service, option: `(orrery.v1.component).${kindName}` },
          `${kindName} is not supported yet by ${pluginName} ${pluginVersion}; only event_sourced_entity is`,
          unsupported?.fix ?? "declare the service as an event_sourced_entity",
        );
        continue;
      }
      const type = kind.value.type.trim();
      const other = byType.get(type);
      if (type !== "" && other !== undefined) {
        report.add(
          { service, option: "(orrery.v1.component).event_sourced_entity.type" },
          `type "${type}" is also declared by service ${other.typeName} in ${other.file.proto.name}; a component type names one component`,
          "give one of the two services another type",
        );
      } else if (type !== "") {
        byType.set(type, service);
      }
      const entity = readEventSourcedEntity(service, kind.value, registry, report);
      if (entity === undefined) continue;
      const sameBase = baseNames.get(entity.baseName);
      if (sameBase !== undefined) {
        report.add(
          { service },
          `its generated names (${entity.baseName}, ${entity.baseName}Handlers, ...) clash with those of service ${sameBase.typeName} in the same file`,
          "rename one of the services, or move it to its own file",
        );
        continue;
      }
      baseNames.set(entity.baseName, service);
      routes.push(...entity.routes);
      byFile.set(file, [...(byFile.get(file) ?? []), entity]);
    }
  }
  // One server may serve every component generated here: their REST routes must not clash.
  checkRouteConflicts(routes, ({ method, option }, problem, fix) => report.add({ service: method.parent, method, option }, problem, fix));
  return byFile;
}
