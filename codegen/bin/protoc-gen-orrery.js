#!/usr/bin/env node
// The protoc plugin: buf starts this file as `local: protoc-gen-orrery`. An installed
// @orrery/codegen runs its built JavaScript; inside the Orrery repository (src/ present)
// it runs the TypeScript sources through tsx, the repository's own dev dependency, and
// resolves @orrery/sdk to its sources too (the "orrery-source" export condition).
import { existsSync } from "node:fs";
import { register as registerHooks } from "node:module";

const source = new URL("../src/protoc-gen-orrery.ts", import.meta.url);
if (existsSync(source)) {
  const hooks = 'export function resolve(s, c, next) { return next(s, { ...c, conditions: [...c.conditions, "orrery-source"] }); }';
  registerHooks(`data:text/javascript,${encodeURIComponent(hooks)}`);
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import("../dist/protoc-gen-orrery.js");
}
