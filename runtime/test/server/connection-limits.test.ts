import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/server/index.js";
import { startTestServer, type TestServer } from "./helpers.js";

/** Opens a raw TCP connection to the test server. */
async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.on("error", () => {});
  return socket;
}

/** Everything the server sends until it closes the connection, and how long that took. */
async function untilClosed(socket: net.Socket): Promise<{ reply: string; ms: number }> {
  const started = performance.now();
  let reply = "";
  socket.setEncoding("latin1").on("data", (chunk: string) => (reply += chunk));
  await new Promise((resolve) => socket.once("close", resolve));
  return { reply, ms: performance.now() - started };
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function dribble(socket: net.Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return void clearInterval(timer);
    socket.write(text[i++]!);
  }, everyMs);
}

/** A GET over HTTP/1.1 that answers with the status. */
function get(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent: false }, (res) => {
      res.resume().on("end", () => resolve(res.statusCode ?? 0));
    }).on("error", reject);
  });
}

describe("connection limits", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, idleTimeoutMs: 400, maxHeaderBytes: 4096, http2MaxStreams: 7, maxConnections: 20 },
    });
  });
  after(() => t.server.close({ graceMs: 0 }));

  it("advertises the stream and header limits in the HTTP/2 SETTINGS frame", async () => {
    const session = http2.connect(t.url);
    try {
      const settings = await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
      assert.equal(settings.maxConcurrentStreams, 7);
      assert.equal(settings.maxHeaderListSize, 4096);
    } finally {
      session.close();
    }
  });

  describe("on HTTP/1.1", () => {
    it("answers a client that sends its headers a byte at a time with 408 once headersTimeoutMs passed", async () => {
      const socket = await connect(t.port);
      dribble(socket, "GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: " + "a".repeat(100), 50);
      const { reply, ms } = await untilClosed(socket);
      assert.match(reply, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.match(reply, /\r\nconnection: close\r\n/i);
      assert.ok(ms >= 250 && ms < 1_000, `closed after ${ms.toFixed(0)} ms`);
    });

    it("answers a client that sends its body a byte at a time with 408 once requestTimeoutMs passed", async () => {
      const socket = await connect(t.port);
      socket.write("POST /grpc.health.v1.Health/Check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n");
      dribble(socket, " ".repeat(100), 50);
      const { reply, ms } = await untilClosed(socket);
      assert.match(reply, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.ok(ms >= 500 && ms < 1_500, `closed after ${ms.toFixed(0)} ms`);
    });

    it("keeps a server stream (Health/Watch over Connect) open past requestTimeoutMs: it bounds the request, not the response", async () => {
      const client = createClient(Health, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
      const abort = new AbortController();
      const stream = client.watch({}, { signal: abort.signal })[Symbol.asyncIterator]();
      try {
        assert.equal((await stream.next()).value?.status, ServingStatus.SERVING);
        await sleep(1_200); // twice requestTimeoutMs, and past idleTimeoutMs
        t.readiness.set("draining");
        assert.equal((await stream.next()).value?.status, ServingStatus.NOT_SERVING);
      } finally {
        t.readiness.set("serving");
        abort.abort();
      }
    });

    it("closes an idle keep-alive connection after idleTimeoutMs", async () => {
      const socket = await connect(t.port);
      socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
      const { reply, ms } = await untilClosed(socket);
      assert.match(reply, /^HTTP\/1\.1 200 OK/);
      assert.ok(ms >= 350 && ms < 2_000, `closed after ${ms.toFixed(0)} ms`); // node:http adds up to 1 s to keepAliveTimeout
    });

    it("answers an over-long header block with 431 and a Connect error body", async () => {
      const socket = await connect(t.port);
      socket.write(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(5_000)}\r\n\r\n`);
      const { reply } = await untilClosed(socket);
      assert.match(reply, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      assert.match(reply, /\r\nconnection: close\r\n/i);
      assert.deepEqual(JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4)), {
        code: "resource_exhausted",
        message: "request line and headers exceed 4096 bytes",
      });
    });

    it("answers an over-long URL with 431", async () => {
      const socket = await connect(t.port);
      socket.write(`GET /healthz?${"a".repeat(5_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
      assert.match((await untilClosed(socket)).reply, /^HTTP\/1\.1 431 /);
    });

    it("answers a request it cannot parse with 400", async () => {
      const socket = await connect(t.port);
      socket.write("GET /healthz HTTP/1.1\r\nbad header\r\n\r\n");
      const { reply } = await untilClosed(socket);
      assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(reply, /"code":"invalid_argument"/);
      assert.doesNotMatch(reply, /\/work\/|node:|at /);
    });
  });

  describe("on HTTP/2", () => {
    it("serves at most http2MaxStreams streams of one connection at once; the client holds the rest back until one ends", async () => {
      const session = http2.connect(t.url);
      try {
        await new Promise((resolve) => session.once("remoteSettings", resolve));
        const streams = Array.from({ length: 8 }, () => {
          const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Watch", "content-type": "application/grpc", te: "trailers" });
          stream.end(Buffer.alloc(5)); // an empty HealthCheckRequest
          return { stream, answered: new Promise<void>((resolve) => stream.once("data", () => resolve())) };
        });
        await Promise.all(streams.slice(0, 7).map((s) => s.answered));
        const eighth = await Promise.race([streams[7]!.answered.then(() => "answered"), sleep(300).then(() => "waiting")]);
        assert.equal(eighth, "waiting");
        streams[0]!.stream.close();
        await streams[7]!.answered;
      } finally {
        session.destroy();
      }
    });

    it("closes a session without open streams after idleTimeoutMs, with GOAWAY", async () => {
      const session = http2.connect(t.url);
      const stream = session.request({ ":path": "/healthz" });
      stream.resume();
      await new Promise((resolve) => stream.on("close", resolve));
      const started = performance.now();
      const code = await new Promise<number>((resolve) => session.once("goaway", resolve));
      const ms = performance.now() - started;
      assert.equal(code, http2.constants.NGHTTP2_NO_ERROR);
      assert.ok(ms >= 300 && ms < 1_500, `GOAWAY after ${ms.toFixed(0)} ms`);
      session.close();
    });

    it("keeps a session idle longer than idleTimeoutMs while a quiet server stream is open", async () => {
      const session = http2.connect(t.url);
      let goaway = false;
      session.on("goaway", () => (goaway = true));
      const stream = session.request({
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Watch",
        "content-type": "application/connect+json",
      });
      const body = Buffer.from("{}");
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      stream.end(frame);
      const first = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
      assert.match(first.toString(), /SERVING/);
      await sleep(1_000);
      assert.equal(goaway, false, "the session was closed under an open stream");
      stream.close();
      session.close();
    });

    it("resets a stream whose header list is over maxHeaderBytes with ENHANCE_YOUR_CALM, and keeps the session", async () => {
      const session = http2.connect(t.url);
      try {
        // Until the client acknowledges our SETTINGS, node:http2 holds it to its default (64 KiB) instead.
        const first = session.request({ ":path": "/healthz" });
        first.resume();
        await new Promise((resolve) => first.on("close", resolve));
        const big = session.request({ ":path": "/healthz", "x-big": "a".repeat(5_000) });
        big.on("error", () => {});
        big.resume();
        await new Promise((resolve) => big.on("close", resolve));
        assert.equal(big.rstCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
        const ok = session.request({ ":path": "/healthz" });
        const status = await new Promise((resolve) => ok.once("response", (h) => resolve(h[":status"])));
        ok.resume();
        assert.equal(status, 200);
      } finally {
        session.close();
      }
    });
  });

  it("closes connections beyond maxConnections on accept, and serves again once some close", async () => {
    const held = await Promise.all(Array.from({ length: 20 }, () => connect(t.port)));
    for (const socket of held) socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    await sleep(50);
    const extra = await connect(t.port);
    const { reply } = await untilClosed(extra);
    assert.equal(reply, "", "the connection over the limit got an answer");
    for (const socket of held) socket.destroy();
    await sleep(50);
    assert.equal(await get(`${t.url}/healthz`), 200);
  });
});
