// The request message of a REST call: path variables, query parameters and the
// JSON body put together by the google.api.http rules, then read by
// protobuf-es's JSON mapping (so int64 as string, enums by name and the
// well-known types behave exactly as in Connect's JSON). Every mistake is an
// INVALID_ARGUMENT that names the parameter.
import { fromJson, ScalarType } from "@bufbuild/protobuf";
import type { DescEnum, DescField, DescMessage, JsonObject, JsonValue, MessageShape, Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

/** What a REST request carries, already split from the HTTP request. */
export interface HttpRequestParts {
  /** The path variables bound by the route's template, by dotted field path. */
  readonly bindings: ReadonlyMap<string, string>;
  readonly query: URLSearchParams;
  /** The parsed JSON body, or undefined when the request had none. */
  readonly body: JsonValue | undefined;
}

/**
 * Builds the request message. `bodyRule` is the rule's `body`: "" (no body),
 * "*" (every field not bound by the path comes from the body; no query
 * parameters), or the name of the top-level field the body is.
 */
export function httpRequestMessage<Desc extends DescMessage>(schema: Desc, bodyRule: string, parts: HttpRequestParts, registry?: Registry): MessageShape<Desc> {
  const json: JsonObject = {};
  const bodyField = bodyRule === "" || bodyRule === "*" ? undefined : findField(schema, bodyRule);
  if (bodyRule === "*") {
    if (parts.body !== undefined) {
      if (parts.body === null || typeof parts.body !== "object" || Array.isArray(parts.body)) invalid(`the body must be a JSON object (a ${schema.typeName})`);
      Object.assign(json, parts.body);
    }
  } else if (bodyField !== undefined) {
    if (parts.body !== undefined) json[bodyField.jsonName] = parts.body;
  } else if (parts.body !== undefined) {
    invalid("this route takes no body; send the fields as query parameters");
  }

  const bound = new Set<string>();
  for (const [path, value] of parts.bindings) {
    const { target, field } = resolvePath(schema, path, json, `path variable ${path}`);
    const converted = stringToJson(field, value, `path variable ${path}`);
    const previous = target[field.jsonName] ?? target[field.name];
    if (previous !== undefined && JSON.stringify(previous) !== JSON.stringify(converted)) {
      invalid(`${path} is ${JSON.stringify(value)} in the path but ${JSON.stringify(previous)} in the body; leave it out of the body`);
    }
    delete target[field.name];
    target[field.jsonName] = converted;
    bound.add(path);
  }

  const seen = new Set<string>();
  for (const [key, value] of parts.query) {
    if (bodyRule === "*") invalid(`query parameter ${key}: this route takes every field from the body`);
    const where = `query parameter ${key}`;
    const { target, field, path } = resolvePath(schema, key, json, where);
    if (bound.has(path)) invalid(`${where}: ${path} is already set by the path`);
    if (bodyField !== undefined && (path === bodyField.name || path.startsWith(`${bodyField.name}.`))) invalid(`${where}: ${bodyField.name} comes from the body`);
    if (field.fieldKind === "list") {
      const list = (target[field.jsonName] ??= []) as JsonValue[];
      list.push(stringToJson(field, value, where));
    } else {
      if (seen.has(path)) invalid(`${where} is given more than once, but ${path} is not a repeated field`);
      target[field.jsonName] = stringToJson(field, value, where);
    }
    seen.add(path);
  }

  try {
    return fromJson(schema, json, registry === undefined ? {} : { registry });
  } catch (error) {
    throw new ConnectError(`cannot read the request as ${schema.typeName}: ${error instanceof Error ? error.message : String(error)}`, Code.InvalidArgument);
  }
}

function invalid(message: string): never {
  throw new ConnectError(message, Code.InvalidArgument);
}

function findField(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name || f.jsonName === name);
}

/**
 * Walks a dotted field path (proto or JSON names) from `schema`, creating the
 * nested JSON objects on the way; the object to set the last field in.
 */
