import { Duplex } from "node:stream";
import type * as net from "node:net";

/** The client connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4). */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Where {@link routeConnection} sends a connection once it knows the protocol. */
export interface ConnectionRoutes {
  /** Takes a socket whose first bytes were pushed back with `unshift`. */
  http1(socket: net.Socket): void;
  /** Takes a stream that replays the preface and then relays the socket. */
  http2(stream: Duplex): void;
  /** Milliseconds a new connection may take to send enough bytes to decide. */
  sniffTimeoutMs: number;
}

/**
 * Reads the first bytes of a cleartext connection and hands it to HTTP/1.1 or
 * to h2c. Bytes are buffered until they either differ from the HTTP/2 preface
 * or contain all of it, so a preface split across TCP segments still routes to
 * h2. A connection that closes or stalls before that is destroyed.
 */
export function routeConnection(socket: net.Socket, routes: ConnectionRoutes): void {
  let head: Buffer = Buffer.alloc(0);
  const stop = (): void => {
    socket.pause();
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.setTimeout(0);
  };
  const onData = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const n = Math.min(head.length, preface.length);
    const isPrefix = head.subarray(0, n).equals(preface.subarray(0, n));
    if (isPrefix && head.length < preface.length) return; // wait for the rest
    stop();
    if (isPrefix) {
      routes.http2(relaySocket(socket, head));
    } else {
      socket.unshift(head);
      routes.http1(socket);
      socket.resume(); // node:http does not resume a socket that we paused
    }
  };
  const onEnd = (): void => {
    stop();
    socket.destroy();
  };
  socket.on("data", onData);
  socket.once("end", onEnd);
  socket.setTimeout(routes.sniffTimeoutMs, () => socket.destroy());
}

/**
 * Wraps a socket in a Duplex without a libuv handle. Node's HTTP/2 session
 * reads a real socket's handle directly, which would skip bytes we already
 * consumed; for a handle-less stream it falls back to plain stream reads.
 */
function relaySocket(socket: net.Socket, head: Buffer): Duplex {
  const relay = new Duplex({
    read() {
      socket.resume();
    },
    // Backpressure: the callback waits until the socket has flushed the chunk, so the session
    // never has a second write in flight (what a stalled client leaves queued is the session's
    // one write, referencing the streams' buffers; the buffer watch cuts it).
    write(chunk: Buffer, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    writev(chunks, callback) {
      // One TCP segment for a burst of frames (headers, data, trailers).
      socket.cork();
      const last = chunks.length - 1;
      chunks.forEach(({ chunk }, i) => socket.write(chunk as Buffer, i === last ? callback : undefined));
      socket.uncork();
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  relay.push(head);
  socket.on("data", (chunk: Buffer) => {
    if (!relay.push(chunk)) socket.pause();
  });
  socket.once("end", () => relay.push(null));
  socket.once("error", (error) => relay.destroy(error));
  socket.once("close", () => relay.destroy());
  // Connect and loggers ask the request's socket for these.
  for (const key of ["remoteAddress", "remotePort", "remoteFamily", "localAddress", "localPort"] as const) {
    Object.defineProperty(relay, key, { get: () => socket[key] });
  }
  return relay;
}
