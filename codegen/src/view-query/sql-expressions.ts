// SQL for columns and values over rows stored as protobuf JSON. Field names
// are spliced as SQL string literals: protoc only accepts [A-Za-z0-9_] in
// them, so they cannot break out. Every request value and string literal is
// a bound placeholder.
import type { CheckedColumn } from "./checked-query.js";
import { timestampSql } from "./timestamp-text.js";
import { enumDefault } from "./value-type.js";
import type { ValueType } from "./value-type.js";

/** `base->'a'->'b'`: the JSON at a field path. */
export function jsonPath(base: string, names: readonly string[]): string {
  return names.reduce((sql, name) => `${sql}->'${name}'`, base);
}

/** `base->'a'->>'b'`: the text at a field path (`base #>> '{}'` for the value itself). */
export function textPath(base: string, names: readonly string[]): string {
  const last = names.at(-1);
  if (last === undefined) return `(${base} #>> '{}')`;
  return `${jsonPath(base, names.slice(0, -1))}->>'${last}'`;
}

/**
 * The comparable SQL value of the text `text` of type `type`: numbers as numeric (int64 is a JSON
 * string, the cast reads both), bools as boolean, timestamps in their fixed-width form. Without
 * presence, a missing key (proto3 JSON omits defaults) reads as the default: '' / 0 / false / the
 * zero enum value.
 */
export function typedValue(text: string, type: ValueType): string {
  switch (type.kind) {
    case "number":
      return type.presence ? `(${text})::numeric` : `coalesce((${text})::numeric, 0)`;
    case "bool":
      return type.presence ? `(${text})::boolean` : `coalesce((${text})::boolean, false)`;
    case "timestamp":
      return timestampSql(text);
    case "enum":
      return type.presence || type.enum === undefined ? text : `coalesce(${text}, '${enumDefault(type.enum)}')`;
    default:
      return type.presence ? text : `coalesce(${text}, '')`;
  }
}

/** The comparable value of a (non-repeated) column of the table whose row is `base` (e.g. `t0.row`, or `row` in an index). */
export function columnValue(column: CheckedColumn, base: string): string {
  return typedValue(textPath(base, column.fields.map((f) => f.name)), column.type);
}

/** The cast a bound text needs to compare with a value of `type`. */
export function castFor(type: ValueType): string {
  return type.kind === "number" ? "numeric" : type.kind === "bool" ? "boolean" : "text";
}
