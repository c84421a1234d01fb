import assert from "node:assert/strict";
import * as net from "node:net";
import { openH1Client } from "../bench/load-generator-h1.js";
import type { LoadClient, UnaryCall } from "../bench/load-generator.js";
import { withoutServerSettings } from "../bench/sample-server.js";

/** A call whose reply must echo the request body. */
const echo: UnaryCall = {
  path: "/test.Echo/Echo",
  bodies: [Buffer.from("first"), Buffer.from("second request")],
  check: (reply, index) => Buffer.from(reply).equals(Buffer.from(echo.bodies[index]!)),
};

/** A raw HTTP/1.1 server that answers each request with `reply(body)`, written in one or more pieces. */
async function rawServer(reply: (body: Buffer, requestNumber: number) => Buffer[]): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/.exec(buffered.toString("latin1", 0, end))?.[1]);
      if (buffered.length < end + 4 + length) return;
      const body = buffered.subarray(end + 4, end + 4 + length);
      buffered = Buffer.alloc(0);
      const pieces = reply(body, requests++);
      pieces.forEach((piece, i) => setTimeout(() => socket.write(piece), i * 5));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => {
      sockets.forEach((s) => s.destroy());
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function ok(body: Buffer, extraHeaders = ""): Buffer {
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extraHeaders}\r\n`, "latin1"), body]);
}

function send(client: LoadClient, index: number): Promise<string | undefined> {
  return new Promise((resolve) => client.send(echo, index, resolve));
}

describe("the bench's HTTP/1.1 load client", () => {
  it("reads a reply whose head and body arrive in separate pieces", async () => {
    const server = await rawServer((body) => {
      const whole = ok(body);
      return [whole.subarray(0, 10), whole.subarray(10, whole.length - 3), whole.subarray(whole.length - 3)];
    });
    const client = await openH1Client(server.url, 1);
    assert.equal(await send(client, 0), undefined);
    assert.equal(await send(client, 1), undefined);
    assert.equal(server.connections(), 1, "both requests went over the one keep-alive connection");
    client.close();
    await server.close();
  });

  it("opens a new connection after a reply that says connection: close", async () => {
    const server = await rawServer((body) => [ok(body, "Connection: close\r\n")]);
    const client = await openH1Client(server.url, 1);
    assert.equal(await send(client, 0), undefined);
    assert.equal(await send(client, 1), undefined);
    assert.equal(server.connections(), 2);
    client.close();
    await server.close();
  });

  it("fails a call whose reply has no content-length, or the wrong body", async () => {
    const server = await rawServer((body, n) =>
      n === 0 ? [Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")] : [ok(Buffer.from(`not ${body.toString()}`))],
    );
    const client = await openH1Client(server.url, 1);
    assert.match((await send(client, 0)) ?? "", /without content-length/);
    assert.equal(await send(client, 0), "reply failed the check");
    client.close();
    await server.close();
  });

  it("reports a Connect error reply by its code and message", async () => {
    const error = Buffer.from(JSON.stringify({ code: "invalid_argument", message: "cart_id is missing" }));
    const server = await rawServer(() => [Buffer.concat([Buffer.from(`HTTP/1.1 400 Bad Request\r\ncontent-length: ${error.length}\r\n\r\n`), error])]);
    const client = await openH1Client(server.url, 1);
    assert.equal(await send(client, 0), "HTTP 400 invalid_argument: cart_id is missing");
    client.close();
    await server.close();
  });

  it("queues calls beyond its connections and sends each when one is free", async () => {
    const server = await rawServer((body) => [ok(body)]);
    const client = await openH1Client(server.url, 2);
    const results = await Promise.all([0, 1, 0, 1, 0].map((i) => send(client, i)));
    assert.deepEqual(results, [undefined, undefined, undefined, undefined, undefined]);
    assert.equal(server.connections(), 2);
    client.close();
    await server.close();
  });
});

describe("the bench's sample server", () => {
  // Regression: with DATABASE_URL set, the "PGlite" rows ran on PostgreSQL and wrote into that database.
  it("does not inherit DATABASE_URL or ORRERY_* variables, so a PGlite run stays on PGlite", () => {
    const env = withoutServerSettings({ DATABASE_URL: "postgres://x@h/test", ORRERY_DATA_DIR: "/elsewhere", ORRERY_SNAPSHOT_EVERY: "5", PATH: "/bin", PGPASSWORD: "p" });
    assert.deepEqual(env, { PATH: "/bin", PGPASSWORD: "p" });
  });

  it("does not inherit OTEL_* variables, so only the tracing mode of the observability rows exports spans", () => {
    const env = withoutServerSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SERVICE_NAME: "x", PATH: "/bin" });
    assert.deepEqual(env, { PATH: "/bin" });
  });
});
