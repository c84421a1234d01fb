// Test helpers: compile inline protos with the project's buf binary and run
// the plugin in-process on them, the way buf would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, fromBinary } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import { protocGenOrrery } from "../src/index.js";

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The buf binary installed by npm. */
export const bufBin = path.join(repoRoot, "node_modules", ".bin", "buf");
// Orrery's options and the vendored google/api and buf/validate protos, as a user's buf.yaml finds them in @orrery/codegen.
const shippedProtos = ["orrery/v1/options.proto", "google/api/annotations.proto", "google/api/http.proto", "buf/validate/validate.proto"];

/**
 * Writes `files` (path → proto source) plus orrery/v1/options.proto,
 * google/api/{annotations,http}.proto and buf/validate/validate.proto into a
 * temporary buf module and builds it; the result holds every file with its
 * imports and source info, in dependency order.
 */
export async function compileProtos(files: Record<string, string>): Promise<FileDescriptorSet> {
  const dir = await mkdtemp(path.join(tmpdir(), "orrery-codegen-"));
  try {
    await writeFile(path.join(dir, "buf.yaml"), "version: v2\n");
    for (const name of shippedProtos) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await copyFile(path.join(repoRoot, "proto", name), path.join(dir, name));
    }
    for (const [name, source] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), source);
    }
    await promisify(execFile)(bufBin, ["build", "--as-file-descriptor-set", "-o", "image.binpb"], { cwd: dir });
    return fromBinary(FileDescriptorSetSchema, await readFile(path.join(dir, "image.binpb")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the plugin as buf would with `opt: [target=ts, import_extension=js]`; returns file name → content. */
export function generate(set: FileDescriptorSet, filesToGenerate: string[]): Map<string, string> {
  const request = create(CodeGeneratorRequestSchema, {
    fileToGenerate: filesToGenerate,
    parameter: "target=ts,import_extension=js",
    protoFile: set.file,
  });
  const response = protocGenOrrery.run(request);
  return new Map(response.file.map((f) => [f.name, f.content]));
}

/** Runs the plugin and returns what it threw; fails when it did not throw. */
export function generateError(set: FileDescriptorSet, filesToGenerate: string[]): Error {
  try {
    generate(set, filesToGenerate);
  } catch (e) {
    if (e instanceof Error) return e;
    throw e;
  }
  throw new Error(`expected generation of ${filesToGenerate.join(", ")} to fail`);
}

/** The lines of `content`, trimmed at the end, for golden-line assertions. */
export function lines(content: string | undefined): string[] {
  return (content ?? "").split("\n").map((l) => l.trimEnd());
}

/** Asserts that `expected` appears in `actual` as a contiguous block of lines. */
export function assertBlock(actual: string | undefined, expected: string): void {
  const have = lines(actual);
  const want = lines(expected.replace(/^\n/, "").replace(/\n\s*$/, ""));
  if (!have.some((_, i) => want.every((line, j) => have[i + j] === line))) {
    assert.fail(`expected the lines\n${want.join("\n")}\n\nin the generated file\n${actual ?? "(none)"}`);
  }
}
