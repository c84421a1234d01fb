#!/usr/bin/env node
// The `orrery` command. A published @orrery/runtime runs its built JavaScript;
// inside the Orrery repository (where src/ is present) it runs the TypeScript
// sources through tsx, the repository's own dev dependency, with the
// "orrery-source" export condition on, so that the inner loop needs no build step.
import { existsSync } from "node:fs";
import { register as registerHooks } from "node:module";

const source = new URL("../src/cli/main.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  // Resolve @orrery/* workspace packages to their sources, as --conditions=orrery-source would.
  const hook = `export async function resolve(s, c, next) { return next(s, { ...c, conditions: [...c.conditions, "orrery-source"] }); }`;
  registerHooks(`data:text/javascript,${encodeURIComponent(hook)}`);
  await import(source.href);
} else {
  await import("../dist/cli/main.js");
}
