import type * as net from "node:net";

/** The client connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4). */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Where {@link routeConnection} sends a connection once it knows the protocol. */
export interface ConnectionRoutes {
  /** Takes a socket whose first bytes were pushed back with `unshift`. */
  http1(socket: net.Socket): void;
  /** Takes a socket whose preface bytes were pushed back with `unshift`. */
  http2(socket: net.Socket): void;
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
      // Node's HTTP/2 session takes the socket's libuv handle and feeds what the socket
      // already buffered (the preface we pushed back) to nghttp2 first, so the session
      // reads and writes the handle natively: no JavaScript relay between them.
      socket.unshift(head);
      routes.http2(socket);
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