function resolvePath(schema: DescMessage, dotted: string, json: JsonObject, where: string): { target: JsonObject; field: DescField; path: string } {
  const names = dotted.split(".");
  let message = schema;
  let target = json;
  const protoPath: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const field = findField(message, names[i]!);
    if (field === undefined) invalid(`${where}: ${message.typeName} has no field ${JSON.stringify(names[i])}`);
    protoPath.push(field.name);
    if (i === names.length - 1) return { target, field, path: protoPath.join(".") };
    if (field.fieldKind !== "message" || isWellKnownScalar(field.message)) {
      invalid(`${where}: ${protoPath.join(".")} is not a message, so it has no field ${JSON.stringify(names[i + 1])}`);
    }
    const next = (target[field.jsonName] ?? target[field.name] ?? {}) as JsonObject;
    delete target[field.name];
    target[field.jsonName] = next;
    target = next;
    message = field.message;
  }
  throw new Error("unreachable");
}

/** Message types whose JSON form is a string or a number, so one parameter can set them. */
function isWellKnownScalar(message: DescMessage): boolean {
  return message.typeName.startsWith("google.protobuf.") && (WRAPPERS.has(message.typeName) || STRING_FORMS.has(message.typeName));
}

const STRING_FORMS = new Set(["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"]);
const WRAPPERS = new Map<string, ScalarType>([
  ["google.protobuf.DoubleValue", ScalarType.DOUBLE],
  ["google.protobuf.FloatValue", ScalarType.FLOAT],
  ["google.protobuf.Int64Value", ScalarType.INT64],
  ["google.protobuf.UInt64Value", ScalarType.UINT64],
  ["google.protobuf.Int32Value", ScalarType.INT32],
  ["google.protobuf.UInt32Value", ScalarType.UINT32],
  ["google.protobuf.BoolValue", ScalarType.BOOL],
  ["google.protobuf.StringValue", ScalarType.STRING],
  ["google.protobuf.BytesValue", ScalarType.BYTES],
]);

/** A parameter's text as the JSON value protobuf-es reads for `field`. */
function stringToJson(field: DescField, text: string, where: string): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return scalarToJson(field.scalar, text, where);
    case "enum":
      return enumToJson(field.enum, text, where);
    case "list":
      if (field.listKind === "scalar") return scalarToJson(field.scalar, text, where);
      if (field.listKind === "enum") return enumToJson(field.enum, text, where);
      return messageToJson(field.message, text, where, field.name);
    case "message":
      return messageToJson(field.message, text, where, field.name);
    case "map":
      return invalid(`${where}: ${field.name} is a map, which only the body can set`);
  }
}

/** An enum value by name, or by number (open enums keep numbers they do not know). */
function enumToJson(enumDesc: DescEnum, text: string, where: string): JsonValue {
  if (/^-?\d+$/.test(text)) return Number(text);
  if (enumDesc.values.some((v) => v.name === text)) return text;
  return invalid(`${where}: ${enumDesc.typeName} has no value ${JSON.stringify(text)} (it has ${enumDesc.values.map((v) => v.name).join(", ")})`);
}

function messageToJson(message: DescMessage, text: string, where: string, name: string): JsonValue {
  if (STRING_FORMS.has(message.typeName)) return text;
  const wrapped = WRAPPERS.get(message.typeName);
  if (wrapped !== undefined) return scalarToJson(wrapped, text, where);
  return invalid(`${where}: ${name} is a ${message.typeName}; set its fields one by one (${name}.<field>=…) or in the body`);
}

function scalarToJson(type: ScalarType, text: string, where: string): JsonValue {
  if (type === ScalarType.BOOL) {
    if (text === "true" || text === "false") return text === "true";
    return invalid(`${where}: expected true or false, got ${JSON.stringify(text)}`);
  }
  // Numbers stay strings: proto3 JSON reads every number type from a string, and int64 loses nothing.
  return text;
}
