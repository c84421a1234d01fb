import { getOption, hasOption, isFieldSet, ScalarType } from "@bufbuild/protobuf";
import type { DescField, DescMessage, DescMethod, DescService, Registry } from "@bufbuild/protobuf";
import { getDeclarationString } from "@bufbuild/protoplugin";
import { field as fieldSettings, method as methodSettings, MethodSettingsSchema } from "./gen/orrery/v1/options_pb.js";
import { checkMethodAccess } from "./access-options.js";
import { checkHttpRule } from "./http-rule-check.js";
import type { HttpRoute } from "./http-rule-check.js";
import { unsupportedOption } from "./option-support.js";
import { resolveMessage } from "./resolve-message.js";
import { pluginName, pluginVersion } from "./version.js";

// What every entity kind checks the same way: its generated names, the
// messages its option names, each rpc's entity key and method options.

/** One rpc of an entity: its command handler's key field and whether it is read-only. */
export interface EntityMethodModel {
  readonly method: DescMethod;
  readonly entityKey: DescField;
  readonly readOnly: boolean;
  /** Its REST routes (google.api.http), checked. */
  readonly routes: readonly HttpRoute[];
}

/** The prefix of generated names: "ShoppingCartService" gives "ShoppingCart". */
export function entityBaseName(service: DescService): string {
  const base = service.name.replace(/Service$/, "");
  return base === "" ? service.name : base;
}

/** Records one problem at a site of the service being read. */
export type Fail = (site: { option?: string; method?: DescMethod; field?: DescField }, problem: string, fix: string) => void;

/**
 * Reads the rpcs of an entity service: each must be unary, must not take a
 * name in `reserved` (the behaviour's own members), and needs one entity key.
 */
export function readEntityMethods(service: DescService, kindName: string, reserved: ReadonlySet<string>, registry: Registry, fail: Fail): EntityMethodModel[] {
  const methods: EntityMethodModel[] = [];
  for (const method of service.methods) {
    if (method.methodKind !== "unary") {
      fail({ method }, `the rpc is ${method.methodKind.replace("_", "-")}, but ${kindName}'s rpcs are unary`, "drop `stream` from the rpc, or move it to a view or another service");
    }
    if (reserved.has(method.localName)) {
      fail({ method }, `the handler name ${method.localName} is taken by the ${kindName.replace(/^an? /, "")}'s own ${method.localName} member`, "rename the rpc");
    }
    const entityKey = readEntityKey(method, fail);
    rejectUnsupportedMethodOptions(method, fail);
    rejectViewMethodOptions(method, kindName, fail);
    checkMethodAccess(method, undefined, fail);
    const routes = checkHttpRule(method, fail);
    const readOnly = hasOption(method, methodSettings) && getOption(method, methodSettings).readOnly;
    if (entityKey) methods.push({ method, entityKey, readOnly, routes });
  }
  return methods;
}

// Method settings the runtime does not enforce yet (option-support.ts): accepting them would promise what
// is not there (a method marked deny: ["internet"] would still answer the internet).
/** view_update and view_query belong to a view's rpcs: on any other component they would be accepted and ignored. */
export function rejectViewMethodOptions(method: DescMethod, kindName: string, fail: Fail): void {
  if (!hasOption(method, methodSettings)) return;
  const settings = getOption(method, methodSettings);
  for (const [field, set] of [["view_update", settings.viewUpdate !== undefined], ["view_query", settings.viewQuery !== undefined]] as const) {
    if (set) fail({ method, option: `(orrery.v1.method).${field}` }, `${field} is for the rpcs of a view, and this service is ${kindName}`, `remove it, or move the rpc to a service with option (orrery.v1.component) = { view: {} }`);
  }
}

export function rejectUnsupportedMethodOptions(method: DescMethod, fail: Fail): void {
  if (hasOption(method, methodSettings)) {
    const settings = getOption(method, methodSettings);
    for (const field of MethodSettingsSchema.fields) {
      const unsupported = unsupportedOption("MethodSettings", field.name);
      if (unsupported !== undefined && isFieldSet(settings, field)) {
        fail({ method, option: `(orrery.v1.method).${field.name}` }, `${field.name} is not supported yet by ${pluginName} ${pluginVersion}`, unsupported.fix);
      }
    }
  }
}

/** Resolves a message named in an option, reporting an unknown name or a non-message. */
export function lookupMessage(service: DescService, registry: Registry, option: string, name: string, fail: Fail): DescMessage | undefined {
  const pkg = service.file.proto.package;
  const found = resolveMessage(registry, pkg, name);
  if (found.kind === "message") return found.message;
  const how = pkg === "" ? "fully-qualified" : `fully-qualified or relative to package ${pkg}`;
  if (found.kind === "not-a-message") {
    const article = found.actualKind === "service" ? "a" : "an";
    fail({ option }, `"${name}" names ${found.typeName}, which is ${article} ${found.actualKind}, not a message`, `name a message (${how})`);
  } else {
    const hint = found.suggestions.length > 0 ? `; did you mean ${found.suggestions.map((s) => `"${s}"`).join(" or ")}?` : "";
    fail({ option }, `message "${name}" not found (looked up ${found.tried.join(", ")})${hint}`, `name a message declared in this file or one it imports (${how})`);
  }
  return undefined;
}

/** The request field marked `entity_key`, which must be exactly one singular string. */
function readEntityKey(method: DescMethod, fail: Fail): DescField | undefined {
  const request = method.input;
  const keys = request.fields.filter((f) => hasOption(f, fieldSettings) && getOption(f, fieldSettings).entityKey);
  const [key, ...more] = keys;
  if (key === undefined) {
    const candidate = request.fields.find((f) => isSingularString(f) && /(^|_)id$/.test(f.name));
    const example = candidate ? getDeclarationString(candidate) : "string id = 1";
    fail({ method }, `request message ${request.typeName} has no field marked [(orrery.v1.field).entity_key = true]`, `mark the field that holds the entity id, e.g. ${example} [(orrery.v1.field).entity_key = true];`);
    return undefined;
  }
  if (more.length > 0) {
    fail({ method }, `request message ${request.typeName} marks ${keys.length} fields as entity_key (${keys.map((f) => f.name).join(", ")})`, "keep entity_key on exactly one field");
    return undefined;
  }
  if (!isSingularString(key)) {
    fail({ method, field: key }, `the entity key is declared "${getDeclarationString(key)}", but an entity key must be a singular string`, `declare it as string ${key.name} = ${key.number}`);
    return undefined;
  }
  return key;
}

function isSingularString(field: DescField): boolean {
  return field.fieldKind === "scalar" && field.scalar === ScalarType.STRING;
}

export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}
