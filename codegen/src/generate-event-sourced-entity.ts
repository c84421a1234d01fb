import type { GeneratedFile, Printable } from "@bufbuild/protoplugin";
import type { EventSourcedEntityModel } from "./event-sourced-entity-model.js";

const sdk = "@orrery/sdk";

/**
 * Prints the typed stub of one event-sourced entity: its state, event and
 * context types, the handlers interface (one method per rpc) and the entity
 * definition built with `defineEventSourcedEntity` from `@orrery/sdk`.
 */
export function generateEventSourcedEntity(f: GeneratedFile, entity: EventSourcedEntityModel): void {
  const { service, baseName, type } = entity;
  const CommandContext = f.import("CommandContext", sdk).toTypeOnly();
  const EventSourcedEntityBehavior = f.import("EventSourcedEntityBehavior", sdk).toTypeOnly();
  const EventSourcedEntityDefinition = f.import("EventSourcedEntityDefinition", sdk).toTypeOnly();
  const HandlerResult = f.import("HandlerResult", sdk).toTypeOnly();
  const defineEventSourcedEntity = f.import("defineEventSourcedEntity", sdk);
  const State = f.importShape(entity.state);
  const Service = f.importSchema(service);
  const names = {
    state: `${baseName}State`,
    event: `${baseName}Event`,
    context: `${baseName}Context`,
    handlers: `${baseName}Handlers`,
  };

  f.print(f.jsDoc(`The state of the event-sourced entity "${type}" (${service.typeName}).`));
  f.print(f.export("type", names.state), " = ", State, ";");
  f.print(f.jsDoc(`Every event the entity "${type}" persists.`));
  f.print(f.export("type", names.event), " = ", join(entity.events.map((e) => f.importShape(e)), " | "), ";");
  f.print(f.jsDoc(`The command context of the entity "${type}"${entity.claims === undefined ? "" : `; its principal's claims are ${entity.claims.typeName}`}.`));
  const claims = entity.claims === undefined ? [] : [", ", f.importShape(entity.claims)];
  f.print(f.export("type", names.context), " = ", CommandContext, "<", State, ", ", names.event, ...claims, ">;");
  f.print();

  f.print(f.jsDoc(handlersDoc(entity)));
  f.print(f.export("interface", names.handlers), " extends ", EventSourcedEntityBehavior, "<", State, ", ", names.event, "> {");
  for (const [i, { method }] of entity.methods.entries()) {
    if (i > 0) f.print();
    f.print(f.jsDoc(method, "  "));
    f.print("  ", method.localName, "(state: ", State, ", command: ", f.importShape(method.input), ", ctx: ", names.context, "): ",
      HandlerResult, "<", f.importShape(method.output), ", ", State, ", ", names.event, ">;");
  }
  f.print("}");
  f.print();

  const typeArgs: Printable = ["<typeof ", Service, ", ", State, ", ", names.event, ", ", names.handlers, ">"];
  f.print(f.jsDoc(definitionDoc(entity)));
  f.print(f.export("const", baseName), ": ", EventSourcedEntityDefinition, typeArgs, " =");
  f.print("  ", defineEventSourcedEntity, typeArgs, "({");
  f.print("    type: ", f.string(type), ",");
  f.print("    service: ", Service, ",");
  f.print("    state: ", f.importSchema(entity.state), ",");
  f.print("    events: ", f.array(entity.events.map((e) => f.importSchema(e))), ",");
  f.print("    snapshotEvery: ", entity.snapshotEvery, ",");
  if (entity.claims !== undefined) f.print("    claims: ", f.importSchema(entity.claims), ",");
  f.print("    methods: {");
  for (const { method, entityKey, readOnly } of entity.methods) {
    f.print("      ", method.localName, ": { entityKey: ", f.string(entityKey.localName), ", readOnly: ", readOnly, " },");
  }
  f.print("    },");
  f.print("  });");
}

function handlersDoc({ type, baseName, service }: EventSourcedEntityModel): string {
  return [
    `The command handlers of the entity "${type}", one per rpc of`,
    `${service.typeName}, plus applyEvent. Each handler decides from`,
    "the state and the command what to persist and what to reply.",
    "",
    `Implement them with \`${baseName}.implement({ ... })\`. applyEvent(state, event)`,
    "must be pure: it runs again whenever the entity is recovered from its journal.",
  ].join("\n");
}

function definitionDoc({ type, baseName, service }: EventSourcedEntityModel): string {
  return [
    `The entity "${type}" (${service.typeName}): its state, its`,
    "events, and per rpc the entity key field and whether it is read-only.",
    `Serve it with \`createService({ components: [${baseName}.implement(handlers)] })\`.`,
  ].join("\n");
}

function join(items: Printable[], separator: string): Printable[] {
  return items.flatMap((item, i) => (i === 0 ? [item] : [separator, item]));
}
