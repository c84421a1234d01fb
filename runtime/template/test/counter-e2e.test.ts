// End to end: the service on a free port with PGlite in a temporary folder,
// called through the generated client over Connect and gRPC.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { counter } from "../src/counter.js";
import { CounterService } from "../src/gen/counter/v1/counter_pb.js";

describe("the counter service, served", () => {
  let dataDir: string;
  let service: OrreryService;
  let baseUrl: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "counter-test-"));
    // databaseUrl: undefined forces PGlite even when DATABASE_URL is set.
    service = createService({ components: [counter], port: 0, host: "127.0.0.1", dataDir, databaseUrl: undefined, logLevel: "warn", handleSignals: false });
    baseUrl = (await service.start()).url;
  });

  after(async () => {
    await service?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("increases and reads a counter over Connect", async () => {
    const client = createClient(CounterService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
    await client.increase({ counterId: "e2e", by: 2 });
    assert.equal((await client.increase({ counterId: "e2e", by: 5 })).value, 7n);
    assert.equal((await client.getCounter({ counterId: "e2e" })).value, 7n);
  });

  it("answers a bad request with its code over gRPC", async () => {
    const client = createClient(CounterService, createGrpcTransport({ baseUrl }));
    await assert.rejects(client.increase({ counterId: "e2e-grpc", by: -1 }), (error) => ConnectError.from(error).code === Code.InvalidArgument);
  });

  it("keeps the counter across a restart", async () => {
    const client = createClient(CounterService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    await client.increase({ counterId: "kept", by: 3 });
    await service.stop();
    service = createService({ components: [counter], port: 0, host: "127.0.0.1", dataDir, databaseUrl: undefined, logLevel: "warn", handleSignals: false });
    const again = createClient(CounterService, createConnectTransport({ baseUrl: (await service.start()).url, httpVersion: "2" }));
    assert.equal((await again.getCounter({ counterId: "kept" })).value, 3n);
  });
});
