import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { findExampleCall } from "../../src/cli/cluster/example-call.js";
import { repoRoot } from "./cli-process.js";

describe("the example call orrery cluster prints", () => {
  it("is the shopping cart's read-only GetCart with only the entity key, in JSON", () => {
    assert.deepEqual(findExampleCall(path.join(repoRoot, "samples", "shopping-cart", "proto")), {
      path: "/shop.cart.v1.ShoppingCartService/GetCart",
      body: '{"cartId":"c1"}',
    });
  });

  it("is the new project's GetCounter", () => {
    assert.deepEqual(findExampleCall(path.join(repoRoot, "runtime", "template", "proto")), {
      path: "/counter.v1.CounterService/GetCounter",
      body: '{"counterId":"c1"}',
    });
  });

  it("is the first method when none is read-only, and there is none without a proto folder", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "orrery-example-"));
    try {
      await writeFile(path.join(dir, "a.proto"), 'syntax = "proto3";\npackage a.v1;\n// rpc Hidden(X) returns (Y);\nservice S {\n  rpc Do(DoRequest) returns (DoReply);\n}\nmessage DoRequest { string id = 1; }\nmessage DoReply {}\n');
      assert.deepEqual(findExampleCall(dir), { path: "/a.v1.S/Do", body: "{}" });
      assert.equal(findExampleCall(path.join(dir, "missing")), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
