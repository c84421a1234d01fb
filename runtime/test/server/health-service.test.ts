import assert from "node:assert/strict";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  createReadiness,
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  registerHealthService,
} from "../../src/server/index.js";
import { startTestServer } from "./helpers.js";

describe("registerHealthService", () => {
  it("answers Check with SERVING only while the readiness is serving", async () => {
    const readiness = createReadiness();
    const client = createClient(Health, createRouterTransport((router) => registerHealthService(router, readiness)));
    assert.equal((await client.check({})).status, ServingStatus.NOT_SERVING);
    readiness.set("serving");
    assert.equal((await client.check({})).status, ServingStatus.SERVING);
    assert.equal((await client.check({ service: "grpc.health.v1.Health" })).status, ServingStatus.SERVING);
    readiness.set("draining");
    assert.equal((await client.check({})).status, ServingStatus.NOT_SERVING);
  });

  it("accepts a callback as the readiness", async () => {
    let ready = false;
    const client = createClient(Health, createRouterTransport((router) => registerHealthService(router, () => ready)));
    assert.equal((await client.check({})).status, ServingStatus.NOT_SERVING);
    ready = true;
    assert.equal((await client.check({})).status, ServingStatus.SERVING);
  });

  it("answers Check for an unregistered service with NOT_FOUND", async () => {
    const client = createClient(Health, createRouterTransport((router) => registerHealthService(router, createReadiness("serving"))));
    const error = await client.check({ service: "shop.cart.v1.Nope" }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.NotFound);
    assert.equal(error.rawMessage, 'grpc.health.v1.Health/Check: unknown service "shop.cart.v1.Nope"');
  });

  it("streams the status from Watch, then NOT_SERVING when draining, then ends", async () => {
    const t = await startTestServer();
    t.readiness.set("starting");
    const client = createClient(Health, createGrpcTransport({ baseUrl: t.url }));
    const seen: ServingStatus[] = [];
    const watching = (async () => {
      for await (const { status } of client.watch({})) {
        seen.push(status);
        if (status === ServingStatus.NOT_SERVING && seen.length === 1) t.readiness.set("serving");
        if (status === ServingStatus.SERVING) t.readiness.set("draining");
      }
    })();
    await watching;
    await t.server.close({ graceMs: 0 });
    assert.deepEqual(seen, [ServingStatus.NOT_SERVING, ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });

  it("streams SERVICE_UNKNOWN from Watch for an unregistered service", async () => {
    const client = createClient(Health, createRouterTransport((router) => registerHealthService(router, createReadiness("draining"))));
    const seen: ServingStatus[] = [];
    for await (const { status } of client.watch({ service: "shop.cart.v1.Nope" })) seen.push(status);
    assert.deepEqual(seen, [ServingStatus.SERVICE_UNKNOWN]);
  });
});
