import type { GeneratedFile, Printable } from "@bufbuild/protoplugin";
import type { ViewModel } from "./view-model.js";

const sdk = "@orrery/sdk";

/**
 * Prints the typed stub of one view: the update handlers interface (one
 * method per update rpc, given the entity's current row and the update) and
 * the definition built with `defineView`, with each query's compiled plan.
 */
export function generateView(f: GeneratedFile, view: ViewModel): void {
  const { service, baseName } = view;
  const ViewUpdateContext = f.import("ViewUpdateContext", sdk).toTypeOnly();
  const ViewUpdateEffect = f.import("ViewUpdateEffect", sdk).toTypeOnly();
  const ViewDefinition = f.import("ViewDefinition", sdk).toTypeOnly();
  const defineView = f.import("defineView", sdk);
  const Service = f.importSchema(service);
  const handlers = `${baseName}Handlers`;

  f.print(f.jsDoc([
    `The update handlers of the view ${service.typeName}: each gets the source entity's`,
    "current row (undefined when it has none) and the event or state, and returns",
    "ctx.updateRow(row), ctx.deleteRow() or ctx.ignore(). The row is stored in the same",
    "transaction as the view's progress, so each update takes effect exactly once.",
  ].join("\n")));
  f.print(f.export("interface", handlers), " {");
  const updates = view.tables.flatMap((t) => t.updates.map((u) => ({ ...u, table: t })));
  for (const [i, { method, message, table }] of updates.entries()) {
    if (i > 0) f.print();
    f.print(f.jsDoc(method, "  "));
    const Row = f.importShape(table.row);
    f.print("  ", method.localName, "(row: ", Row, " | undefined, update: ", f.importShape(message), ", ctx: ", ViewUpdateContext, "<", Row, ">): ",
      ViewUpdateEffect, "<", Row, "> | Promise<", ViewUpdateEffect, "<", Row, ">>;");
  }
  f.print("}");
  f.print();

  const typeArgs: Printable = ["<typeof ", Service, ", ", handlers, ">"];
  f.print(f.jsDoc([
    `The view ${service.typeName}: its tables, what feeds them, and its queries compiled by buf generate.`,
    `Serve it with \`createService({ components: [..., ${baseName}.implement(handlers)] })\`.`,
  ].join("\n")));
  f.print(f.export("const", baseName), ": ", ViewDefinition, typeArgs, " =");
  f.print("  ", defineView, typeArgs, "({");
  f.print("    name: ", f.string(view.name), ",");
  f.print("    service: ", Service, ",");
  f.print("    tables: [");
  for (const t of view.tables) {
    f.print("      {");
    f.print("        name: ", f.string(t.name), ",");
    f.print("        sqlName: ", f.string(t.sqlName), ",");
    f.print("        row: ", f.importSchema(t.row), ",");
    f.print("        source: ", f.string(t.source), ",");
    f.print("        feed: ", f.string(t.feed), ",");
    f.print("        updates: { ", ...t.updates.flatMap((u, i) => [i > 0 ? ", " : "", f.string(u.message.typeName), ": ", f.string(u.method.localName)]), " },");
    f.print("        ignored: ", f.array(t.ignored.map((m) => f.string(m.typeName))), ",");
    f.print("        messages: ", f.array(t.messages.map((m) => f.importSchema(m))), ",");
    f.print("        indexes: ", f.array(t.indexes.map((sql) => f.string(sql))), ",");
    f.print("      },");
  }
  f.print("    ],");
  f.print("    queries: {");
  for (const { method, plan } of view.queries) f.print("      ", method.localName, ": ", JSON.stringify(plan), ",");
  f.print("    },");
  f.print("  });");
}
