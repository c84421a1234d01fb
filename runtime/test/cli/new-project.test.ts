// The new user's whole trip, outside the repository: `orrery new` from this
// checkout (its packages packed into the project), npm install, generate,
// type check, the project's own tests, `npm start` on PGlite and a persisted
// call that survives a restart.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort } from "../support/embedded-postgres.js";
import { cleanEnv, repoRoot, startOrrery, startProcess, waitReady } from "./cli-process.js";
import type { WatchedProcess } from "./cli-process.js";

/** What a user's shell has: none of this process's npm script variables or Orrery settings. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  for (const name of Object.keys(env)) {
    if ((name.startsWith("npm_") && !/^npm_config_(cache|registry|userconfig)$/i.test(name)) || name.startsWith("ORRERY_") || name === "INIT_CWD") delete env[name];
  }
  return env;
}

/** Runs `npm args` in `cwd` to its end; fails the test with the output when it fails. */
function npm(cwd: string, args: string[], env = userEnv()): string {
  const result = spawnSync("npm", args, { cwd, env, encoding: "utf8", timeout: 240_000 });
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, `npm ${args.join(" ")} in ${cwd} failed (${result.error?.message ?? result.status}):\n${output}`);
  return output;
}

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const file = path.join(entry.parentPath, entry.name);
      out.set(path.relative(dir, file), await readFile(file, "utf8"));
    }
  }
  return out;
}

