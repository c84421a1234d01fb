import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../../src/server/index.js";
import { envelope, HealthWithNope, NopeService, rawGrpc, rawGrpcWeb, startTestServer, type TestServer } from "./helpers.js";

const check = "/grpc.health.v1.Health/Check";
const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff]); // field 1, length varint never ends

describe("createConnectHandler", () => {
  let t: TestServer;
  let transports: Record<string, Transport>;
  before(async () => {
    t = await startTestServer({ readMaxBytes: 1024 });
    transports = {
      "Connect over HTTP/1.1": createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }),
      "Connect over HTTP/2": createConnectTransport({ baseUrl: t.url, httpVersion: "2" }),
      "Connect JSON over HTTP/2": createConnectTransport({ baseUrl: t.url, httpVersion: "2", useBinaryFormat: false }),
      gRPC: createGrpcTransport({ baseUrl: t.url }),
      "gRPC-Web": createGrpcWebTransport({ baseUrl: t.url, httpVersion: "1.1" }),
    };
  });
  after(() => t.server.close({ graceMs: 0 }));

  async function rejection(call: Promise<unknown>): Promise<ConnectError> {
    const error = await call.then(() => assert.fail("the call succeeded"), (e: unknown) => e);
    return ConnectError.from(error);
  }

  for (const name of ["Connect over HTTP/1.1", "Connect over HTTP/2", "Connect JSON over HTTP/2", "gRPC", "gRPC-Web"]) {
    describe(`over ${name}`, () => {
      const client = () => createClient(Health, transports[name]!);

      it("answers a call", async () => {
        assert.equal((await client().check({})).status, ServingStatus.SERVING);
      });

      it("answers an unknown service with UNIMPLEMENTED naming the services it has", async () => {
        const error = await rejection(createClient(NopeService, transports[name]!).check({}));
        assert.equal(error.code, Code.Unimplemented);
        assert.equal(error.rawMessage, 'unknown service "shop.cart.v1.Nope"; this server has: grpc.health.v1.Health');
      });

      it("answers an unknown method with UNIMPLEMENTED naming the methods the service has", async () => {
        const error = await rejection(createClient(HealthWithNope, transports[name]!).nope({}));
        assert.equal(error.code, Code.Unimplemented);
        assert.equal(error.rawMessage, 'service grpc.health.v1.Health has no method "Nope"; its methods: Check, Watch');
      });

      it("answers a message over readMaxBytes with RESOURCE_EXHAUSTED naming the method, and stays up", async () => {
        const error = await rejection(client().check({ service: "x".repeat(2000) }));
        assert.equal(error.code, Code.ResourceExhausted);
        assert.match(error.rawMessage, /^grpc\.health\.v1\.Health\/Check: request body too large: message size (\d+ )?is larger than configured readMaxBytes 1024$/);
        assert.equal((await client().check({})).status, ServingStatus.SERVING);
      });
    });
  }

  it("answers a grpc-js client over h2c", async () => {
    const client = new grpc.Client(`127.0.0.1:${t.port}`, grpc.credentials.createInsecure());
    const encode = (m: HealthCheckRequest) => Buffer.from(toBinary(HealthCheckRequestSchema, m));
    const call = (service: string, serialize = encode, path = check) =>
      new Promise<HealthCheckResponse>((resolve, reject) =>
        client.makeUnaryRequest(path, serialize, (b: Buffer) => fromBinary(HealthCheckResponseSchema, b), create(HealthCheckRequestSchema, { service }), (err, res) => (err ? reject(err) : resolve(res!))),
      );
    const failure = (p: Promise<unknown>) => p.then(() => assert.fail("the call succeeded"), (e: grpc.ServiceError) => [e.code, e.details]);
    try {
      assert.equal((await call("")).status, ServingStatus.SERVING);
      assert.deepEqual(await failure(call("", () => Buffer.from(garbage))), [
        grpc.status.INVALID_ARGUMENT,
        "grpc.health.v1.Health/Check: invalid request body: parse binary: premature EOF",
      ]);
      // connect-es percent-encodes ":" and "/", which grpc-js (decodeURI) would show as %3A and %2F.
      assert.deepEqual(await failure(call("shop.v1.Nope, 100% gone: ünïcode")), [
        grpc.status.NOT_FOUND,
        'grpc.health.v1.Health/Check: unknown service "shop.v1.Nope, 100% gone: ünïcode"',
      ]);
      assert.deepEqual(await failure(call("", encode, "/grpc.health.v1.Health/Nope")), [
        grpc.status.UNIMPLEMENTED,
        'service grpc.health.v1.Health has no method "Nope"; its methods: Check, Watch',
      ]);
    } finally {
      client.close();
    }
  });

  it("answers a curl-like HTTP/1.1 POST of Connect JSON", async () => {
    const { status, body } = await post(t.url + check, "application/json", "{}");
    assert.equal(status, 200);
    assert.deepEqual(JSON.parse(body), { status: "SERVING" });
  });

  describe("names the method in errors raised before user code", () => {
    it("malformed protobuf over Connect is INVALID_ARGUMENT (connect-es alone says INTERNAL)", async () => {
      const { status, body } = await post(t.url + check, "application/proto", garbage);
      assert.equal(status, 400);
      assert.deepEqual(JSON.parse(body), { code: "invalid_argument", message: "grpc.health.v1.Health/Check: invalid request body: parse binary: premature EOF" });
    });

    it("malformed JSON over Connect is INVALID_ARGUMENT", async () => {
      const { status, body } = await post(t.url + check, "application/json", "{bad");
      assert.equal(status, 400);
      const error = JSON.parse(body) as { code: string; message: string };
      assert.equal(error.code, "invalid_argument");
      assert.match(error.message, /^grpc\.health\.v1\.Health\/Check: invalid request body: cannot decode message grpc\.health\.v1\.HealthCheckRequest from JSON/);
    });

    it("an unknown JSON field is INVALID_ARGUMENT naming the field", async () => {
      const { status, body } = await post(t.url + check, "application/json", '{"servcie":"typo"}');
      assert.equal(status, 400);
      assert.match((JSON.parse(body) as { message: string }).message, /^grpc\.health\.v1\.Health\/Check: invalid request body: .*"servcie" is unknown/);
    });

    it("malformed protobuf over gRPC is INVALID_ARGUMENT", async () => {
      assert.deepEqual(await rawGrpc(t.url, check, envelope(garbage)), { status: "3", message: "grpc.health.v1.Health/Check: invalid request body: parse binary: premature EOF" });
    });

    it("malformed JSON over gRPC is INVALID_ARGUMENT", async () => {
      const { status, message } = await rawGrpc(t.url, check, envelope(Buffer.from("{bad")), "application/grpc+json");
      assert.equal(status, "3");
      assert.match(message, /^grpc\.health\.v1\.Health\/Check: invalid request body: cannot decode message/);
    });

    it("a truncated envelope over gRPC is INVALID_ARGUMENT", async () => {
      assert.deepEqual(await rawGrpc(t.url, check, envelope(garbage, 50)), { status: "3", message: "grpc.health.v1.Health/Check: invalid request body: protocol error: incomplete envelope" });
    });

    it("a gRPC call without a request message is INVALID_ARGUMENT (connect-es alone says UNIMPLEMENTED)", async () => {
      assert.deepEqual(await rawGrpc(t.url, check, new Uint8Array(0)), { status: "3", message: "grpc.health.v1.Health/Check: invalid request body: protocol error: missing input message for unary method" });
    });

    it("malformed protobuf to a server-streaming method is INVALID_ARGUMENT too", async () => {
      assert.deepEqual(await rawGrpc(t.url, "/grpc.health.v1.Health/Watch", envelope(garbage)), { status: "3", message: "grpc.health.v1.Health/Watch: invalid request body: parse binary: premature EOF" });
    });

    it("malformed protobuf over gRPC-Web is INVALID_ARGUMENT", async () => {
      assert.deepEqual(await rawGrpcWeb(t.url, check, envelope(garbage)), { status: "3", message: "grpc.health.v1.Health/Check: invalid request body: parse binary: premature EOF" });
    });

    it("a bad grpc-timeout header is named without blaming the body", async () => {
      const { status, message } = await rawGrpc(t.url, check, envelope(new Uint8Array(0)), "application/grpc", { "grpc-timeout": "soon" });
      assert.equal(status, "3");
      assert.match(message, /^grpc\.health\.v1\.Health\/Check: protocol error: invalid grpc timeout value/);
    });

    it("keeps serving after each of them", async () => {
      assert.equal((await createClient(Health, transports.gRPC!).check({})).status, ServingStatus.SERVING);
    });
  });

  it("does not crash on an HTTP/1.0 request without a Host header", async () => {
    const socket = net.connect(t.port, "127.0.0.1");
    socket.end(`POST ${check} HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`);
    let reply = "";
    for await (const chunk of socket) reply += String(chunk);
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.equal((await createClient(Health, transports["Connect over HTTP/1.1"]!).check({})).status, ServingStatus.SERVING);
  });
});

/** A raw HTTP/1.x POST, like curl's. */
function post(url: string, contentType: string, body: string | Uint8Array): Promise<{ status: number; body: string }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: pathname, method: "POST", headers: { "content-type": contentType } });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
