// Generate-time checks of `option (google.api.http)`: everything the runtime's
// REST routes would reject at start, or would serve wrongly, fails `buf
// generate` here instead, naming the file, service, rpc and rule. What the
// runtime does not serve yet (custom methods) is rejected as "not supported
// yet" rather than accepted and ignored. A server-streaming rpc is served as
// newline-delimited JSON.
import { getOption, hasOption, ScalarType } from "@bufbuild/protobuf";
import type { DescField, DescMessage, DescMethod } from "@bufbuild/protobuf";
import { parsePathTemplate, PathTemplateError, sameRoute } from "@orrery/sdk/path-template";
import type { PathTemplate } from "@orrery/sdk/path-template";
import { http } from "./gen/google/api/annotations_pb.js";
import type { HttpRule } from "./gen/google/api/http_pb.js";
import { pluginName, pluginVersion } from "./version.js";

/** One binding of a method, parsed: what the route-conflict check compares. */
export interface HttpRoute {
  readonly method: DescMethod;
  /** GET, POST, … */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** Where the binding is written, e.g. "(google.api.http).additional_bindings[0]". */
  readonly option: string;
}

/** Reports one problem of `method` at `option`. */
export type HttpRuleFail = (site: { method: DescMethod; option: string }, problem: string, fix: string) => void;

const OPTION = "(google.api.http)";

/**
 * Checks the `google.api.http` rule of `method`, if it has one, and its
 * additional bindings; reports every problem through `fail` and returns the
 * routes that parsed (for {@link checkRouteConflicts}).
 */
export function checkHttpRule(method: DescMethod, fail: HttpRuleFail): HttpRoute[] {
  if (!hasOption(method, http)) return [];
  const rule = getOption(method, http);
  const kind = method.methodKind;
  if (kind !== "unary" && kind !== "server_streaming") {
    fail({ method, option: OPTION }, `the rpc is ${kind.replace("_", "-")}, and a REST route cannot carry a stream of requests`, "remove the option, or make the rpc unary");
    return [];
  }
  const routes: HttpRoute[] = [];
  const one = checkBinding(method, rule, OPTION, fail);
  if (one !== undefined) routes.push(one);
  rule.additionalBindings.forEach((extra, i) => {
    const option = `${OPTION}.additional_bindings[${i}]`;
    if (extra.additionalBindings.length > 0) {
      fail({ method, option }, "an additional binding has additional_bindings of its own, which google.api.http does not allow", "list every binding in the rule's own additional_bindings");
    }
    const route = checkBinding(method, extra, option, fail);
    if (route !== undefined) routes.push(route);
  });
  return routes;
}

