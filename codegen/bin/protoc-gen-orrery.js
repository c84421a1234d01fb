#!/usr/bin/env node
// The protoc plugin: buf starts this file as `local: protoc-gen-orrery`. An installed
// @orrery/codegen runs its built JavaScript; inside the Orrery repository (src/ present)
// it runs the TypeScript sources through tsx, the repository's own dev dependency.
import { existsSync } from "node:fs";

const source = new URL("../src/protoc-gen-orrery.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import("../dist/protoc-gen-orrery.js");
}
