import { createHash } from "node:crypto";
import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescFile, DescMessage, DescMethod, DescService, Registry } from "@bufbuild/protobuf";
import type { CompiledViewQuery } from "@orrery/sdk";
import { findComponent, unknownSource } from "./consumer-model.js";
import type { Fail } from "./entity-methods.js";
import { checkMethodAccess } from "./access-options.js";
import { entityBaseName, kebab, lookupMessage, rejectUnsupportedMethodOptions } from "./entity-methods.js";
import { readEventSourcedEntity } from "./event-sourced-entity-model.js";
import { component, field as fieldSettings, method as methodSettings } from "./gen/orrery/v1/options_pb.js";
import type { ViewOptions } from "./gen/orrery/v1/options_pb.js";
import { checkHttpRule, rejectHttpRule } from "./http-rule-check.js";
import type { HttpRoute } from "./http-rule-check.js";
import { pluginName, pluginVersion } from "./version.js";
import { readKeyValueEntity } from "./key-value-entity-model.js";
import { createProblemReport } from "./problem-report.js";
import type { ProblemReport } from "./problem-report.js";
import { planViewQuery, viewTableName, ViewQueryError } from "./view-query/index.js";

/** One table of a view, fed by one source through its update methods. */
export interface ViewTableModel {
  readonly name: string;
  readonly sqlName: string;
  readonly row: DescMessage;
  readonly source: string;
  readonly feed: "events" | "states";
  /** The source's messages: its events, or its state. */
  readonly messages: readonly DescMessage[];
  readonly updates: ReadonlyArray<{ readonly method: DescMethod; readonly message: DescMessage }>;
  readonly ignored: readonly DescMessage[];
  readonly indexes: readonly string[];
}

/** Everything the generator needs about one view service, validated. */
export interface ViewModel {
  readonly kind: "view";
  readonly service: DescService;
  /**
   * The name its tables and progress are stored under: the service name in
   * snake case and a hash of the definition, so a changed view is rebuilt into new tables.
   */
  readonly name: string;
  readonly baseName: string;
  readonly tables: readonly ViewTableModel[];
  readonly queries: ReadonlyArray<{ readonly method: DescMethod; readonly plan: CompiledViewQuery }>;
  /** The REST routes of its query methods (google.api.http), for the route-conflict check. */
  readonly routes: readonly HttpRoute[];
}

const tableName = /^[a-z][a-z0-9_]*$/;

/**
 * Validates a view: its update methods (view_update { source, table }: unary,
 * taking an event of an event-sourced source or the state of a key-value one,
 * returning the table's row; every event of an event-sourced source handled
 * or in the view's `ignore`) and its query methods, each query parsed and
 * type-checked against the tables' rows and the method's messages.
 */
