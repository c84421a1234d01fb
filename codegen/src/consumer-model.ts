import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescFile, DescMessage, DescMethod, DescService, Registry } from "@bufbuild/protobuf";
import type { Fail } from "./entity-methods.js";
import { checkMethodAccess } from "./access-options.js";
import { entityBaseName, lookupMessage, rejectUnsupportedMethodOptions, rejectViewMethodOptions } from "./entity-methods.js";
import { readEventSourcedEntity } from "./event-sourced-entity-model.js";
import { component } from "./gen/orrery/v1/options_pb.js";
import { rejectHttpRule } from "./http-rule-check.js";
import type { ConsumerOptions, KeyValueEntityOptions } from "./gen/orrery/v1/options_pb.js";
import { readKeyValueEntity } from "./key-value-entity-model.js";
import { createProblemReport } from "./problem-report.js";
import type { ProblemReport } from "./problem-report.js";
import { pluginName, pluginVersion } from "./version.js";


const consumerRest = "a consumer's rpcs are called by its source's changes, not by clients, so they have no REST routes";
/** Everything the generator needs about one consumer service, validated. */
export interface ConsumerModel {
  readonly kind: "consumer";
  readonly service: DescService;
  /** The stable name its progress is stored under: the service's full name. */
  readonly name: string;
  readonly baseName: string;
  /** The `type` of the entity it consumes. */
  readonly source: string;
  /** `events` of an event-sourced entity, or `states`: a key-value entity's state changes. */
  readonly feed: "events" | "states";
  /** Every event of the source; for a key-value source, its state message. */
  readonly events: readonly DescMessage[];
  /** The source's events it skips on purpose. */
  readonly ignored: readonly DescMessage[];
  readonly methods: ReadonlyArray<{ readonly method: DescMethod; readonly event: DescMessage }>;
}

const optionPath = "(orrery.v1.component).consumer";

/**
 * Validates a `consumer` option and its rpcs against the source entity, found
 * by its `type` among all the files of the run (imports included). For an
 * event-sourced source each rpc takes one of its events and returns
 * google.protobuf.Empty, and every event is handled by exactly one rpc or
 * listed in `ignore`; for a key-value source see `readStateConsumer`.
 */
export function readConsumer(
  service: DescService,
  options: ConsumerOptions,
  allFiles: readonly DescFile[],
  registry: Registry,
  report: ProblemReport,
): ConsumerModel | undefined {
  let ok = true;
  const fail: Fail = (site, problem, fix) => {
    report.add({ service, ...site }, problem, fix);
    ok = false;
  };
  const source = options.source.trim();
  const found = source === "" ? undefined : findComponent(allFiles, source, service);
  if (source === "") {
    fail({ option: `${optionPath}.source` }, "no source is named", 'set source to the type of the event-sourced entity whose events it consumes, e.g. source: "shopping-cart"');
    return undefined;
  }
  if (found === undefined) {
    fail({ option: `${optionPath}.source` }, unknownSource(allFiles, source),
      "name the type of an event-sourced entity declared in this file or one it imports");
    return undefined;
  }
  const { kind } = getOption(found, component);
  if (kind.case === "keyValueEntity") return readStateConsumer(service, options, found, kind.value, registry, fail, () => ok);
  if (kind.case !== "eventSourcedEntity") {
    fail({ option: `${optionPath}.source` }, `"${source}" is ${found.typeName}, a ${kind.case ?? "component"}; a consumer's source is an event-sourced or a key-value entity`,
      "name the type of an event-sourced or key-value entity");
    return undefined;
  }
  const sourceModel = readEventSourcedEntity(found, kind.value, registry, createProblemReport());
  if (sourceModel === undefined) {
    fail({ option: `${optionPath}.source` }, `the source ${found.typeName} has mistakes of its own`, `fix the event_sourced_entity option of ${found.typeName} first`);
    return undefined;
  }
  const events = sourceModel.events;
  const methods: Array<{ method: DescMethod; event: DescMessage }> = [];
  const handled = new Map<DescMessage, DescMethod>();
  for (const method of service.methods) {
    checkConsumerRpc(method, fail);
    if (!events.includes(method.input)) {
      fail({ method }, `the rpc takes ${method.input.typeName}, which is not an event of "${source}" (${events.map((e) => e.typeName).join(", ")})`,
        "make the rpc's request one of the source's event messages");
      continue;
    }
    const other = handled.get(method.input);
    if (other !== undefined) {
      fail({ method }, `${method.input.typeName} is already handled by rpc ${other.name}`, "handle each event type in one rpc");
      continue;
    }
    handled.set(method.input, method);
    methods.push({ method, event: method.input });
  }
  const ignored: DescMessage[] = [];
  for (const name of options.ignore) {
    const event = lookupMessage(service, registry, `${optionPath}.ignore`, name, fail);
    if (event === undefined) continue;
    if (!events.includes(event)) {
      fail({ option: `${optionPath}.ignore` }, `${event.typeName} is not an event of "${source}"`, `list only events of ${found.typeName} in ignore`);
    } else if (handled.has(event)) {
      fail({ option: `${optionPath}.ignore` }, `${event.typeName} is both ignored and handled by rpc ${handled.get(event)!.name}`, "remove it from ignore, or remove the rpc");
    } else {
      ignored.push(event);
    }
  }
  const missing = events.filter((e) => !handled.has(e) && !ignored.includes(e));
  if (missing.length > 0) {
    fail({ option: optionPath }, `event${missing.length === 1 ? "" : "s"} ${missing.map((e) => e.typeName).join(", ")} of "${source}" ${missing.length === 1 ? "is" : "are"} neither handled nor ignored`,
      `add ${missing.map((e) => `rpc On${e.name}(${e.typeName}) returns (google.protobuf.Empty)`).join(" and ")}, or list ${missing.length === 1 ? "it" : "them"} in ignore`);
  }
  if (!ok) return undefined;
  return { kind: "consumer", service, name: service.typeName, baseName: entityBaseName(service), source, feed: "events", events, ignored, methods };
}

