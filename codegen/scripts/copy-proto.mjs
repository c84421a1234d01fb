#!/usr/bin/env node
// Ships Orrery's options proto in @orrery/codegen at proto/orrery/v1/ (a buf module a user's buf.yaml
// lists as node_modules/@orrery/codegen/proto), with the vendored google/api/{annotations,http}.proto
// and buf/validate/validate.proto,
// so `import "google/api/annotations.proto";` and `import "buf/validate/validate.proto";` work offline. The top-level proto/ stays the one
// source; this copy is made at build time, so the package can never carry a stale one.
import { cpSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

for (const dir of ["orrery", "google", "buf"]) {
  const from = fileURLToPath(new URL(`../../proto/${dir}`, import.meta.url));
  const to = fileURLToPath(new URL(`../proto/${dir}`, import.meta.url));
  mkdirSync(to, { recursive: true });
  cpSync(from, to, { recursive: true });
}
