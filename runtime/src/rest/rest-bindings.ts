// The REST routes of the served services, read from their google.api.http
// options (the rule and its additional_bindings), and checked once at start:
// a conflict or a rule the server cannot serve fails the start with one line
// naming the rpc.
import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { parsePathTemplate, PathTemplateError } from "@orrery/sdk/path-template";
import { http } from "../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../gen/google/api/http_pb.js";
import { RestRouteError, RestRoutes } from "./rest-routes.js";
import type { RestBinding } from "./rest-routes.js";

/** Every google.api.http binding of `services`' methods, in declaration order. */
export function restBindings(services: readonly DescService[]): RestBinding<DescMethod>[] {
  const bindings: RestBinding<DescMethod>[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (!hasOption(method, http)) continue;
      const rule = getOption(method, http);
      const rpc = `${service.typeName}.${method.name}`;
      if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") {
        throw new RestRouteError(`${rpc}: the rpc is ${method.methodKind.replace("_", "-")}, and a REST route cannot carry a stream of requests; remove the google.api.http option`);
      }
      bindings.push(binding(method, rpc, rule));
      for (const extra of rule.additionalBindings) {
        if (extra.additionalBindings.length > 0) throw new RestRouteError(`${rpc}: an additional binding has additional_bindings of its own, which google.api.http does not allow`);
        bindings.push(binding(method, rpc, extra));
      }
    }
  }
  return bindings;
}

/** The route table of `services`; throws a {@link RestRouteError} naming both rpcs of a conflict. */
export function createRestRoutes(services: readonly DescService[]): RestRoutes<DescMethod> {
  return new RestRoutes(restBindings(services));
}

function binding(method: DescMethod, rpc: string, rule: HttpRule): RestBinding<DescMethod> {
  const { pattern } = rule;
  if (pattern.case === undefined) throw new RestRouteError(`${rpc}: a google.api.http rule names no HTTP method and path`);
  if (pattern.case === "custom") throw new RestRouteError(`${rpc}: custom HTTP methods (custom { kind: ${JSON.stringify(pattern.value.kind)} }) are not supported yet`);
  const httpMethod = pattern.case.toUpperCase();
  if (rule.body !== "" && (httpMethod === "GET" || httpMethod === "DELETE")) {
    throw new RestRouteError(`${rpc}: ${httpMethod} ${pattern.value} has body ${JSON.stringify(rule.body)}, but a ${httpMethod} request has no body`);
  }
  if (rule.body !== "" && rule.body !== "*" && !method.input.fields.some((f) => f.name === rule.body)) {
    throw new RestRouteError(`${rpc}: body names ${JSON.stringify(rule.body)}, which is not a field of ${method.input.typeName}`);
  }
  if (rule.responseBody !== "" && !method.output.fields.some((f) => f.name === rule.responseBody)) {
    throw new RestRouteError(`${rpc}: response_body names ${JSON.stringify(rule.responseBody)}, which is not a field of ${method.output.typeName}`);
  }
  checkVariables(method.input, rpc, pattern.value);
  return { httpMethod, pattern: pattern.value, body: rule.body, responseBody: rule.responseBody, rpc, target: method };
}

/** Every path variable must bind a singular scalar or enum field; otherwise every request would fail. */
function checkVariables(input: DescMessage, rpc: string, pattern: string): void {
  let variables;
  try {
    variables = parsePathTemplate(pattern).variables;
  } catch (error) {
    if (error instanceof PathTemplateError) throw new RestRouteError(`${rpc}: ${error.message}`);
    throw error;
  }
  for (const { fieldPath } of variables) {
    let message: DescMessage | undefined = input;
    fieldPath.forEach((name, i) => {
      const field = message?.fields.find((f) => f.name === name);
      const last = i === fieldPath.length - 1;
      const usable = field !== undefined && (last ? field.fieldKind === "scalar" || field.fieldKind === "enum" : field.fieldKind === "message");
      if (!usable) throw new RestRouteError(`${rpc}: path variable {${fieldPath.join(".")}} of ${pattern} does not name a singular scalar or enum field of ${input.typeName}`);
      message = field.fieldKind === "message" ? field.message : undefined;
    });
  }
}
