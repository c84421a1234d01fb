import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { freePort } from "../support/embedded-postgres.js";
import { cleanEnv, copySample, startOrrery, startProcess } from "./cli-process.js";
import type { WatchedProcess } from "./cli-process.js";

const SERVING = /\[dev\] (?:started|restarted) in \d+ ms, serving on (http:\/\/\S+)/;

/** AddItem over Connect's JSON, the way curl would send it, so that a field the old proto lacks can be sent. */
async function addItemJson(url: string, body: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/shop.cart.v1.ShoppingCartService/AddItem`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

/** The parent of `pid`, from /proc (Linux). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** Whether `pid` is a process that still runs (a zombie waiting to be reaped has ended). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function untilGone(pid: number, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; running(pid); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > deadline) {
      process.kill(pid, "SIGKILL"); // leave nothing behind for the next test
      assert.fail(`${what} (pid ${pid}) still runs ${timeoutMs} ms later`);
    }
  }
}

async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, "utf8");
  assert.ok(text.includes(from), `${file} contains ${from}`);
  await writeFile(file, text.replace(from, to));
}

describe("orrery dev", function () {
  this.timeout(180_000);

  describe("on a copy of the shopping-cart sample", () => {
    let project: { dir: string; remove(): Promise<void> };
    let dev: WatchedProcess;
    let url: string;
    const client = () => createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));

    before(async () => {
      project = await copySample("dev");
      const port = await freePort();
      dev = startOrrery(["dev"], project.dir, cleanEnv({ PORT: String(port) }));
      url = (await dev.waitFor(SERVING, { timeoutMs: 120_000 }))[1]!;
      assert.equal(url, `http://127.0.0.1:${port}`);
    });
    after(async () => {
      await dev?.stop("SIGKILL");
      await project?.remove();
    });

    it("generates, type-checks and starts the service, on PGlite in .orrery/data", () => {
      assert.match(dev.output, /\[dev\] storage: PGlite in \.orrery\/data \(kept across restarts\)/);
      assert.match(dev.output, /\[dev\] generate ok \(buf generate, \d+ ms\)/);
      assert.match(dev.output, /\[dev\] type check ok \(tsc --noEmit, \d+ ms\)/);
      assert.match(dev.output, /\[svc\] .*serving shop\.cart\.v1\.ShoppingCartService, shop\.cart\.v1\.ProductPopularityService, shop\.cart\.v1\.PopularProductsConsumer, shop\.cart\.v1\.CartsView, shop\.cart\.v1\.CartReminderService on/);
    });

    it("restarts on a source change, and the data survives the restart", async () => {
      const cart = await client().addItem({ cartId: "dev-cart", productId: "pen", name: "Pen", quantity: 2 });
      assert.equal(cart.items.length, 1);
      const from = dev.output.length;
      await edit(path.join(project.dir, "src", "cart.ts"), '"the cart is empty; add an item before checking out"', '"the cart is empty (edited under orrery dev)"');
      await dev.waitFor(/\[dev\] src\/cart\.ts changed/, { from });
      await dev.waitFor(SERVING, { from });
      await assert.rejects(
        client().checkout({ cartId: "dev-empty-cart" }),
        (error: unknown) => ConnectError.from(error).rawMessage.includes("(edited under orrery dev)"),
      );
      const again = await client().getCart({ cartId: "dev-cart" });
      assert.deepEqual(again.items.map((i) => [i.productId, i.quantity]), [["pen", 2]]);
    });

    it("regenerates on a proto change and serves the new field", async () => {
      const withNote = { cartId: "dev-cart", productId: "ink", name: "Ink", quantity: 1, giftNote: "for you" };
      const before = await addItemJson(url, withNote);
      assert.notEqual(before.status, 200, "the old proto has no gift_note");
      const from = dev.output.length;
      await edit(path.join(project.dir, "proto", "shop", "cart", "v1", "cart.proto"), "  int32 quantity = 4 [(buf.validate.field).int32.gt = 0];\n}", "  int32 quantity = 4 [(buf.validate.field).int32.gt = 0];\n  string gift_note = 5;\n}");
      await dev.waitFor(/\[dev\] proto\/shop\/cart\/v1\/cart\.proto changed/, { from });
      await dev.waitFor(/\[dev\] generate ok/, { from });
      await dev.waitFor(SERVING, { from });
      const generated = await readFile(path.join(project.dir, "src", "gen", "shop", "cart", "v1", "cart_pb.ts"), "utf8");
      assert.match(generated, /giftNote/);
      const after = await addItemJson(url, withNote);
      assert.equal(after.status, 200, after.text);
      assert.deepEqual((await client().getCart({ cartId: "dev-cart" })).items.map((i) => i.productId), ["pen", "ink"]);
    });

    it("reports a failing generate with buf's message, keeps serving, and restarts once the proto is fixed", async () => {
      const proto = path.join(project.dir, "proto", "shop", "cart", "v1", "cart.proto");
      let from = dev.output.length;
      await edit(proto, "string gift_note = 5;", "strin gift_note = 5;");
      await dev.waitFor(/\[dev\] generate failed \(buf generate, \d+ ms\):/, { from });
      await dev.waitFor(/\[dev\] still serving the last good build on/, { from });
      assert.match(dev.output.slice(from), /cart\.proto:\d+:\d+:.*strin/);
      assert.equal((await client().getCart({ cartId: "dev-cart" })).items.length, 2);
      from = dev.output.length;
      await edit(proto, "strin gift_note = 5;", "string gift_note = 5;");
      await dev.waitFor(/\[dev\] generate ok/, { from });
      await dev.waitFor(SERVING, { from });
      assert.equal((await client().getCart({ cartId: "dev-cart" })).items.length, 2);
    });

    it("reports a type error and keeps the last good server answering", async () => {
      const from = dev.output.length;
      const file = path.join(project.dir, "src", "cart.ts");
      await writeFile(file, `${await readFile(file, "utf8")}\nexport const broken: number = "not a number";\n`);
      await dev.waitFor(/\[dev\] type check \(1 error\) failed/, { from });
      const report = await dev.waitFor(/\[dev\] still serving the last good build on (\S+)/, { from });
      assert.equal(report[1], url);
      assert.match(dev.output.slice(from), /src\/cart\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
      assert.doesNotMatch(dev.output.slice(from), SERVING);
      const cart = await client().getCart({ cartId: "dev-cart" });
      assert.deepEqual(cart.items.map((i) => i.productId), ["pen", "ink"]);
    });

    it("stops the service and itself on SIGTERM", async () => {
      const code = await dev.stop("SIGTERM");
      assert.equal(code, 0, dev.output);
      assert.match(dev.output, /\[dev\] SIGTERM: stopping/);
      assert.match(dev.output, /\[dev\] stopped/);
      await assert.rejects(fetch(`${url}/readyz`), "nothing listens any more");
    });
  });

  describe("as `npm run dev`, at LOG_LEVEL=warn", () => {
    let project: { dir: string; remove(): Promise<void> };
    const groups: number[] = [];
    before(async () => (project = await copySample("npm-dev")));
    // A failed test leaves nothing running: npm, its shell and orrery dev share the group; a service has its own.
    afterEach(() => {
      for (const group of groups.splice(0)) {
        try {
          process.kill(-group, "SIGKILL");
        } catch {
          // already gone
        }
      }
    });
    after(() => project?.remove());

    /** `npm run dev` in its own process group; resolves once it serves, with the pids of `orrery dev` and of the service. */
    async function startNpmDev() {
      const port = await freePort();
      const npm = startProcess("npm", ["run", "dev"], project.dir, cleanEnv({ PORT: String(port), LOG_LEVEL: "warn" }), { detached: true });
      groups.push(npm.child.pid!);
      const serving = await npm.waitFor(/\[dev\] started in \d+ ms, serving on (http:\/\/\S+) \(pid (\d+)\)/, { timeoutMs: 120_000 });
      const service = Number(serving[2]);
      groups.push(service); // its own group (orrery dev starts it detached)
      const dev = parentOf(service);
      assert.notEqual(dev, npm.child.pid, "npm runs orrery dev under a shell");
      return { npm, url: serving[1]!, service, dev };
    }

    // Regression: at LOG_LEVEL=warn the "serving … on" line never came, and orrery dev waited for it forever.
    it("sees the service ready although it logs nothing at info, and stops it on SIGTERM to npm, leaving no process behind", async () => {
      const { npm, url, service, dev } = await startNpmDev();
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      assert.doesNotMatch(npm.output, /\[svc\].*serving/);
      // Regression: npm passed SIGTERM to `sh -c orrery dev`, dash died of it, and orrery dev and the service kept running.
      process.kill(npm.child.pid!, "SIGTERM");
      await untilGone(dev, "orrery dev");
      await untilGone(service, "the service");
      await npm.exited;
      assert.match(npm.output, /\[dev\] the parent process exited: stopping/);
      assert.match(npm.output, /\[dev\] stopped/);
    });

    it("stops on Ctrl-C (SIGINT to the whole process group), leaving no process behind", async () => {
      const { npm, service, dev } = await startNpmDev();
      process.kill(-npm.child.pid!, "SIGINT");
      await untilGone(dev, "orrery dev");
      await untilGone(service, "the service");
      await npm.exited;
      assert.match(npm.output, /\[dev\] SIGINT: stopping/);
      assert.match(npm.output, /\[dev\] stopped/);
    });

    it("leaves no service behind when orrery dev itself is killed outright", async () => {
      const { npm, service, dev } = await startNpmDev();
      process.kill(dev, "SIGKILL");
      await untilGone(service, "the service");
      await npm.exited;
    });
  });

  describe("outside a project", () => {
    let empty: string;
    before(async () => (empty = await mkdtemp(path.join(os.tmpdir(), "orrery-bin-dev-"))));
    after(() => rm(empty, { recursive: true, force: true }));

    it("says in one line that the folder is not a project, and exits 1", async () => {
      const dev = startOrrery(["dev"], empty, cleanEnv());
      assert.equal(await dev.exited, 1);
      assert.match(dev.output, /^orrery dev: \S+ is not a project folder \(no package\.json\); run it where your service's package\.json is/);
      assert.equal(dev.output.trim().split("\n").length, 1, dev.output);
    });

    it("says in one line that src/main.ts is missing, and exits 1", async () => {
      await writeFile(path.join(empty, "package.json"), '{ "name": "no-main", "type": "module" }\n');
      const dev = startOrrery(["dev"], empty, cleanEnv());
      assert.equal(await dev.exited, 1);
      assert.match(dev.output, /^orrery dev: no src\/main\.ts in \S+; the service's entry point must be src\/main\.ts/);
      assert.equal(dev.output.trim().split("\n").length, 1, dev.output);
    });
  });
});
