import assert from "node:assert/strict";
import * as http from "node:http";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/server/index.js";
import { envelope, rawGrpc, rawGrpcWeb, registerEcho, startTestServer, type TestServer } from "./helpers.js";

const check = "/grpc.health.v1.Health/Check";
const watch = "/grpc.health.v1.Health/Watch";
const echo = "/test.echo.v1.EchoService/Echo";
// {"service":"<0xff>"}: without a strict decoder it reaches the implementation as "\uFFFD".
const badUtf8Json = Buffer.concat([Buffer.from('{"service":"'), Buffer.from([0xff]), Buffer.from('"}')]);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP/1.1 request, like curl's; `contentType` undefined sends none. */
function send(url: string, method: string, contentType?: string, body?: Uint8Array | string): Promise<Reply> {
  const { hostname, port, pathname, search } = new URL(url);
  const headers: http.OutgoingHttpHeaders = contentType === undefined ? {} : { "content-type": contentType };
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: pathname + search, method, headers, agent: false });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The reply's Connect error, after checking it leaks nothing internal. */
function connectError(reply: Reply): { code: string; message: string } {
  assert.equal(reply.headers["content-type"], "application/json");
  assert.doesNotMatch(reply.body, /\/work\/|file:|node:internal|\n\s+at /, "the reply shows internals");
  return JSON.parse(reply.body) as { code: string; message: string };
}

describe("createConnectHandler on malformed input", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ routes: registerEcho });
  });
  after(() => t.server.close({ graceMs: 0 }));

  describe("a Connect GET whose message query parameter does not decode is INVALID_ARGUMENT", () => {
    it("invalid base64 (connect-es alone answers 500 internal error)", async () => {
      const reply = await send(`${t.url}${echo}?connect=v1&encoding=proto&base64=1&message=!!!`, "GET");
      assert.equal(reply.status, 400);
      assert.deepEqual(connectError(reply), { code: "invalid_argument", message: "test.echo.v1.EchoService/Echo: invalid message query parameter: invalid base64 string" });
    });

    it("valid base64 of bytes that are not the message", async () => {
      const message = Buffer.from([0x0a, 0xff, 0xff, 0xff]).toString("base64url");
      const reply = await send(`${t.url}${echo}?connect=v1&encoding=proto&base64=1&message=${message}`, "GET");
      assert.equal(reply.status, 400);
      assert.deepEqual(connectError(reply), { code: "invalid_argument", message: "test.echo.v1.EchoService/Echo: invalid message query parameter: parse binary: premature EOF" });
    });

    it("JSON that does not parse", async () => {
      const reply = await send(`${t.url}${echo}?connect=v1&encoding=json&message=${encodeURIComponent("{bad")}`, "GET");
      assert.equal(reply.status, 400);
      assert.match(connectError(reply).message, /^test\.echo\.v1\.EchoService\/Echo: invalid message query parameter: cannot decode message google\.protobuf\.StringValue from JSON/);
    });

    it("and a good one is answered", async () => {
      const reply = await send(`${t.url}${echo}?connect=v1&encoding=json&message=${encodeURIComponent('"hi"')}`, "GET");
      assert.deepEqual([reply.status, reply.body], [200, '"hi"']);
    });
  });

  describe("invalid UTF-8 in a JSON body is INVALID_ARGUMENT, not replaced by U+FFFD", () => {
    const expected = "grpc.health.v1.Health/Check: invalid request body: JSON is not valid UTF-8";

    it("Connect unary", async () => {
      const reply = await send(t.url + check, "POST", "application/json", badUtf8Json);
      assert.equal(reply.status, 400);
      assert.deepEqual(connectError(reply), { code: "invalid_argument", message: expected });
    });

    it("Connect streaming", async () => {
      const reply = await send(t.url + watch, "POST", "application/connect+json", envelope(badUtf8Json));
      assert.equal(reply.status, 200); // Connect streams report errors in the end-stream message
      const end = JSON.parse(reply.body.slice(5)) as { error: { code: string; message: string } };
      assert.deepEqual(end.error, { code: "invalid_argument", message: "grpc.health.v1.Health/Watch: invalid request body: JSON is not valid UTF-8" });
    });

    it("gRPC+json", async () => {
      assert.deepEqual(await rawGrpc(t.url, check, envelope(badUtf8Json), "application/grpc+json"), { status: "3", message: expected });
    });

    it("gRPC-Web+json", async () => {
      assert.deepEqual(await rawGrpcWeb(t.url, check, envelope(badUtf8Json), "application/grpc-web+json"), { status: "3", message: expected });
    });
  });

  describe("a missing or unsupported content type is 415 saying what to send", () => {
    const accepted = "application/json, application/proto, application/grpc, application/grpc+proto, application/grpc+json, application/grpc-web, application/grpc-web+proto, application/grpc-web+json";
    const advice = "send application/json or application/proto (Connect), application/grpc[+proto|+json] (gRPC) or application/grpc-web[+proto|+json] (gRPC-Web)";

    it("none at all (connect-es alone answers 415 with an empty body)", async () => {
      const reply = await send(t.url + check, "POST", undefined, "{}");
      assert.equal(reply.status, 415);
      assert.equal(reply.headers["accept-post"], accepted);
      assert.deepEqual(connectError(reply), { code: "invalid_argument", message: `grpc.health.v1.Health/Check: missing content-type; ${advice}` });
    });

    it("one that no protocol speaks", async () => {
      const reply = await send(t.url + check, "POST", "text/plain", "{}");
      assert.equal(reply.status, 415);
      assert.deepEqual(connectError(reply), { code: "invalid_argument", message: `grpc.health.v1.Health/Check: unsupported content-type "text/plain"; ${advice}` });
    });

    it("a streaming type sent to a unary method", async () => {
      const reply = await send(t.url + check, "POST", "application/connect+json", envelope(Buffer.from("{}")));
      assert.equal(reply.status, 415);
      assert.match(connectError(reply).message, /^grpc\.health\.v1\.Health\/Check: unsupported content-type "application\/connect\+json"; send application\/json/);
    });

    it("lists the streaming types for a streaming method", async () => {
      const reply = await send(t.url + watch, "POST", "application/json", "{}");
      assert.equal(reply.status, 415);
      assert.match(String(reply.headers["accept-post"]), /^application\/connect\+json, application\/connect\+proto, application\/grpc/);
    });

    it("leaves gRPC clients as they were", async () => {
      assert.equal((await createClient(Health, createGrpcTransport({ baseUrl: t.url })).check({})).status, ServingStatus.SERVING);
    });
  });
});
