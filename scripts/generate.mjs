#!/usr/bin/env node
// `npm run generate`: regenerates all committed generated code.
//   1. codegen/src/gen      Orrery's options for the plugin itself (bootstrap: the plugin imports it),
//      and codegen/OPTIONS.md, the options reference rendered from the proto's comments
//   2. runtime/src/gen (the gRPC health service, google.api.http), runtime/test/gen (the trace tests' OTLP subset),
//      codegen/test/gen (the view query tests' messages),
//      runtime/template/src/gen (the new-project template's generated code)
//   3. samples/<x>/src/gen, samples/<x>/test/gen-tsproto   for every samples/<x>/proto
//   0. proto/buf/validate/validate.proto, printed from @bufbuild/protovalidate's embedded descriptor
// `node scripts/generate.mjs --check` then fails if the result differs from what is
// committed (CI runs this), including new untracked files.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
// buf finds protoc-gen-es, protoc-gen-orrery and protoc-gen-ts_proto on PATH.
const env = { ...process.env, PATH: `${path.join(root, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}` };

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
  if (result.error) fail(`${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(" ")} exited with ${result.status ?? result.signal}`);
}

function output(command, args) {
  const result = spawnSync(command, args, { cwd: root, env, encoding: "utf8" });
  if (result.error || result.status !== 0) fail(`${command} ${args.join(" ")} failed: ${result.error?.message ?? result.stderr}`);
  return result.stdout;
}

function fail(message) {
  console.error(`generate: ${message}`);
  process.exit(1);
}

const generatedDirs = ["codegen/src/gen", "proto/buf"];

// buf.validate's rules, vendored from the npm package the runtime validates with (no network needed).
run("node", ["scripts/vendor-validate-proto.mjs"]);

run("buf", ["generate", "--template", "codegen/buf.gen.bootstrap.yaml"]);

// The options reference page, rendered from options.proto's comments.
run("node", ["--conditions=orrery-source", "--import", "tsx", "codegen/scripts/write-options-reference.ts"]);
generatedDirs.push("codegen/OPTIONS.md");

// The runtime's own protos (the gRPC health service).
run("buf", ["generate", "runtime/proto", "--template", "runtime/buf.gen.yaml", "-o", "runtime"]);
// The vendored google.api.http annotation, which the REST routes read (after the run above, which cleans src/gen).
run("buf", ["generate", "proto", "--path", "proto/google/api", "--template", "runtime/buf.gen.google-api.yaml", "-o", "runtime"]);
// Orrery's own options, which the access checks (auth/) read from the served services' descriptors.
run("buf", ["generate", "proto", "--path", "proto/orrery/v1", "--template", "runtime/buf.gen.google-api.yaml", "-o", "runtime"]);
generatedDirs.push("runtime/src/gen");

// Test protos of the runtime: the subset of OTLP that the trace tests decode the exporter's requests
// with, and the messages of the REST transcoding tests.
const otlpWorkspace = { version: "v2", modules: [{ path: "runtime/test/proto" }, { path: "proto" }] };
run("buf", ["generate", "runtime/test/proto", "--config", JSON.stringify(otlpWorkspace), "--template", "runtime/test/buf.gen.yaml", "-o", "runtime/test"]);
generatedDirs.push("runtime/test/gen");

// Test protos of the codegen: the rows, requests and responses of the view query tests.
run("buf", ["generate", "codegen/test/proto", "--config", JSON.stringify({ version: "v2", modules: [{ path: "codegen/test/proto" }] }), "--template", "codegen/test/buf.gen.yaml", "-o", "codegen/test"]);
generatedDirs.push("codegen/test/gen");

// The new-project template (`orrery new` copies it): generated as a user's `buf generate` in the new
// project does, with the template's own buf.gen.yaml; the new-project test checks the two agree.
const template = "runtime/template";
run("buf", ["generate", `${template}/proto`, "--config", JSON.stringify({ version: "v2", modules: [{ path: "proto" }, { path: `${template}/proto` }] }), "--template", `${template}/buf.gen.yaml`, "-o", template]);
generatedDirs.push(`${template}/src/gen`);

const samples = readdirSync(path.join(root, "samples"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(root, "samples", d.name, "proto")))
  .map((d) => `samples/${d.name}`);
for (const sample of samples) {
  // -o is prepended to each plugin's `out` in buf.gen.yaml (src/gen, test/gen-tsproto). The workspace is
  // given here, so a new sample needs no entry in buf.yaml: Orrery's options plus the sample's own protos.
  const workspace = { version: "v2", modules: [{ path: "proto" }, { path: `${sample}/proto` }] };
  run("buf", ["generate", `${sample}/proto`, "--config", JSON.stringify(workspace), "--template", "buf.gen.yaml", "-o", sample]);
  generatedDirs.push(`${sample}/src/gen`, `${sample}/test/gen-tsproto`);
}

if (check) {
  const diff = spawnSync("git", ["diff", "--exit-code", "--stat", "--", ...generatedDirs], { cwd: root, stdio: "inherit" });
  const untracked = output("git", ["ls-files", "--others", "--exclude-standard", "--", ...generatedDirs]).trim();
  if (diff.error) fail(`git: ${diff.error.message}`);
  if (diff.status !== 0) fail("generated code is out of date: run npm run generate, then commit the result");
  if (untracked !== "") {
    console.error(`generated files that git does not track:\n${untracked}`);
    fail(`the generated code is current but not tracked: run git add ${[...new Set(untracked.split("\n").map((f) => f.split("/").slice(0, 3).join("/")))].join(" ")}`);
  }
  console.log("generate: generated code is up to date");
}
