import type { GeneratedFile } from "@bufbuild/protoplugin";
import type { KeyValueEntityModel } from "./key-value-entity-model.js";

const sdk = "@orrery/sdk";

/**
 * Prints the typed stub of one key-value entity: its state and context
 * types, the handlers interface (one method per rpc) and the entity
 * definition built with `defineKeyValueEntity` from `@orrery/sdk`.
 */
export function generateKeyValueEntity(f: GeneratedFile, entity: KeyValueEntityModel): void {
  const { service, baseName, type } = entity;
  const KeyValueCommandContext = f.import("KeyValueCommandContext", sdk).toTypeOnly();
  const KeyValueEntityBehavior = f.import("KeyValueEntityBehavior", sdk).toTypeOnly();
  const KeyValueEntityDefinition = f.import("KeyValueEntityDefinition", sdk).toTypeOnly();
  const KeyValueHandlerResult = f.import("KeyValueHandlerResult", sdk).toTypeOnly();
  const defineKeyValueEntity = f.import("defineKeyValueEntity", sdk);
  const State = f.importShape(entity.state);
  const Service = f.importSchema(service);
  const names = { state: `${baseName}State`, context: `${baseName}Context`, handlers: `${baseName}Handlers` };

  f.print(f.jsDoc(`The state of the key-value entity "${type}" (${service.typeName}).`));
  f.print(f.export("type", names.state), " = ", State, ";");
  f.print(f.jsDoc(`The command context of the entity "${type}"${entity.claims === undefined ? "" : `; its principal's claims are ${entity.claims.typeName}`}.`));
  const claims = entity.claims === undefined ? [] : [", ", f.importShape(entity.claims)];
  f.print(f.export("type", names.context), " = ", KeyValueCommandContext, "<", State, ...claims, ">;");
  f.print();

  f.print(f.jsDoc([
    `The command handlers of the key-value entity "${type}", one per rpc of`,
    `${service.typeName}. Each handler decides from the state and the command`,
    "what to store (ctx.updateState), whether to delete, and what to reply.",
    "",
    `Implement them with \`${baseName}.implement({ ... })\`.`,
  ].join("\n")));
  f.print(f.export("interface", names.handlers), " extends ", KeyValueEntityBehavior, "<", State, "> {");
  for (const [i, { method }] of entity.methods.entries()) {
    if (i > 0) f.print();
    f.print(f.jsDoc(method, "  "));
    f.print("  ", method.localName, "(state: ", State, ", command: ", f.importShape(method.input), ", ctx: ", names.context, "): ",
      KeyValueHandlerResult, "<", f.importShape(method.output), ", ", State, ">;");
  }
  f.print("}");
  f.print();

  const typeArgs = ["<typeof ", Service, ", ", State, ", ", names.handlers, ">"];
  f.print(f.jsDoc([
    `The key-value entity "${type}" (${service.typeName}): its state, and per rpc`,
    "the entity key field and whether it is read-only.",
    `Serve it with \`createService({ components: [${baseName}.implement(handlers)] })\`.`,
  ].join("\n")));
  f.print(f.export("const", baseName), ": ", KeyValueEntityDefinition, typeArgs, " =");
  f.print("  ", defineKeyValueEntity, typeArgs, "({");
  f.print("    type: ", f.string(type), ",");
  f.print("    service: ", Service, ",");
  f.print("    state: ", f.importSchema(entity.state), ",");
  if (entity.claims !== undefined) f.print("    claims: ", f.importSchema(entity.claims), ",");
  f.print("    methods: {");
  for (const { method, entityKey, readOnly } of entity.methods) {
    f.print("      ", method.localName, ": { entityKey: ", f.string(entityKey.localName), ", readOnly: ", readOnly, " },");
  }
  f.print("    },");
  f.print("  });");
}