async function call(url: string, method: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}/counter.v1.CounterService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe("a new project from orrery new, outside the repository", function () {
  this.timeout(600_000);
  let parent: string;
  let dir: string;
  let started: number;
  const steps: string[] = [];
  const step = <T>(label: string, work: () => T): T => {
    const at = Date.now();
    const result = work();
    steps.push(`${label} ${((Date.now() - at) / 1000).toFixed(1)} s`);
    return result;
  };

  before(async function () {
    this.timeout(600_000);
    parent = await mkdtemp(path.join(os.tmpdir(), "orrery-new-"));
    dir = path.join(parent, "my-service");
    started = Date.now();
    const created = startOrrery(["new", dir], parent, userEnv());
    assert.equal(await created.exited, 0, created.output);
    steps.push(`orrery new ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.match(created.output, /wrote my-service in .*@orrery\/\* packed from the checkout/);
    assert.match(created.output, /cd my-service\n {2}npm install\n {2}npm start/);
  });

  after(async () => {
    if (parent !== undefined) await rm(parent, { recursive: true, force: true });
  });

  it("writes the project: manifest, buf config, proto, generated code, implementation, tests, README, .gitignore", async () => {
    for (const file of ["package.json", "buf.yaml", "buf.gen.yaml", "tsconfig.json", ".gitignore", "README.md", "proto/counter/v1/counter.proto", "src/main.ts", "src/counter.ts", "src/gen/counter/v1/counter_orrery.ts", "src/gen/counter/v1/counter_pb.ts", "test/counter.test.ts", "test/counter-e2e.test.ts"]) {
      assert.ok(existsSync(path.join(dir, file)), `${file} is written`);
    }
    const manifest = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { name: string; type: string; scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    assert.equal(manifest.name, "my-service");
    assert.equal(manifest.type, "module");
    assert.deepEqual(Object.keys(manifest.scripts).sort(), ["build", "cluster", "dev", "generate", "start", "test", "typecheck"]);
    assert.match(manifest.dependencies["@orrery/runtime"]!, /^file:vendor\/orrery\/orrery-runtime-[\d.]+\.tgz$/);
    assert.match(manifest.dependencies["@orrery/sdk"]!, /^file:vendor\/orrery\/orrery-sdk-[\d.]+\.tgz$/);
    assert.match(manifest.devDependencies["@orrery/codegen"]!, /^file:vendor\/orrery\/orrery-codegen-[\d.]+\.tgz$/);
    assert.match(await readFile(path.join(dir, "README.md"), "utf8"), /^# my-service\n/);
  });

  it("pins the same versions of its tools as this repository", async () => {
    const ours = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
    const runtime = JSON.parse(await readFile(path.join(repoRoot, "runtime", "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const theirs = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const known = { ...ours.devDependencies, ...runtime.dependencies };
    for (const [name, version] of Object.entries({ ...theirs.dependencies, ...theirs.devDependencies })) {
      if (!name.startsWith("@orrery/")) assert.equal(version, known[name], `${name} is pinned as the repository pins it`);
    }
  });

  it("installs, regenerates exactly the code it was written with, passes its own type check and tests", async () => {
    step("npm install", () => npm(dir, ["install", "--prefer-offline", "--no-audit", "--no-fund"]));
    const before = await filesUnder(path.join(dir, "src", "gen"));
    step("npm run generate", () => npm(dir, ["run", "generate"]));
    assert.deepEqual(await filesUnder(path.join(dir, "src", "gen")), before, "buf generate in the project writes what the template holds");
    const output = step("npm test", () => npm(dir, ["test"]));
    assert.match(output, /ℹ pass [1-9]\d*/);
    assert.match(output, /ℹ fail 0/);
    // Plain node, no TypeScript loader, can import the installed packages.
    const plain = spawnSync(process.execPath, ["--input-type=module", "-e", "const r = await import('@orrery/runtime'); const s = await import('@orrery/sdk'); console.log(typeof r.createService, typeof s.Code)"], { cwd: dir, encoding: "utf8", env: userEnv() });
    assert.equal(plain.stdout.trim(), "function object", plain.stderr);
  });

  it("the installed orrery (built JavaScript, template in the tarball) writes projects that take @orrery/* from the registry", async () => {
    const other = path.join(parent, "from-installed");
    const run = startProcess(path.join(dir, "node_modules", ".bin", "orrery"), ["new", other], parent, userEnv());
    assert.equal(await run.exited, 0, run.output);
    assert.match(run.output, /@orrery\/\* [\d.]+ from the npm registry/);
    const manifest = JSON.parse(await readFile(path.join(other, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    assert.match(manifest.dependencies["@orrery/runtime"]!, /^\d+\.\d+\.\d+$/);
    assert.equal(existsSync(path.join(other, "vendor")), false);
    assert.deepEqual(await filesUnder(path.join(other, "src")), await filesUnder(path.join(dir, "src")));
  });

  it("serves on PORT with PGlite after npm start and keeps a persisted call across a restart", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = userEnv({ PORT: String(port) });
    let service: WatchedProcess = startProcess("npm", ["start"], dir, env, { group: true });
    try {
      await waitReady(url, service);
      const first = await call(url, "Increase", { counterId: "first", by: 3 });
      steps.push(`first persisted call ${((Date.now() - started) / 1000).toFixed(1)} s after orrery new began`);
      assert.deepEqual(first, { status: 200, json: { counterId: "first", value: "3" } });
      const bad = await call(url, "Increase", { counterId: "first", by: 0 });
      assert.equal(bad.status, 400);
      assert.equal(bad.json["code"], "invalid_argument");
      // Ctrl-C: npm passes on the service's clean exit as its own SIGINT.
      assert.ok([0, "SIGINT"].includes(await service.stop("SIGINT")), service.output);
      assert.match(service.output, /PGlite in \.orrery\/data/);
      assert.match(service.output, /"msg":"stopped"/);
      service = startProcess("npm", ["start"], dir, env, { group: true });
      await waitReady(url, service);
      assert.deepEqual(await call(url, "GetCounter", { counterId: "first" }), { status: 200, json: { counterId: "first", value: "3" } });
    } finally {
      await service.stop();
      console.log(`      new project: ${steps.join(", ")}`);
    }
  });

  it("npm run dev serves it, and a change to the implementation restarts it with the data kept", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dev = startProcess("npm", ["run", "dev"], dir, userEnv({ PORT: String(port) }), { group: true });
    const implementation = path.join(dir, "src", "counter.ts");
    const original = await readFile(implementation, "utf8");
    try {
      await dev.waitFor(/\[dev\] (?:started|restarted) in \d+ ms, serving on http/, { timeoutMs: 120_000 });
      await waitReady(url, dev);
      assert.equal((await call(url, "Increase", { counterId: "dev", by: 4 })).status, 200);
      const from = dev.output.length;
      await writeFile(implementation, original.replace("is zero already", "is at zero already"));
      await dev.waitFor(/\[dev\] src\/counter\.ts changed/, { from });
      await dev.waitFor(/\[dev\] (?:started|restarted) in \d+ ms, serving on http/, { from, timeoutMs: 120_000 });
      await waitReady(url, dev);
      const bad = await call(url, "Reset", { counterId: "dev-zero" });
      assert.match(String(bad.json["message"]), /is at zero already/);
      assert.deepEqual(await call(url, "GetCounter", { counterId: "dev" }), { status: 200, json: { counterId: "dev", value: "4" } });
    } finally {
      await dev.stop("SIGINT");
      await writeFile(implementation, original);
    }
  });

  describe("mistakes", () => {
    it("refuses a folder that is not empty, and writes nothing into it", async () => {
      const busy = path.join(parent, "busy");
      await rm(busy, { recursive: true, force: true });
      await mkdir(busy);
      await writeFile(path.join(busy, "notes.txt"), "mine");
      const run = startOrrery(["new", busy], parent, userEnv());
      assert.equal(await run.exited, 1);
      assert.match(run.output, /^orrery new: .*busy exists and is not empty; pick a new folder/);
      assert.equal(run.output.trim().split("\n").length, 1, run.output);
      assert.deepEqual(await readdir(busy), ["notes.txt"]);
    });

    it("refuses a folder name npm cannot take as a package name, naming --name", async () => {
      const run = startOrrery(["new", path.join(parent, "My Service")], parent, userEnv());
      assert.equal(await run.exited, 1);
      assert.match(run.output, /"My Service" has capital letters, so it cannot be the package name; pass --name <package-name>/);
      assert.equal(existsSync(path.join(parent, "My Service")), false);
    });

    it("refuses an --orrery-from that holds no Orrery", async () => {
      const run = startOrrery(["new", path.join(parent, "x"), "--orrery-from", parent], parent, userEnv());
      assert.equal(await run.exited, 1);
      assert.match(run.output, /is neither an Orrery checkout nor a folder with a orrery-sdk-<version>\.tgz/);
    });
  });

  it("npm create orrery (the create-orrery package) writes the same project, here from the packed tarballs", async () => {
    const other = path.join(parent, "from-create");
    const bin = path.join(repoRoot, "runtime", "create-orrery", "bin", "create-orrery.js");
    const run = startProcess(process.execPath, [bin, other, "--orrery-from", path.join(dir, "vendor", "orrery")], parent, userEnv());
    assert.equal(await run.exited, 0, run.output);
    assert.match(run.output, /wrote from-create in .*copied from/);
    const want = await filesUnder(path.join(dir, "src"));
    assert.deepEqual(await filesUnder(path.join(other, "src")), want);
    assert.deepEqual((await readdir(path.join(other, "vendor", "orrery"))).sort(), (await readdir(path.join(dir, "vendor", "orrery"))).sort());
  });
});
