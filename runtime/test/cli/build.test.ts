import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { freePort } from "../support/embedded-postgres.js";
import { admin, postgresServerUrl, stopPostgresServer, withDatabase } from "../support/postgres-server.js";
import { cleanEnv, copySample, startOrrery, startProcess, waitReady } from "./cli-process.js";
import type { WatchedProcess } from "./cli-process.js";

describe("orrery build", function () {
  this.timeout(180_000);

  describe("of the shopping-cart sample", () => {
    let project: { dir: string; remove(): Promise<void> };
    let build: WatchedProcess;
    let runDir: string;
    let executable: string;

    before(async function () {
      this.timeout(240_000);
      project = await copySample("build");
      build = startOrrery(["build"], project.dir, cleanEnv());
      assert.equal(await build.exited, 0, build.output);
      // An empty folder outside the repository: nothing to resolve node_modules from.
      runDir = await mkdtemp(path.join(os.tmpdir(), "orrery-bin-run-"));
      executable = path.join(runDir, "shopping-cart");
      await copyFile(path.join(project.dir, "dist-bin", "shopping-cart"), executable);
      await chmod(executable, 0o755);
    });
    after(async () => {
      await project?.remove();
      if (runDir !== undefined) await rm(runDir, { recursive: true, force: true });
      await stopPostgresServer();
    });

    it("prints what it built: bundle size, executable size, time", () => {
      assert.match(build.output, /bundle {6}[\d.]+ (MB|kB) {2}esbuild, [\d.]+ s/);
      assert.match(build.output, /assets {6}PGlite pglite\.wasm [\d.]+ MB, initdb\.wasm [\d.]+ kB, pglite\.data [\d.]+ MB/);
      assert.match(build.output, /executable {2}dist-bin\/shopping-cart {2}[\d.]+ MB \(blob [\d.]+ MB\), [\d.]+ s/);
      assert.match(build.output, /built in [\d.]+ s; run it: PORT=8080 dist-bin\/shopping-cart/);
    });

    it("writes a Dockerfile for the executable: debian-slim, a non-root user, the port exposed", async () => {
      const text = await readFile(path.join(project.dir, "dist-bin", "Dockerfile"), "utf8");
      assert.match(text, /^FROM debian:bookworm-slim$/m);
      assert.match(text, /^COPY --chmod=0755 shopping-cart \/usr\/local\/bin\/shopping-cart$/m);
      assert.match(text, /^USER orrery$/m);
      assert.match(text, /^EXPOSE 8080$/m);
      assert.match(text, /^ENTRYPOINT \["\/usr\/local\/bin\/shopping-cart"\]$/m);
    });

    it("runs alone on PGlite, in a data directory relative to where it runs, and keeps the data across a restart", async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env = cleanEnv({ PORT: String(port), PATH: "/usr/bin:/bin" });
      const first = startProcess(executable, [], runDir, env);
      try {
        await waitReady(url, first);
        const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
        const cart = await client.addItem({ cartId: "bin-cart", productId: "lamp", name: "Lamp", quantity: 3 });
        assert.deepEqual(cart.items.map((i) => [i.productId, i.quantity]), [["lamp", 3]]);
      } finally {
        assert.equal(await first.stop(), 0, first.output);
      }
      assert.ok((await stat(path.join(runDir, ".orrery", "data"))).isDirectory());
      assert.doesNotMatch(first.output, /ExperimentalWarning/);

      const second = startProcess(executable, [], runDir, env);
      try {
        await waitReady(url, second);
        const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
        const cart = await client.getCart({ cartId: "bin-cart" });
        assert.deepEqual(cart.items.map((i) => [i.productId, i.quantity]), [["lamp", 3]]);
      } finally {
        assert.equal(await second.stop(), 0, second.output);
      }
    });

    it("runs on PostgreSQL with DATABASE_URL", async () => {
      const server = await postgresServerUrl();
      const database = `orrery_bin_${process.pid}_${randomBytes(3).toString("hex")}`;
      await admin(server, `create database ${database}`);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const service = startProcess(executable, [], runDir, cleanEnv({ PORT: String(port), DATABASE_URL: withDatabase(server, database) }));
      try {
        await waitReady(url, service);
        const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
        await client.addItem({ cartId: "pg-cart", productId: "desk", name: "Desk", quantity: 1 });
        const db = new pg.Client({ connectionString: withDatabase(server, database) });
        await db.connect();
        try {
          const { rows } = await db.query<{ n: string }>("select count(*) as n from orrery_events where entity_id = 'pg-cart'");
          assert.equal(rows[0]?.n, "1");
        } finally {
          await db.end();
        }
      } finally {
        assert.equal(await service.stop(), 0, service.output);
        await admin(server, `drop database if exists ${database} with (force)`);
      }
    });
  });

  describe("a user's mistake", () => {
    let scratch: string;
    before(async () => (scratch = await mkdtemp(path.join(os.tmpdir(), "orrery-bin-build-"))));
    after(() => rm(scratch, { recursive: true, force: true }));

    const oneLine = (output: string, pattern: RegExp): void => {
      assert.equal(output.trim().split("\n").length, 1, output);
      assert.match(output, pattern);
      assert.doesNotMatch(output, /\n\s+at |node:internal/, "no stack trace");
    };

    it("outside a project: one line, exit 1", async () => {
      const build = startOrrery(["build"], scratch, cleanEnv());
      assert.equal(await build.exited, 1);
      oneLine(build.output, /^orrery build: \S+ is not a project folder \(no package\.json\)/);
    });

    it("without src/main.ts: one line, exit 1", async () => {
      await writeFile(path.join(scratch, "package.json"), '{ "name": "no-main", "type": "module" }\n');
      const build = startOrrery(["build"], scratch, cleanEnv());
      assert.equal(await build.exited, 1);
      oneLine(build.output, /^orrery build: no src\/main\.ts in \S+/);
    });

    it("an import that does not resolve: the file and line, exit 1", async () => {
      await writeFile(path.join(scratch, "package.json"), '{ "name": "bad-import", "type": "module" }\n');
      await mkdir(path.join(scratch, "src"), { recursive: true });
      await writeFile(path.join(scratch, "src", "main.ts"), '// entry\nimport { cart } from "./cart.js";\n\nconsole.log(cart);\n');
      const build = startOrrery(["build"], scratch, cleanEnv());
      assert.equal(await build.exited, 1);
      const lines = build.output.trim().split("\n");
      oneLine(lines.at(-1)!, /^orrery build: src\/main\.ts:2:22: Could not resolve "\.\/cart\.js"$/);
      assert.equal(lines.filter((l) => l.startsWith("orrery build: src/")).length, 1, build.output);
    });
  });
});
