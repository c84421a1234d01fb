import { ScalarType } from "@bufbuild/protobuf";
import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";

/** How a query compares a value: the category that decides which operators, literals and parameters fit. */
export type ValueKind = "string" | "number" | "bool" | "enum" | "timestamp" | "bytes" | "message";

/** The type of a column or parameter, as the query language sees a protobuf field. */
export interface ValueType {
  readonly kind: ValueKind;
  /** Whole numbers only (int32, int64, uint32, ...). */
  readonly integer: boolean;
  /** A repeated field; the other properties describe its elements. */
  readonly repeated: boolean;
  /** A map field: never queryable. */
  readonly map: boolean;
  /**
   * Unset is told apart from the default (message, `optional`, wrapper and oneof fields), so a
   * missing JSON key is SQL NULL. Without presence proto3 JSON omits the default, which the
   * compiled SQL reads back as the default.
   */
  readonly presence: boolean;
  readonly enum?: DescEnum | undefined;
  readonly message?: DescMessage | undefined;
  /** The type as written in a proto file: "int64", "repeated string", "customer.v1.Status". */
  readonly label: string;
}

const wrappers: Record<string, ScalarType> = {
  "google.protobuf.StringValue": ScalarType.STRING,
  "google.protobuf.BoolValue": ScalarType.BOOL,
  "google.protobuf.Int32Value": ScalarType.INT32,
  "google.protobuf.UInt32Value": ScalarType.UINT32,
  "google.protobuf.Int64Value": ScalarType.INT64,
  "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.FloatValue": ScalarType.FLOAT,
  "google.protobuf.DoubleValue": ScalarType.DOUBLE,
  "google.protobuf.BytesValue": ScalarType.BYTES,
};

/** The timestamp message: compared in time order, written as an RFC 3339 string. */
export const timestampTypeName = "google.protobuf.Timestamp";

/** The query type of a field (message, enum, scalar, list or map). */
export function fieldValueType(field: DescField): ValueType {
  // FeatureSet_FieldPresence.IMPLICIT is 2: proto3 fields without `optional`.
  const presence = field.presence !== 2;
  switch (field.fieldKind) {
    case "scalar":
      return scalarType(field.scalar, presence, false);
    case "enum":
      return enumType(field.enum, presence, false);
    case "message":
      return messageType(field.message, false);
    case "list":
      if (field.listKind === "scalar") return scalarType(field.scalar, false, true);
      if (field.listKind === "enum") return enumType(field.enum, false, true);
      return messageType(field.message, true);
    case "map":
      return { kind: "message", integer: false, repeated: false, map: true, presence: false, label: "map" };
  }
}

/** The element type of a repeated type (the type itself otherwise). */
export function elementType(type: ValueType): ValueType {
  if (!type.repeated) return type;
  // List elements are always written, even when they are the default.
  return { ...type, repeated: false, presence: false, label: type.label.replace(/^repeated /, "") };
}

function scalarType(scalar: ScalarType, presence: boolean, repeated: boolean, label = scalarName(scalar)): ValueType {
  const kind: ValueKind =
    scalar === ScalarType.STRING ? "string" : scalar === ScalarType.BOOL ? "bool" : scalar === ScalarType.BYTES ? "bytes" : "number";
  const integer = kind === "number" && scalar !== ScalarType.FLOAT && scalar !== ScalarType.DOUBLE;
  return { kind, integer, repeated, map: false, presence, label: repeated ? `repeated ${label}` : label };
}

function enumType(desc: DescEnum, presence: boolean, repeated: boolean): ValueType {
  return { kind: "enum", integer: false, repeated, map: false, presence, enum: desc, label: repeated ? `repeated ${desc.typeName}` : desc.typeName };
}

function messageType(desc: DescMessage, repeated: boolean): ValueType {
  const label = repeated ? `repeated ${desc.typeName}` : desc.typeName;
  const wrapped = wrappers[desc.typeName];
  if (wrapped !== undefined) return { ...scalarType(wrapped, !repeated, repeated), label, message: desc };
  const kind: ValueKind = desc.typeName === timestampTypeName ? "timestamp" : "message";
  return { kind, integer: false, repeated, map: false, presence: !repeated, message: desc, label };
}

function scalarName(scalar: ScalarType): string {
  return ScalarType[scalar].toLowerCase();
}

/** The name a user reads in an error for the category of a type: "a string", "a number", ... */
export function describeKind(type: ValueType): string {
  if (type.map) return "a map";
  const element = type.repeated ? "a repeated " : "";
  const kinds: Record<ValueKind, string> = {
    string: "string",
    number: "number",
    bool: "bool",
    enum: `enum ${type.enum?.typeName ?? ""}`,
    timestamp: "timestamp",
    bytes: "bytes",
    message: `message ${type.message?.typeName ?? ""}`,
  };
  const name = kinds[type.kind];
  return element !== "" ? `${element}${name}` : /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}

/** Whether values of the two types can be compared with = < > (ignoring repeatedness). */
export function comparable(a: ValueType, b: ValueType): boolean {
  if (a.kind !== b.kind || a.map || b.map) return false;
  if (a.kind === "enum") return a.enum?.typeName === b.enum?.typeName;
  return a.kind !== "message";
}

/** The name of an enum's default value: number 0 where there is one (proto3 always), else the first. */
export function enumDefault(desc: DescEnum): string {
  return (desc.values.find((v) => v.number === 0) ?? desc.values[0])?.name ?? "";
}

/** The default value of a type without presence, written as a query literal ("''", "0", "false", "'STATUS_UNSPECIFIED'"). */
export function defaultLiteral(type: ValueType): string {
  switch (type.kind) {
    case "string":
    case "bytes":
      return "''";
    case "number":
      return "0";
    case "bool":
      return "false";
    case "enum":
      return type.enum === undefined ? "its default" : `'${enumDefault(type.enum)}'`;
    default:
      return "its default";
  }
}

/** {@link describeKind}, with the proto type where the category alone hides it: "a number (int32)". */
export function describeType(type: ValueType): string {
  const kind = describeKind(type);
  return type.kind === "number" || type.kind === "bytes" ? `${kind} (${type.label})` : kind;
}