/**
 * A consumer of a key-value entity's state changes: one rpc takes the state
 * message (each change, the entity's latest state), and optionally one takes
 * google.protobuf.Empty (each deletion; without it deletions are passed over).
 */
function readStateConsumer(
  service: DescService,
  options: ConsumerOptions,
  found: DescService,
  sourceOptions: KeyValueEntityOptions,
  registry: Registry,
  fail: Fail,
  ok: () => boolean,
): ConsumerModel | undefined {
  const source = options.source.trim();
  const sourceModel = readKeyValueEntity(found, sourceOptions, registry, createProblemReport());
  if (sourceModel === undefined) {
    fail({ option: `${optionPath}.source` }, `the source ${found.typeName} has mistakes of its own`, `fix the key_value_entity option of ${found.typeName} first`);
    return undefined;
  }
  const state = sourceModel.state;
  if (options.ignore.length > 0) {
    fail({ option: `${optionPath}.ignore` }, `"${source}" is a key-value entity, which has no event types to ignore`, "remove ignore; leave out the deletion rpc to pass deletions over");
  }
  const methods: Array<{ method: DescMethod; event: DescMessage }> = [];
  for (const method of service.methods) {
    checkConsumerRpc(method, fail);
    if (method.input !== state && method.input.typeName !== "google.protobuf.Empty") {
      fail({ method }, `the rpc takes ${method.input.typeName}; a consumer of the key-value entity "${source}" takes its state ${state.typeName} (each change) or google.protobuf.Empty (each deletion)`,
        `make the rpc's request ${state.typeName} or google.protobuf.Empty`);
      continue;
    }
    const other = methods.find((m) => m.event === method.input);
    if (other !== undefined) {
      fail({ method }, `${method.input.typeName} is already handled by rpc ${other.method.name}`, "handle each kind of change in one rpc");
      continue;
    }
    methods.push({ method, event: method.input });
  }
  if (!methods.some((m) => m.event === state)) {
    fail({ option: optionPath }, `no rpc takes ${state.typeName}, the state of "${source}"`, `add rpc OnChange(${state.typeName}) returns (google.protobuf.Empty)`);
  }
  if (!ok()) return undefined;
  return { kind: "consumer", service, name: service.typeName, baseName: entityBaseName(service), source, feed: "states", events: [state], ignored: [], methods };
}

/** What every consumer rpc must be, whatever its source: unary, returning Empty, with no option a consumer does not take. */
function checkConsumerRpc(method: DescMethod, fail: Fail): void {
  if (method.methodKind !== "unary") {
    fail({ method }, `the rpc is ${method.methodKind.replace("_", "-")}, but a consumer's rpcs are unary`, "drop `stream` from the rpc");
  }
  if (method.output.typeName !== "google.protobuf.Empty") {
    fail({ method }, `the rpc returns ${method.output.typeName}; a consumer's rpcs return google.protobuf.Empty`, "declare it `returns (google.protobuf.Empty)`");
  }
  rejectUnsupportedMethodOptions(method, fail);
  rejectViewMethodOptions(method, "a consumer", fail);
  checkMethodAccess(method, "a consumer's rpcs are not served there", fail);
  rejectHttpRule(method, consumerRest, fail);
}

/**
 * The service declaring the component of type `type` among the files of the
 * run: in `near`'s own file first, then in its package, then anywhere.
 */
export function findComponent(files: readonly DescFile[], type: string, near?: DescService): DescService | undefined {
  const found: DescService[] = [];
  for (const file of files) {
    for (const service of file.services) {
      if (!hasOption(service, component)) continue;
      const { kind } = getOption(service, component);
      if (kind.case !== undefined && "type" in kind.value && kind.value.type.trim() === type) found.push(service);
    }
  }
  return found.find((s) => s.file === near?.file) ?? found.find((s) => s.file.proto.package === near?.file.proto.package) ?? found[0];
}

/** "no component has the type …", with the types the run does declare (the first ten). */
export function unknownSource(files: readonly DescFile[], source: string): string {
  const known = [...new Set(allComponentTypes(files))].sort().slice(0, 10);
  return `no component has the type "${source}"${known.length > 0 ? ` (known: ${known.map((t) => `"${t}"`).join(", ")})` : ""}`;
}

function allComponentTypes(files: readonly DescFile[]): string[] {
  return files.flatMap((file) => file.services.flatMap((service) => {
    if (!hasOption(service, component)) return [];
    const { kind } = getOption(service, component);
    return kind.case !== undefined && "type" in kind.value && kind.value.type.trim() !== "" ? [kind.value.type.trim()] : [];
  }));
}
