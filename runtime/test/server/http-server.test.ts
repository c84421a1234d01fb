import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createHttpServer, Health, HealthCheckResponse_ServingStatus as ServingStatus, type NodeHandler } from "../../src/server/index.js";
import { startTestServer } from "./helpers.js";

/** Answers with the HTTP version it saw, after `?delay=` milliseconds. */
const versionHandler: NodeHandler = (req, res) => {
  const delay = Number(new URL(req.url ?? "/", "http://x").searchParams.get("delay") ?? 0);
  setTimeout(() => res.end(`HTTP/${req.httpVersion}`), delay);
};

async function listen(handler = versionHandler) {
  const server = createHttpServer({ handler });
  const { port, url } = await server.listen(0);
  return { server, port, url };
}

function get(url: string, agent?: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve(body));
    }).on("error", reject);
  });
}

async function get2(session: http2.ClientHttp2Session, path: string): Promise<string> {
  const stream = session.request({ ":path": path });
  let body = "";
  for await (const chunk of stream) body += String(chunk);
  return body;
}

/** Writes `parts` as separate TCP segments and returns the first bytes the server sends back. */
async function firstReply(port: number, parts: string[]): Promise<Buffer> {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  await new Promise((resolve) => socket.once("connect", resolve));
  const reply = new Promise<Buffer>((resolve) => socket.once("data", resolve));
  for (const part of parts) {
    socket.write(part);
    await sleep(20);
  }
  try {
    return await reply;
  } finally {
    socket.destroy();
  }
}

describe("createHttpServer", () => {
  it("serves HTTP/1.1 and h2c on one port", async () => {
    const { server, url } = await listen();
    const session = http2.connect(url);
    try {
      assert.equal(await get(url), "HTTP/1.1");
      assert.equal(await get2(session, "/"), "HTTP/2.0");
    } finally {
      session.close();
      await server.close();
    }
  });

  it("routes a preface split across two TCP writes to HTTP/2", async () => {
    const { server, port } = await listen();
    const reply = await firstReply(port, ["PRI * HTTP/2.0\r\n", "\r\nSM\r\n\r\n"]);
    await server.close();
    assert.equal(reply[3], 0x04, "the server's first frame is SETTINGS");
  });

  it("routes a request whose first segment looks like the start of the preface to HTTP/1.1", async () => {
    const { server, port } = await listen();
    const reply = await firstReply(port, ["P", "OST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n"]);
    await server.close();
    assert.match(reply.toString(), /^HTTP\/1\.1 200 OK/);
  });

  it("lets in-flight requests finish on close, then refuses connections", async () => {
    const { server, url, port } = await listen();
    const session = http2.connect(url);
    const h1 = get(`${url}/?delay=150`);
    const h2 = get2(session, "/?delay=150");
    await sleep(30);
    assert.equal(server.inFlight, 2);
    await server.close({ graceMs: 2_000 });
    assert.deepEqual(await Promise.all([h1, h2]), ["HTTP/1.1", "HTTP/2.0"]);
    assert.equal(server.inFlight, 0);
    const refused = await new Promise((resolve) => net.connect(port, "127.0.0.1").once("error", resolve));
    assert.equal((refused as NodeJS.ErrnoException).code, "ECONNREFUSED");
  });

  it("lets an in-flight gRPC call finish on close", async () => {
    const t = await startTestServer({ interceptors: [(next) => async (req) => (await sleep(150), next(req))] });
    const call = createClient(Health, createGrpcTransport({ baseUrl: t.url })).check({});
    await sleep(50);
    await t.server.close({ graceMs: 2_000 });
    assert.equal((await call).status, ServingStatus.SERVING);
  });

  it("closes idle keep-alive and HTTP/2 connections at once", async () => {
    const { server, url } = await listen();
    const agent = new http.Agent({ keepAlive: true });
    const session = http2.connect(url);
    await get(url, agent);
    await get2(session, "/");
    const started = performance.now();
    await server.close({ graceMs: 5_000 });
    assert.ok(performance.now() - started < 1_000, "close waited for idle connections");
    agent.destroy();
  });

  it("destroys connections still busy when the grace period ends", async () => {
    const { server, url } = await listen(() => {}); // never answers
    const pending = get(url).then(() => "answered", () => "failed");
    await sleep(30);
    const started = performance.now();
    await server.close({ graceMs: 100 });
    assert.ok(performance.now() - started < 1_000);
    assert.equal(await pending, "failed");
  });
});