function checkBinding(method: DescMethod, rule: HttpRule, option: string, fail: HttpRuleFail): HttpRoute | undefined {
  const report = (where: string, problem: string, fix: string) => fail({ method, option: where }, problem, fix);
  if (rule.selector !== "") {
    report(`${option}.selector`, "selector only means something in a service config file; on an rpc it would be ignored", "remove selector");
  }
  const { pattern } = rule;
  if (pattern.case === undefined) {
    report(option, "the rule names no HTTP method and path", 'set one of get, put, post, delete or patch, e.g. post: "/v1/carts/{cart_id}"');
    return undefined;
  }
  if (pattern.case === "custom") {
    report(`${option}.custom`, `custom HTTP methods (custom { kind: ${JSON.stringify(pattern.value.kind)} }) are not supported yet by ${pluginName} ${pluginVersion}`, "use get, put, post, delete or patch");
    return undefined;
  }
  const where = `${option}.${pattern.case}`;
  const httpMethod = pattern.case.toUpperCase();
  if (pattern.value === "") {
    report(where, "the path is empty", 'write a path template, e.g. "/v1/carts/{cart_id}"');
    return undefined;
  }
  let template: PathTemplate;
  try {
    template = parsePathTemplate(pattern.value);
  } catch (error) {
    if (!(error instanceof PathTemplateError)) throw error;
    report(where, error.message, "fix the template (google/api/http.proto describes the syntax)");
    return undefined;
  }
  const bound = new Set<string>();
  for (const variable of template.variables) {
    const dotted = variable.fieldPath.join(".");
    const found = resolveField(method.input, variable.fieldPath);
    if (typeof found === "string") {
      report(where, `path variable {${dotted}}: ${found}`, `bind a singular string, number, bool or enum field of ${method.input.typeName}`);
      continue;
    }
    const manySegments = variable.end - variable.start > 1 || template.segments[variable.end - 1]?.kind === "deep-wildcard";
    if (manySegments && !(found.fieldKind === "scalar" && found.scalar === ScalarType.STRING)) {
      report(where, `path variable {${dotted}} matches several segments, so it needs a string field, but ${dotted} is not a string`, "bind a string field, or match one segment ({field} or {field=*})");
    }
    bound.add(dotted);
  }
  if (rule.body !== "" && (httpMethod === "GET" || httpMethod === "DELETE")) {
    report(`${option}.body`, `a ${httpMethod} request has no body, but the rule sets body: ${JSON.stringify(rule.body)}`, "remove body (the fields not in the path come from query parameters), or use post, put or patch");
  } else if (rule.body !== "" && rule.body !== "*") {
    const field = method.input.fields.find((f) => f.name === rule.body);
    if (field === undefined) {
      report(`${option}.body`, `${method.input.typeName} has no field ${JSON.stringify(rule.body)}`, `name a top-level field of ${method.input.typeName} (${fieldNames(method.input)}), or "*" for the whole request`);
    } else if ([...bound].some((b) => b === field.name || b.startsWith(`${field.name}.`))) {
      report(`${option}.body`, `the body field ${field.name} is also bound by the path`, "take it out of the path, or name another body field");
    }
  }
  if (rule.responseBody !== "" && !method.output.fields.some((f) => f.name === rule.responseBody)) {
    report(`${option}.response_body`, `${method.output.typeName} has no field ${JSON.stringify(rule.responseBody)}`, `name a top-level field of ${method.output.typeName} (${fieldNames(method.output)}), or leave response_body out to send the whole reply`);
  }
  return { method, httpMethod, template, option: where };
}

/** The field a path variable binds, or why it cannot. */
function resolveField(message: DescMessage, path: readonly string[]): DescField | string {
  let current = message;
  for (let i = 0; i < path.length; i++) {
    const name = path[i]!;
    const field = current.fields.find((f) => f.name === name);
    const sofar = path.slice(0, i + 1).join(".");
    if (field === undefined) return `${current.typeName} has no field ${JSON.stringify(name)}`;
    if (i < path.length - 1) {
      if (field.fieldKind !== "message") return `${sofar} is not a message, so it has no field ${JSON.stringify(path[i + 1])}`;
      current = field.message;
      continue;
    }
    if (field.fieldKind === "list") return `${sofar} is repeated; a path variable binds one value`;
    if (field.fieldKind === "map") return `${sofar} is a map; a path variable binds one value`;
    if (field.fieldKind === "message") return `${sofar} is a message (${field.message.typeName}), not a string, number, bool or enum`;
    return field;
  }
  return "the variable names no field";
}

function fieldNames(message: DescMessage): string {
  return message.fields.length === 0 ? "it has none" : message.fields.map((f) => f.name).join(", ");
}

/** Reports a `google.api.http` option on an rpc of a component kind that serves no REST routes; `why` says why. */
export function rejectHttpRule(method: DescMethod, why: string, fail: HttpRuleFail): void {
  if (hasOption(method, http)) fail({ method, option: OPTION }, why, "remove the option");
}

/**
 * Reports every pair of routes that no request could tell apart (same HTTP
 * method, same template shape and verb), naming both rpcs.
 */
export function checkRouteConflicts(routes: readonly HttpRoute[], fail: HttpRuleFail): void {
  for (let i = 0; i < routes.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = routes[j]!;
      const b = routes[i]!;
      if (a.httpMethod !== b.httpMethod || !sameRoute(a.template, b.template)) continue;
      fail(
        { method: b.method, option: b.option },
        `REST routes conflict: ${b.httpMethod} ${b.template.source} and ${a.httpMethod} ${a.template.source} of ${a.method.parent.typeName}.${a.method.name} match the same requests`,
        "change one of the two paths or their verbs",
      );
    }
  }
}
