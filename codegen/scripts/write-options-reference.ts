// `npm run generate` step: writes codegen/OPTIONS.md from proto/orrery/v1/options.proto,
// compiled by buf with its comments.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { renderOptionsReference } from "../src/options-reference.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const image = execFileSync(path.join(root, "node_modules", ".bin", "buf"), ["build", "proto", "--as-file-descriptor-set", "-o", "-"], { cwd: root });
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, image));
const file = registry.getFile("orrery/v1/options.proto");
if (file === undefined) throw new Error("write-options-reference: buf build proto has no orrery/v1/options.proto");
const target = path.join(root, "codegen", "OPTIONS.md");
writeFileSync(target, renderOptionsReference(file));
console.log(`options reference: wrote ${path.relative(root, target)}`);
