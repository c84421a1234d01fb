import type { GeneratedFile } from "@bufbuild/protoplugin";
import type { ConsumerModel } from "./consumer-model.js";

const sdk = "@orrery/sdk";

/**
 * Prints the typed stub of one consumer: the handlers interface (one method
 * per rpc, taking the event) and the definition built with `defineConsumer`.
 */
export function generateConsumer(f: GeneratedFile, consumer: ConsumerModel): void {
  const { service, baseName, source } = consumer;
  const ConsumerContext = f.import("ConsumerContext", sdk).toTypeOnly();
  const ConsumerDefinition = f.import("ConsumerDefinition", sdk).toTypeOnly();
  const ConsumerResult = f.import("ConsumerResult", sdk).toTypeOnly();
  const defineConsumer = f.import("defineConsumer", sdk);
  const Service = f.importSchema(service);
  const handlers = `${baseName}Handlers`;

  f.print(f.jsDoc([
    `The handlers of the consumer ${service.typeName}, one per ${consumer.feed === "events" ? "event" : "kind of change"} of "${source}"`,
    "it handles. Return when the event is handled; throw to have it retried with",
    "backoff (later events wait). Delivery is at least once: make effects idempotent.",
    ...(consumer.feed === "states" ? ["", "A change brings the entity's latest state (intermediate ones may be passed over);", "google.protobuf.Empty is a deletion."] : []),
    ...(consumer.ignored.length > 0 ? ["", `Ignored on purpose: ${consumer.ignored.map((e) => e.typeName).join(", ")}.`] : []),
  ].join("\n")));
  f.print(f.export("interface", handlers), " {");
  for (const [i, { method, event }] of consumer.methods.entries()) {
    if (i > 0) f.print();
    f.print(f.jsDoc(method, "  "));
    f.print("  ", method.localName, "(event: ", f.importShape(event), ", ctx: ", ConsumerContext, "): ", ConsumerResult, ";");
  }
  f.print("}");
  f.print();

  const typeArgs = ["<typeof ", Service, ", ", handlers, ">"];
  f.print(f.jsDoc([
    `The consumer ${service.typeName} of the events of "${source}".`,
    `Serve it with \`createService({ components: [..., ${baseName}.implement(handlers)] })\`.`,
  ].join("\n")));
  f.print(f.export("const", baseName), ": ", ConsumerDefinition, typeArgs, " =");
  f.print("  ", defineConsumer, typeArgs, "({");
  f.print("    name: ", f.string(consumer.name), ",");
  f.print("    source: ", f.string(source), ",");
  f.print("    feed: ", f.string(consumer.feed), ",");
  f.print("    service: ", Service, ",");
  f.print("    events: ", f.array(consumer.events.map((e) => f.importSchema(e))), ",");
  f.print("    ignored: ", f.array(consumer.ignored.map((e) => f.string(e.typeName))), ",");
  f.print("    methods: {");
  for (const { method, event } of consumer.methods) f.print("      ", method.localName, ": { event: ", f.string(event.typeName), " },");
  f.print("    },");
  f.print("  });");
}
