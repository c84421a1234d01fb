// The one-way dependency rules of DESIGN.md, checked on the source text:
// the sdk never imports the runtime, and generated code imports only
// @bufbuild/protobuf, @orrery/sdk and its sibling generated files.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.join(e.parentPath, e.name));
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!);
}

describe("dependency direction", () => {
  it("keeps the sdk free of runtime, storage and server imports", () => {
    for (const file of tsFiles(path.join(root, "sdk/src"))) {
      for (const spec of imports(file)) {
        assert.ok(!/@orrery\/runtime|\/runtime\/|kysely|pglite|^pg$|pino|node:http/.test(spec), `${path.relative(root, file)} imports ${spec}`);
      }
    }
  });

  it("lets generated Orrery code import only @bufbuild/protobuf, @orrery/sdk and generated siblings", () => {
    const generated = tsFiles(path.join(root, "samples")).filter((f) => f.endsWith("_orrery.ts"));
    assert.ok(generated.length > 0, "no generated *_orrery.ts found");
    for (const file of generated) {
      for (const spec of imports(file)) {
        assert.ok(/^@bufbuild\/protobuf(\/|$)|^@orrery\/sdk$|^\.\.?\/.*_pb\.js$/.test(spec), `${path.relative(root, file)} imports ${spec}`);
      }
    }
  });
});
