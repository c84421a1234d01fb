#!/usr/bin/env node
// The `orrery` command. A published @orrery/runtime runs its built JavaScript;
// inside the Orrery repository (where src/ is present) it runs the TypeScript
// sources through tsx, the repository's own dev dependency, so that the inner
// loop needs no build step.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import("../dist/cli/main.js");
}
