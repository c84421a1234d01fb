import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { pluginVersion } from "../src/index.js";
import { bufBin, repoRoot } from "./compile-protos.js";

const run = promisify(execFile);
const binDir = path.join(repoRoot, "node_modules", ".bin");
const env = { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}` };

/** A buf module in a temp dir holding options.proto, google/api, buf/validate and the sample cart, or a broken copy of it. */
async function createModule(broken: boolean): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "orrery-bin-"));
  await writeFile(path.join(dir, "buf.yaml"), "version: v2\n");
  await mkdir(path.join(dir, "orrery/v1"), { recursive: true });
  await mkdir(path.join(dir, "shop/cart/v1"), { recursive: true });
  await copyFile(path.join(repoRoot, "proto/orrery/v1/options.proto"), path.join(dir, "orrery/v1/options.proto"));
  await mkdir(path.join(dir, "google/api"), { recursive: true });
  for (const name of ["annotations.proto", "http.proto"]) await copyFile(path.join(repoRoot, "proto/google/api", name), path.join(dir, "google/api", name));
  await mkdir(path.join(dir, "buf/validate"), { recursive: true });
  await copyFile(path.join(repoRoot, "proto/buf/validate/validate.proto"), path.join(dir, "buf/validate/validate.proto"));
  const cart = await readFile(path.join(repoRoot, "samples/shopping-cart/proto/shop/cart/v1/cart.proto"), "utf8");
  await writeFile(path.join(dir, "shop/cart/v1/cart.proto"), broken ? cart.replace('state: "Cart"', 'state: "Crt"') : cart);
  return dir;
}

/** Runs `buf generate` with protoc-gen-orrery only; `plugin` is a name on PATH or a path. */
async function bufGenerate(dir: string, plugin: string): Promise<{ code: number; stderr: string }> {
  const template = JSON.stringify({
    version: "v2",
    plugins: [{ local: plugin, out: "gen", strategy: "all", opt: ["target=ts", "import_extension=js"] }],
  });
  try {
    const { stderr } = await run(bufBin, ["generate", "--template", template], { cwd: dir, env });
    return { code: 0, stderr };
  } catch (e) {
    const { code, stderr } = e as { code: number; stderr: string };
    return { code, stderr };
  }
}

describe("protoc-gen-orrery", () => {
  describe("run by buf", () => {
    const dirs: string[] = [];
    let good: { code: number; stderr: string };
    let bad: { code: number; stderr: string };
    let version: string;
    before(async () => {
      dirs.push(await createModule(false), await createModule(true));
      // One run by name from node_modules/.bin, one by path; in parallel to keep the suite fast.
      [good, bad, { stdout: version }] = await Promise.all([
        bufGenerate(dirs[0] ?? "", "protoc-gen-orrery"),
        bufGenerate(dirs[1] ?? "", path.join(repoRoot, "codegen/bin/protoc-gen-orrery.js")),
        run(path.join(binDir, "protoc-gen-orrery"), ["--version"], { env }),
      ]);
    });
    after(async () => {
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    });

    it("writes cart_orrery.ts when found on PATH as protoc-gen-orrery", async () => {
      assert.equal(good.code, 0, good.stderr);
      const content = await readFile(path.join(dirs[0] ?? "", "gen/shop/cart/v1/cart_orrery.ts"), "utf8");
      assert.match(content, /^export const ShoppingCart: EventSourcedEntityDefinition</m);
    });

    it("fails the generation with every problem on stderr when run by path", () => {
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /protoc-gen-orrery: 1 problem in the Orrery options:/);
      assert.match(bad.stderr, /shop\/cart\/v1\/cart\.proto:\d+:1: service shop\.cart\.v1\.ShoppingCartService, option \(orrery\.v1\.component\)\.event_sourced_entity\.state: message "Crt" not found .*did you mean "Cart"\? Fix: /);
    });

    it("prints its name and version with --version", () => {
      assert.equal(version, `protoc-gen-orrery ${pluginVersion}\n`);
    });
  });
});
