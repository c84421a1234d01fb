import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { lockDataDir } from "../../src/storage/data-dir-lock.js";
import { StorageError } from "../../src/storage/index.js";

describe("lockDataDir", () => {
  let root: string;
  beforeEach(async () => (root = await mkdtemp(path.join(os.tmpdir(), "orrery-test-lock-"))));
  afterEach(() => rm(root, { recursive: true, force: true }));

  it("creates parent directories and writes the pid next to the data directory", async () => {
    const dataDir = path.join(root, "a", "b", "data");
    const lock = await lockDataDir(dataDir);
    assert.equal((await readFile(`${dataDir}.lock`, "utf8")).trim(), String(process.pid));
    await lock.release();
    await lock.release();
    await (await lockDataDir(dataDir)).release();
  });

  it("refuses a data directory held by another live process", async () => {
    const dataDir = path.join(root, "data");
    await writeFile(`${dataDir}.lock`, `${process.ppid}\n`);
    await assert.rejects(lockDataDir(dataDir), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, new RegExp(`in use by process ${process.ppid}: PGlite serves one process per data directory`));
      return true;
    });
  });

  it("takes over a lock left by a process that exited", async () => {
    const dataDir = path.join(root, "data");
    const exited = spawnSync(process.execPath, ["-e", "0"]).pid;
    await writeFile(`${dataDir}.lock`, `${exited}\n`);
    const lock = await lockDataDir(dataDir);
    assert.equal((await readFile(`${dataDir}.lock`, "utf8")).trim(), String(process.pid));
    await lock.release();
  });
});
