#!/usr/bin/env node
// Writes proto/buf/validate/validate.proto (step 0 of `npm run generate`), so that a proto can
// `import "buf/validate/validate.proto";` offline (the buf registry is not reachable and no npm
// package ships the .proto). It is printed from the descriptor that @bufbuild/protovalidate embeds,
// the very schema the runtime's validator reads the rules with, so the two cannot disagree (the
// runtime test validate-proto-vendoring.test.ts compiles the printed file and compares descriptors).
// It covers what validate.proto uses: proto2 messages, oneofs, extensions, reserved and extension
// ranges, enums and the (buf.validate.predefined).cel field options; anything else fails loudly.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getOption, ScalarType } from "@bufbuild/protobuf";
import { file_buf_validate_validate, predefined } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const target = path.join(root, "proto", "buf", "validate", "validate.proto");
const file = file_buf_validate_validate;
const proto = file.proto;
const version = JSON.parse((await import("node:fs")).readFileSync(path.join(root, "node_modules", "@bufbuild", "protovalidate", "package.json"), "utf8")).version;

function fail(message) {
  console.error(`vendor-validate-proto: ${message}`);
  process.exit(1);
}

const scalarNames = { [ScalarType.DOUBLE]: "double", [ScalarType.FLOAT]: "float", [ScalarType.INT64]: "int64", [ScalarType.UINT64]: "uint64", [ScalarType.INT32]: "int32", [ScalarType.FIXED64]: "fixed64", [ScalarType.FIXED32]: "fixed32", [ScalarType.BOOL]: "bool", [ScalarType.STRING]: "string", [ScalarType.BYTES]: "bytes", [ScalarType.UINT32]: "uint32", [ScalarType.SFIXED32]: "sfixed32", [ScalarType.SFIXED64]: "sfixed64", [ScalarType.SINT32]: "sint32", [ScalarType.SINT64]: "sint64" };

/** A proto string literal: escapes what the .proto tokenizer would read otherwise; UTF-8 stays as it is. */
function quote(text) {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The type of a field descriptor proto as written in a .proto file. */
function typeOf(fieldProto) {
  if (fieldProto.typeName !== "") return fieldProto.typeName;
  const name = scalarNames[fieldProto.type];
  if (name === undefined) fail(`field ${fieldProto.name} has type ${fieldProto.type}, which this printer does not know`);
  return name;
}

function label(fieldProto) {
  return fieldProto.label === 3 ? "repeated" : fieldProto.label === 2 ? "required" : "optional";
}

/** `[(predefined).cel = {...}, ...]` for the field, or "" (the only option validate.proto sets on fields). */
function fieldOptions(field) {
  const options = field.proto.options;
  if (options === undefined) return "";
  const unknown = (options.$unknown ?? []).filter((u) => u.no !== 1160);
  const known = Object.entries(options).filter(([k, v]) => !k.startsWith("$") && v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== false && v !== 0 && v !== "");
  if (unknown.length > 0 || known.length > 0) fail(`${field.parent.typeName}.${field.name} has options other than (predefined): ${JSON.stringify(known)}`);
  const rules = getOption(field, predefined);
  if (rules.cel.length === 0) return "";
  const parts = rules.cel.map((rule) => {
    const entries = [];
    if (rule.id !== undefined && rule.id !== "") entries.push(`id: ${quote(rule.id)}`);
    if (rule.message !== undefined && rule.message !== "") entries.push(`message: ${quote(rule.message)}`);
    if (rule.expression !== undefined && rule.expression !== "") entries.push(`expression: ${quote(rule.expression)}`);
    return `(predefined).cel = {\n      ${entries.join("\n      ")}\n    }`;
  });
  return ` [\n    ${parts.join(",\n    ")}\n  ]`;
}

function fieldLine(field, indent, inOneof) {
  const p = field.proto;
  const head = inOneof ? "" : `${label(p)} `;
  return `${indent}${head}${typeOf(p)} ${p.name} = ${p.number}${fieldOptions(field).replaceAll("\n", `\n${indent.slice(2)}`)};`;
}

function ranges(list, keyword, indent) {
  const lines = [];
  for (const r of list) {
    const end = r.end - 1;
    lines.push(`${indent}${keyword} ${r.start}${end === r.start ? "" : ` to ${r.end === 536870912 ? "max" : end}`};`);
  }
  return lines;
}

function message(desc) {
  const p = desc.proto;
  if (p.nestedType.length > 0 || p.enumType.length > 0 || p.extension.length > 0 || p.options !== undefined) fail(`message ${desc.typeName} has nested declarations or options, which this printer does not know`);
  const lines = [`message ${p.name} {`];
  const oneofsDone = new Set();
  for (const field of desc.fields) {
    const oneof = field.oneof;
    if (oneof === undefined) {
      lines.push(fieldLine(field, "  ", false));
      continue;
    }
    if (oneofsDone.has(oneof)) continue;
    oneofsDone.add(oneof);
    lines.push(`  oneof ${oneof.name} {`);
    for (const member of oneof.fields) lines.push(fieldLine(member, "    ", true));
    lines.push("  }");
  }
  lines.push(...ranges(p.reservedRange, "reserved", "  "));
  if (p.reservedName.length > 0) lines.push(`  reserved ${p.reservedName.map(quote).join(", ")};`);
  lines.push(...ranges(p.extensionRange, "extensions", "  "));
  lines.push("}");
  return lines.join("\n");
}

function enumeration(desc) {
  const p = desc.proto;
  const lines = [`enum ${p.name} {`];
  for (const v of p.value) lines.push(`  ${v.name} = ${v.number};`);
  lines.push(...ranges(p.reservedRange.map((r) => ({ start: r.start, end: r.end + 1 })), "reserved", "  "));
  if (p.reservedName.length > 0) lines.push(`  reserved ${p.reservedName.map(quote).join(", ")};`);
  lines.push("}");
  return lines.join("\n");
}

if (proto.syntax !== "" && proto.syntax !== "proto2") fail(`validate.proto has syntax ${proto.syntax}; this printer writes proto2`);
const o = proto.options;
const out = [
  `// Generated by scripts/vendor-validate-proto.mjs from @bufbuild/protovalidate ${version} (its embedded`,
  "// descriptor of buf/validate/validate.proto, so without the upstream comments). DO NOT EDIT.",
  "// Copyright 2023-2026 Buf Technologies, Inc. Licensed under the Apache License, Version 2.0.",
  "// The rules and their meaning: the protovalidate documentation.",
  'syntax = "proto2";',
  "",
  `package ${proto.package};`,
  "",
  ...proto.dependency.map((d) => `import ${quote(d)};`),
  "",
  `option go_package = ${quote(o.goPackage)};`,
  `option java_multiple_files = ${o.javaMultipleFiles};`,
  `option java_outer_classname = ${quote(o.javaOuterClassname)};`,
  `option java_package = ${quote(o.javaPackage)};`,
  "",
];
const byExtendee = new Map();
for (const ext of file.extensions) {
  const list = byExtendee.get(ext.proto.extendee) ?? [];
  list.push(ext);
  byExtendee.set(ext.proto.extendee, list);
}
for (const [extendee, list] of byExtendee) {
  out.push(`extend ${extendee} {`, ...list.map((ext) => `  ${label(ext.proto)} ${typeOf(ext.proto)} ${ext.proto.name} = ${ext.proto.number};`), "}", "");
}
for (const desc of file.messages) out.push(message(desc), "");
for (const desc of file.enums) out.push(enumeration(desc), "");
mkdirSync(path.dirname(target), { recursive: true });
writeFileSync(target, out.join("\n"));
