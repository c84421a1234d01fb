// The OpenAPI 3.1 document of the REST routes, written at start from the
// methods' descriptors and their google.api.http bindings, and served at
// /openapi.json. Schemas follow the protobuf JSON mapping the routes speak
// (int64 as string, enums by name, the well-known types in their JSON form).
import { ScalarType } from "@bufbuild/protobuf";
import type { DescEnum, DescField, DescMessage, DescMethod } from "@bufbuild/protobuf";
import type { PathTemplate } from "@orrery/sdk/path-template";
import type { RestRoute } from "./rest-routes.js";

/** A JSON Schema object (the OpenAPI 3.1 dialect). */
type Schema = Record<string, unknown>;

/** The path where the document is served. */
export const openApiPath = "/openapi.json";

/** The OpenAPI 3.1 document of `routes`: their paths, parameters, bodies and replies, and the messages' schemas. */
export function openApiDocument(routes: readonly RestRoute<DescMethod>[], title: string): Record<string, unknown> {
  const schemas = new Map<string, Schema>();
  const paths: Record<string, Record<string, unknown>> = {};
  const operationIds = new Map<string, number>();
  for (const route of routes) {
    const method = route.target;
    const path = openApiPathOf(route.template);
    const bound = new Set(route.template.variables.map((v) => v.fieldPath.join(".")));
    const parameters: Schema[] = route.template.variables.map((v) => {
      const dotted = v.fieldPath.join(".");
      const pattern = segmentsPattern(route.template, v.start, v.end);
      return {
        name: dotted, in: "path", required: true,
        schema: fieldSchema(fieldAt(method.input, v.fieldPath), schemas),
        ...(pattern === "*" ? {} : { description: `matches ${pattern}` }),
      };
    });
    if (route.body !== "*") parameters.push(...queryParameters(method.input, [], bound, route.body, schemas));
    const id = `${method.parent.typeName}.${method.name}`;
    const seen = operationIds.get(id) ?? 0;
    operationIds.set(id, seen + 1);
    const streamed = method.methodKind === "server_streaming";
    const reply = route.responseBody === "" ? messageRef(method.output, schemas) : fieldSchema(method.output.fields.find((f) => f.name === route.responseBody)!, schemas);
    const operation: Record<string, unknown> = {
      operationId: seen === 0 ? id : `${id}_${seen}`,
      summary: `${method.parent.name}.${method.name}${streamed ? " (server streaming)" : ""}`,
      tags: [method.parent.typeName],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body === "" ? {} : { requestBody: { content: { "application/json": { schema: bodySchema(method.input, route.body, bound, schemas) } } } }),
      responses: {
        "200": streamed
          ? {
            description: 'One JSON object a line (newline-delimited JSON): {"result": message} per message; a stream that fails midway ends with {"error": status}.',
            content: { "application/x-ndjson": { schema: { type: "object", properties: { result: reply, error: { $ref: "#/components/schemas/google.rpc.Status" } } } } },
          }
          : { description: "The reply", content: { "application/json": { schema: reply } } },
        default: { description: "An error in the google.rpc.Status shape, with the HTTP status of its code", content: { "application/json": { schema: { $ref: "#/components/schemas/google.rpc.Status" } } } },
      },
    };
    (paths[path] ??= {})[route.httpMethod.toLowerCase()] = operation;
  }
  schemas.set("google.rpc.Status", {
    type: "object",
    properties: {
      code: { type: "integer", format: "int32", description: "The google.rpc.Code (the gRPC status code)" },
      message: { type: "string" },
      details: { type: "array", items: { type: "object", properties: { "@type": { type: "string" } }, additionalProperties: true } },
    },
  });
  // Sorted by code point, not by locale: the same document on every machine.
  const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(byKey));
  const sortedSchemas = Object.fromEntries([...schemas.entries()].sort(byKey));
  return { openapi: "3.1.0", info: { title, version: "1" }, paths: sortedPaths, components: { schemas: sortedSchemas } };
}

/** "/v1/{name=shelves/*}/books:cancel" as OpenAPI writes it: "/v1/{name}/books:cancel". */
function openApiPathOf(template: PathTemplate): string {
  const parts: string[] = [];
  for (let i = 0; i < template.segments.length; i++) {
    const variable = template.variables.find((v) => v.start === i);
    if (variable !== undefined) {
      parts.push(`{${variable.fieldPath.join(".")}}`);
      i = variable.end - 1;
      continue;
    }
    const segment = template.segments[i]!;
    parts.push(segment.kind === "literal" ? segment.value : segment.kind === "wildcard" ? "*" : "**");
  }
  return `/${parts.join("/")}${template.verb === undefined ? "" : `:${template.verb}`}`;
}

function segmentsPattern(template: PathTemplate, start: number, end: number): string {
  return template.segments.slice(start, end).map((s) => (s.kind === "literal" ? s.value : s.kind === "wildcard" ? "*" : "**")).join("/");
}

function fieldAt(message: DescMessage, path: readonly string[]): DescField {
  let current = message;
  let field: DescField | undefined;
  for (const name of path) {
    field = current.fields.find((f) => f.name === name)!;
    if (field.fieldKind === "message") current = field.message;
  }
  return field!;
}

