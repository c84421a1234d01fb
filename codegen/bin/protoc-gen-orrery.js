#!/usr/bin/env node
// Runs the TypeScript plugin from source: buf starts this file as
// `local: protoc-gen-orrery` (through node_modules/.bin) or by path.
import { register } from "tsx/esm/api";

register();
await import("../src/protoc-gen-orrery.ts");
