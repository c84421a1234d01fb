#!/usr/bin/env node
// `npm create orrery@latest <dir>` runs this: it is `orrery new <dir>` of the
// @orrery/runtime it depends on, with the same options and exit code.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const runtime = path.dirname(createRequire(import.meta.url).resolve("@orrery/runtime/package.json"));
const args = process.argv.slice(2);
const result = spawnSync(process.execPath, [path.join(runtime, "bin", "orrery.js"), "new", ...(args.length === 0 ? ["--help"] : args)], { stdio: "inherit" });
if (result.error) {
  console.error(`create-orrery: cannot run orrery new: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