/** The query parameters of a route: every scalar, enum or well-known-scalar field not in the path or the body, nested by dots. */
function queryParameters(message: DescMessage, prefix: readonly string[], bound: ReadonlySet<string>, body: string, schemas: Map<string, Schema>, seen: ReadonlySet<DescMessage> = new Set()): Schema[] {
  const out: Schema[] = [];
  for (const field of message.fields) {
    const path = [...prefix, field.name];
    const dotted = path.join(".");
    if (bound.has(dotted) || (prefix.length === 0 && field.name === body) || field.fieldKind === "map") continue;
    const nested = field.fieldKind === "message" && !isJsonScalar(field.message) ? field.message : undefined;
    if (nested !== undefined) {
      if (!seen.has(nested)) out.push(...queryParameters(nested, path, bound, body, schemas, new Set([...seen, message])));
      continue;
    }
    if (field.fieldKind === "list" && field.listKind === "message" && !isJsonScalar(field.message)) continue;
    out.push({ name: dotted, in: "query", required: false, schema: fieldSchema(field, schemas), ...(field.fieldKind === "list" ? { explode: true } : {}) });
  }
  return out;
}

/** The body's schema: the named field's, or for "*" the request's fields that the path does not bind. */
function bodySchema(input: DescMessage, body: string, bound: ReadonlySet<string>, schemas: Map<string, Schema>): Schema {
  if (body !== "*") return fieldSchema(input.fields.find((f) => f.name === body)!, schemas);
  const topBound = new Set([...bound].filter((b) => !b.includes(".")));
  if (topBound.size === 0) return messageRef(input, schemas);
  return { type: "object", properties: Object.fromEntries(input.fields.filter((f) => !topBound.has(f.name)).map((f) => [f.jsonName, fieldSchema(f, schemas)])), additionalProperties: false };
}

function messageRef(message: DescMessage, schemas: Map<string, Schema>): Schema {
  const wellKnown = wellKnownSchema(message);
  if (wellKnown !== undefined) return wellKnown;
  if (!schemas.has(message.typeName)) {
    schemas.set(message.typeName, {}); // placeholder first: a message may contain itself
    schemas.set(message.typeName, {
      type: "object",
      properties: Object.fromEntries(message.fields.map((f) => [f.jsonName, fieldSchema(f, schemas)])),
      additionalProperties: false,
    });
  }
  return { $ref: `#/components/schemas/${message.typeName}` };
}

function fieldSchema(field: DescField, schemas: Map<string, Schema>): Schema {
  switch (field.fieldKind) {
    case "scalar":
      return scalarSchema(field.scalar);
    case "enum":
      return enumSchema(field.enum);
    case "message":
      return messageRef(field.message, schemas);
    case "list":
      return { type: "array", items: field.listKind === "scalar" ? scalarSchema(field.scalar) : field.listKind === "enum" ? enumSchema(field.enum) : messageRef(field.message, schemas) };
    case "map":
      return { type: "object", additionalProperties: field.mapKind === "scalar" ? scalarSchema(field.scalar) : field.mapKind === "enum" ? enumSchema(field.enum) : messageRef(field.message, schemas) };
  }
}

function enumSchema(desc: DescEnum): Schema {
  return { type: "string", enum: desc.values.map((v) => v.name) };
}

function scalarSchema(type: ScalarType): Schema {
  switch (type) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT64: case ScalarType.SINT64: case ScalarType.SFIXED64:
      return { type: "string", format: "int64" }; // proto3 JSON writes 64-bit integers as strings
    case ScalarType.UINT64: case ScalarType.FIXED64:
      return { type: "string", format: "uint64" };
    case ScalarType.UINT32: case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0 };
    default:
      return { type: "integer", format: "int32" };
  }
}

const wrappers: Record<string, ScalarType> = {
  "google.protobuf.DoubleValue": ScalarType.DOUBLE, "google.protobuf.FloatValue": ScalarType.FLOAT,
  "google.protobuf.Int64Value": ScalarType.INT64, "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.Int32Value": ScalarType.INT32, "google.protobuf.UInt32Value": ScalarType.UINT32,
  "google.protobuf.BoolValue": ScalarType.BOOL, "google.protobuf.StringValue": ScalarType.STRING, "google.protobuf.BytesValue": ScalarType.BYTES,
};

function isJsonScalar(message: DescMessage): boolean {
  return message.typeName in wrappers || ["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"].includes(message.typeName);
}

/** The JSON form of a well-known type, which is not its fields. */
function wellKnownSchema(message: DescMessage): Schema | undefined {
  const wrapped = wrappers[message.typeName];
  if (wrapped !== undefined) return scalarSchema(wrapped);
  switch (message.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time" };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$" };
    case "google.protobuf.FieldMask":
      return { type: "string" };
    case "google.protobuf.Empty":
      return { type: "object", additionalProperties: false };
    case "google.protobuf.Struct":
      return { type: "object" };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array" };
    case "google.protobuf.Any":
      return { type: "object", properties: { "@type": { type: "string" } }, additionalProperties: true };
    default:
      return undefined;
  }
}