export function readView(
  service: DescService,
  options: ViewOptions,
  allFiles: readonly DescFile[],
  registry: Registry,
  report: ProblemReport,
): ViewModel | undefined {
  let ok = true;
  const fail: Fail = (site, problem, fix) => {
    report.add({ service, ...site }, problem, fix);
    ok = false;
  };
  const baseName = kebab(service.name).replace(/-/g, "_");
  const ignore: DescMessage[] = [];
  for (const entry of options.ignore) {
    const message = lookupMessage(service, registry, "(orrery.v1.component).view.ignore", entry, fail);
    if (message !== undefined) ignore.push(message);
  }
  const tables = new Map<string, { row: DescMessage; source: string; feed: "events" | "states"; messages: readonly DescMessage[]; updates: Array<{ method: DescMethod; message: DescMessage }> }>();
  const queryMethods: DescMethod[] = [];
  const routes: HttpRoute[] = [];
  for (const method of service.methods) {
    rejectUnsupportedMethodOptions(method, fail);
    const settings = hasOption(method, methodSettings) ? getOption(method, methodSettings) : undefined;
    const update = settings?.viewUpdate;
    const query = settings?.viewQuery;
    if (update !== undefined && query !== undefined) {
      fail({ method }, "the rpc has both view_update and view_query", "give each rpc one of them");
      continue;
    }
    checkMethodAccess(method, query === undefined && update !== undefined ? "a view's update rpcs are not served there" : undefined, fail);
    if (query !== undefined) {
      queryMethods.push(method);
      routes.push(...checkHttpRule(method, fail));
      continue;
    }
    // An update method answers UNIMPLEMENTED when called: a route to it would only ever fail.
    rejectHttpRule(method, "a view_update rpc is fed by its source and cannot be called, so a REST route to it would always fail", fail);
    if (update === undefined) {
      fail({ method }, "the rpc has neither view_update nor view_query", 'mark it option (orrery.v1.method).view_update = { source: "...", table: "..." } or .view_query = { query: "SELECT ..." }');
      continue;
    }
    const where = { method, option: "(orrery.v1.method).view_update" };
    if (method.methodKind !== "unary") fail({ method }, `the rpc is ${method.methodKind.replace("_", "-")}, but an update method is unary`, "drop `stream` from the rpc");
    const table = update.table.trim();
    if (!tableName.test(table)) {
      fail({ ...where, option: "(orrery.v1.method).view_update.table" }, table === "" ? "no table is named" : `table "${table}" is not a lower-case name`, 'name the table the method updates, e.g. table: "customers"');
      continue;
    }
    const source = update.source.trim();
    const found = source === "" ? undefined : findComponent(allFiles, source, service);
    if (found === undefined) {
      fail({ ...where, option: "(orrery.v1.method).view_update.source" }, source === "" ? "no source is named" : unknownSource(allFiles, source),
        "name the type of the event-sourced or key-value entity that feeds the table");
      continue;
    }
    const { kind } = getOption(found, component);
    let feed: "events" | "states";
    let messages: readonly DescMessage[];
    if (kind.case === "eventSourcedEntity") {
      const model = readEventSourcedEntity(found, kind.value, registry, createProblemReport());
      if (model === undefined) continue;
      feed = "events";
      messages = model.events;
    } else if (kind.case === "keyValueEntity") {
      const model = readKeyValueEntity(found, kind.value, registry, createProblemReport());
      if (model === undefined) continue;
      feed = "states";
      messages = [model.state];
    } else {
      fail({ ...where, option: "(orrery.v1.method).view_update.source" }, `"${source}" is ${found.typeName}, a ${kind.case ?? "component"}; a view is fed by an event-sourced or a key-value entity`, "name an entity's type");
      continue;
    }
    if (!messages.includes(method.input)) {
      fail(where, `the rpc takes ${method.input.typeName}, which is not ${feed === "events" ? `an event of "${source}" (${messages.map((m) => m.typeName).join(", ")})` : `the state of "${source}" (${messages[0]!.typeName})`}`,
        `make the rpc's request ${feed === "events" ? "one of the source's events" : messages[0]!.typeName}`);
      continue;
    }
    const existing = tables.get(table);
    if (existing === undefined) {
      tables.set(table, { row: method.output, source, feed, messages, updates: [{ method, message: method.input }] });
      continue;
    }
    if (existing.source !== source) {
      fail(where, `table ${table} is fed by "${existing.source}" (rpc ${existing.updates[0]!.method.name}); a table has one source`, "give this source its own table");
    } else if (existing.row !== method.output) {
      fail(where, `the rpc returns ${method.output.typeName}, but table ${table}'s rows are ${existing.row.typeName} (rpc ${existing.updates[0]!.method.name})`, `return ${existing.row.typeName}`);
    } else if (existing.updates.some((u) => u.message === method.input)) {
      fail(where, `${method.input.typeName} already updates table ${table} (rpc ${existing.updates.find((u) => u.message === method.input)!.method.name})`, "handle each message of the source in one rpc per table");
    } else {
      existing.updates.push({ method, message: method.input });
    }
  }
  const name = `${baseName}_${definitionHash(options.version, tables)}`;
  const tableModels: ViewTableModel[] = [];
  for (const [table, t] of tables) {
    const ignored = t.feed === "events" ? t.messages.filter((m) => ignore.includes(m)) : [];
    const missing = t.feed === "events" ? t.messages.filter((m) => !ignored.includes(m) && !t.updates.some((u) => u.message === m)) : [];
    if (missing.length > 0) {
      fail({ option: "(orrery.v1.component).view" }, `table ${table}: event${missing.length === 1 ? "" : "s"} ${missing.map((m) => m.typeName).join(", ")} of "${t.source}" ${missing.length === 1 ? "is" : "are"} neither handled nor ignored`,
        `add an update rpc for ${missing.length === 1 ? "it" : "each"} (e.g. rpc On${missing[0]!.name}(${missing[0]!.typeName}) returns (${t.row.typeName}) with view_update { source: "${t.source}" table: "${table}" }), or list ${missing.length === 1 ? "it" : "them"} in the view's ignore`);
    }
    tableModels.push({ name: table, sqlName: viewTableName(name, table), row: t.row, source: t.source, feed: t.feed, messages: t.messages, updates: t.updates, ignored, indexes: [] });
  }
  if (tables.size === 0) {
    fail({}, "the view has no update method, so its tables would stay empty", 'add an rpc with option (orrery.v1.method).view_update = { source: "...", table: "..." }');
  }
  const rows = new Map(tableModels.map((t) => [t.name, t.row]));
  const queries: Array<{ method: DescMethod; plan: CompiledViewQuery }> = [];
  const indexes = new Map<string, Set<string>>();
  for (const method of queryMethods) {
    if (method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming") {
      fail({ method }, `the rpc is ${method.methodKind.replace("_", "-")}; a query is unary or server-streaming`, "drop `stream` from the request");
      continue;
    }
    const { query: text, streamUpdates } = getOption(method, methodSettings).viewQuery!;
    try {
      const planned = planViewQuery(text, { tables: rows, request: method.input, response: method.output, streaming: method.methodKind === "server_streaming" }, { view: name });
      const updates = streamUpdates ? streamUpdatesOf(method, planned, fail) : undefined;
      if (streamUpdates && updates === undefined) continue;
      const plan: CompiledViewQuery = updates === undefined ? planned : { ...planned, streamUpdates: updates };
      queries.push({ method, plan });
      for (const index of plan.indexes) {
        const set = indexes.get(index.table) ?? new Set<string>();
        set.add(index.sql);
        indexes.set(index.table, set);
      }
    } catch (error) {
      if (!(error instanceof ViewQueryError)) throw error;
      fail({ method, option: "(orrery.v1.method).view_query.query" }, error.message, "correct the query (docs/view-queries.md has the grammar and the type rules)");
    }
  }
  if (!ok) return undefined;
  return {
    kind: "view", service, name, baseName: entityBaseName(service),
    tables: tableModels.map((t) => ({ ...t, indexes: [...(indexes.get(t.name) ?? [])].sort() })),
    queries,
    routes,
  };
}

