import assert from "node:assert/strict";
import { envelope, rawGrpc, rawGrpcWeb, startTestServer, type TestServer } from "./helpers.js";

describe("createFallbackHandler", () => {
  let t: TestServer;
  before(async () => (t = await startTestServer()));
  after(() => t.server.close({ graceMs: 0 }));

  it("answers GET /healthz with 200 while the process is alive, even when not ready", async () => {
    t.readiness.set("starting");
    try {
      const res = await fetch(`${t.url}/healthz`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "ok\n");
    } finally {
      t.readiness.set("serving");
    }
  });

  it("answers GET /readyz with 200 when serving and 503 while starting or draining", async () => {
    const readyz = async () => {
      const res = await fetch(`${t.url}/readyz`);
      return `${res.status} ${(await res.text()).trim()}`;
    };
    assert.equal(await readyz(), "200 serving");
    t.readiness.set("starting");
    assert.equal(await readyz(), "503 starting");
    t.readiness.set("draining");
    assert.equal(await readyz(), "503 draining");
    t.readiness.set("serving");
  });

  it("answers an unknown procedure over Connect with HTTP 404 and a Connect error body", async () => {
    const res = await fetch(`${t.url}/shop.cart.v1.Nope/AddItem`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), {
      code: "unimplemented",
      message: 'unknown service "shop.cart.v1.Nope"; this server has: grpc.health.v1.Health',
    });
  });

  it("answers a Connect GET for an unknown method with HTTP 404", async () => {
    const res = await fetch(`${t.url}/grpc.health.v1.Health/Nope?connect=v1&encoding=json&message=%7B%7D`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { message: string }).message, 'service grpc.health.v1.Health has no method "Nope"; its methods: Check, Watch');
  });

  it("answers a path that is no procedure at all with a hint", async () => {
    const res = await fetch(`${t.url}/favicon.ico`);
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { message: string }).message, /^no procedure at "\/favicon\.ico"; procedures are served at/);
  });

  it("answers an unknown procedure over gRPC with status 12 in the trailers", async () => {
    assert.deepEqual(await rawGrpc(t.url, "/shop.cart.v1.Nope/AddItem", envelope(new Uint8Array(0))), {
      status: "12",
      message: 'unknown service "shop.cart.v1.Nope"; this server has: grpc.health.v1.Health',
    });
  });

  it("answers an unknown procedure over gRPC-Web with status 12 in the trailer frame", async () => {
    assert.deepEqual(await rawGrpcWeb(t.url, "/grpc.health.v1.Health/Nope", envelope(new Uint8Array(0))), {
      status: "12",
      message: 'service grpc.health.v1.Health has no method "Nope"; its methods: Check, Watch',
    });
  });
});
