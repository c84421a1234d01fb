import { createRegistry } from "@bufbuild/protobuf";
import { createEcmaScriptPlugin } from "@bufbuild/protoplugin";
import type { Schema } from "@bufbuild/protoplugin";
import { collectComponents } from "./collect-components.js";
import { generateConsumer } from "./generate-consumer.js";
import { generateEventSourcedEntity } from "./generate-event-sourced-entity.js";
import { generateKeyValueEntity } from "./generate-key-value-entity.js";
import { generateWorkflow } from "./generate-workflow.js";
import { generateView } from "./generate-view.js";
import { createProblemReport } from "./problem-report.js";
import { pluginName, pluginVersion } from "./version.js";

/**
 * protoc-gen-orrery: for every proto file with a service carrying
 * `option (orrery.v1.component)`, writes `<file>_orrery.ts` next to
 * protoc-gen-es's `<file>_pb.ts`. Mistakes in the options fail the whole run
 * with an {@link OrreryCodegenError} that lists all of them.
 *
 * @example
 * // buf.gen.yaml
 * // - local: protoc-gen-orrery
 * //   out: src/gen
 * //   opt: [target=ts, import_extension=js]
 */
export const protocGenOrrery = createEcmaScriptPlugin({
  name: pluginName,
  version: pluginVersion,
  generateTs,
});

function generateTs(schema: Schema): void {
  const report = createProblemReport();
  // Option values name messages from any file in the request, imports included.
  const registry = createRegistry(...schema.allFiles);
  const componentsByFile = collectComponents(schema.files, registry, report, schema.allFiles);
  report.throwIfAny();
  for (const [file, components] of componentsByFile) {
    const f = schema.generateFile(`${file.name}_orrery.ts`);
    f.preamble(file);
    for (const [i, component] of components.entries()) {
      if (i > 0) f.print();
      if (component.kind === "event-sourced-entity") generateEventSourcedEntity(f, component);
      else if (component.kind === "key-value-entity") generateKeyValueEntity(f, component);
      else if (component.kind === "workflow") generateWorkflow(f, component);
      else if (component.kind === "consumer") generateConsumer(f, component);
      else generateView(f, component);
    }
  }
}