/** Checks a query with `stream_updates` and finds the response's key field; undefined (after failing) when it cannot stream updates. */
function streamUpdatesOf(method: DescMethod, plan: CompiledViewQuery, fail: Fail): { keyField: string } | undefined {
  const option = "(orrery.v1.method).view_query.stream_updates";
  if (method.methodKind !== "server_streaming") {
    fail({ method, option }, "stream_updates needs a server-streaming rpc; this one is unary", `return a stream: rpc ${method.name}(${method.input.name}) returns (stream ${method.output.name})`);
    return undefined;
  }
  if (plan.tables.length > 1) {
    fail({ method, option }, `stream_updates on a query with a JOIN is not supported yet by ${pluginName} ${pluginVersion}`, "stream the FROM table alone, or drop stream_updates");
    return undefined;
  }
  const keys = method.output.fields.filter((f) => hasOption(f, fieldSettings) && getOption(f, fieldSettings).entityKey);
  const key = keys[0];
  if (keys.length !== 1 || key === undefined || key.fieldKind !== "scalar" || key.scalar !== 9 /* string */) {
    fail(
      { method, option },
      keys.length > 1
        ? `the response message ${method.output.typeName} marks ${keys.length} fields as entity_key; stream_updates needs exactly one`
        : key !== undefined
          ? `the field ${key.name} of ${method.output.typeName} is marked entity_key but is not a string; the row's key is one`
          : `stream_updates sends a row that stops matching as a deletion marker carrying only the row's key, and the response message ${method.output.typeName} marks no field for it`,
      `mark the string field that holds the source entity's id: string ${key?.name ?? "id"} = N [(orrery.v1.field).entity_key = true];`,
    );
    return undefined;
  }
  return { keyField: key.localName };
}

/** 8 hex digits of a hash of what decides a view's rows: its version, and per table the row and source messages' fields and the handlers. */
function definitionHash(version: number, tables: ReadonlyMap<string, { row: DescMessage; source: string; feed: string; messages: readonly DescMessage[]; updates: ReadonlyArray<{ method: DescMethod; message: DescMessage }> }>): string {
  const shape = (m: DescMessage): unknown => [m.typeName, m.fields.map((f) => [f.number, f.name, f.fieldKind, f.fieldKind === "scalar" ? f.scalar : f.fieldKind === "message" ? f.message.typeName : f.fieldKind === "enum" ? f.enum.typeName : "", f.fieldKind === "list" ? f.listKind : ""])];
  const definition = [version, [...tables].sort(([a], [b]) => a.localeCompare(b)).map(([table, t]) => [
    table, shape(t.row), t.source, t.feed, t.messages.map(shape), t.updates.map((u) => [u.method.name, u.message.typeName]),
  ])];
  return createHash("sha256").update(JSON.stringify(definition)).digest("hex").slice(0, 8);
}
