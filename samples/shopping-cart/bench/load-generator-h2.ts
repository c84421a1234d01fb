// The h2 client shape: raw node:http2 sessions (h2c with prior knowledge),
// streams spread over them round-robin, as many in flight as the loop asks.
import * as http2 from "node:http2";
import * as net from "node:net";
import { replyFailure } from "./load-generator.js";
import type { LoadClient, UnaryCall } from "./load-generator.js";

/** Opens `sessions` HTTP/2 connections to `url` ("http://127.0.0.1:8080"). */
export async function openH2Client(url: string, sessions: number): Promise<LoadClient> {
  const target = new URL(url);
  const pool = await Promise.all(Array.from({ length: sessions }, () => connect(target)));
  let turn = 0;
  return {
    send: (call, index, done) => send(pool[turn++ % pool.length]!, call, index, done),
    close: () => pool.forEach((s) => s.close()),
    destroy: () => pool.forEach((s) => s.destroy()),
  };
}

function send(session: http2.ClientHttp2Session, call: UnaryCall, index: number, done: (failure: string | undefined) => void): void {
  if (call.rest !== undefined) throw new Error(`${call.path}: the bench sends REST calls over HTTP/1.1 only (an h1xN client)`);
  let status = 0;
  let streamError: string | undefined;
  const chunks: Buffer[] = [];
  const stream = session.request({
    ":method": "POST",
    ":path": call.path,
    "content-type": "application/proto",
    "connect-protocol-version": "1",
    ...call.headers,
  });
  stream.on("response", (headers) => (status = Number(headers[":status"])));
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("error", (error: NodeJS.ErrnoException) => (streamError ??= `stream error: ${error.code ?? error.message}`));
  stream.on("close", () => {
    if (streamError !== undefined) return done(streamError);
    if (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) return done(`stream reset: code ${stream.rstCode}`);
    done(replyFailure(call, index, status, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
  stream.end(call.bodies[index]);
}

function connect(url: URL): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, {
      // Nagle on a request/response loop adds ~40 ms stalls (see DESIGN.md, Known facts).
      createConnection: () => net.connect({ host: url.hostname, port: Number(url.port), noDelay: true }),
    });
    session.once("error", reject);
    session.once("connect", () => {
      session.off("error", reject);
      // A session error also fails its streams, which count it; this only keeps it from being thrown.
      session.on("error", () => {});
      resolve(session);
    });
  });
}
