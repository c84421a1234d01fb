import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { Logger } from "pino";
import { routeConnection } from "./route-connection.js";

/** A request listener that serves both HTTP/1.1 and HTTP/2, such as `connectNodeAdapter()`. */
export type NodeHandler = (
  request: http.IncomingMessage | http2.Http2ServerRequest,
  response: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Options for {@link createHttpServer}. */
export interface HttpServerOptions {
  /** Serves every request, on both protocols. */
  handler: NodeHandler;
  /** Receives connection errors and lifecycle messages. */
  logger?: Logger;
  /** Refuse connections beyond this many; unlimited by default. */
  maxConnections?: number;
  /** Milliseconds a new connection may take to show its protocol; 10 s by default. */
  sniffTimeoutMs?: number;
}

/** One cleartext port that speaks HTTP/1.1 and h2c (prior knowledge). */
export interface HttpServer {
  /** Starts accepting; port 0 picks a free port. */
  listen(port: number, host?: string): Promise<{ port: number; url: string }>;
  /**
   * Stops accepting, sends GOAWAY to HTTP/2 clients, lets requests in flight
   * finish for up to `graceMs` (5 s by default), then destroys what is left.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /** Requests whose response has not finished yet. */
  readonly inFlight: number;
}

/**
 * Creates a server that routes each connection by its first bytes: the
 * HTTP/2 preface goes to `node:http2`, anything else to `node:http`.
 *
 * @example
 * const server = createHttpServer({ handler: connectNodeAdapter({ routes }) });
 * const { url } = await server.listen(8080);
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { handler, logger } = options;
  const sockets = new Set<net.Socket>();
  const h1Active = new Map<net.Socket, number>(); // HTTP/1.1 sockets → requests in flight
  const sessions = new Set<http2.ServerHttp2Session>();
  const sniffing = new Set<net.Socket>(); // protocol not known yet
  let inFlight = 0;
  let closing: Promise<void> | undefined; // set once close() is called

  function track(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
    inFlight++;
    const h1Socket = "stream" in req ? undefined : req.socket;
    if (h1Socket) h1Active.set(h1Socket, (h1Active.get(h1Socket) ?? 0) + 1);
    if (closing !== undefined && h1Socket) res.setHeader("connection", "close");
    res.once("close", () => {
      inFlight--;
      if (!h1Socket) return;
      const left = (h1Active.get(h1Socket) ?? 1) - 1;
      h1Active.set(h1Socket, left);
      if (closing !== undefined && left === 0) h1Socket.end();
    });
    handler(req, res);
  }

  // requestTimeout 0: a long server stream over HTTP/1.1 must not be cut at 5 minutes.
  const h1 = http.createServer({ requestTimeout: 0 }, track);
  const h2 = http2.createServer({}, track);
  h1.on("clientError", (error, socket) => {
    logger?.debug({ err: error }, "http/1.1 client error");
    socket.destroy();
  });
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.on("error", (error) => logger?.debug({ err: error }, "http/2 session error"));
    if (closing !== undefined) session.close();
  });

  const tcp = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      sniffing.delete(socket);
      h1Active.delete(socket);
    });
    socket.on("error", (error) => logger?.debug({ err: error }, "socket error"));
    if (closing !== undefined) return void socket.destroy();
    sniffing.add(socket);
    routeConnection(socket, {
      sniffTimeoutMs: options.sniffTimeoutMs ?? 10_000,
      http1: (s) => {
        sniffing.delete(s);
        h1Active.set(s, 0);
        h1.emit("connection", s);
      },
      http2: (stream) => {
        sniffing.delete(socket);
        h2.emit("connection", stream);
      },
    });
  });
  if (options.maxConnections !== undefined) tcp.maxConnections = options.maxConnections;

  return {
    get inFlight() {
      return inFlight;
    },
    listen(port, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ port, host, backlog: 4096 }, () => {
          tcp.off("error", reject);
          const address = tcp.address() as net.AddressInfo;
          const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
          logger?.info({ url }, "listening (HTTP/1.1 and h2c)");
          resolve({ port: address.port, url });
        });
      });
    },
    close({ graceMs = 5_000 } = {}) {
      closing ??= drain(graceMs);
      return closing;
    },
  };

  async function drain(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    logger?.info({ inFlight, graceMs }, "closing: draining requests in flight");
    for (const session of sessions) session.close(); // GOAWAY; closes when its streams end
    for (const socket of sniffing) socket.destroy();
    for (const [socket, active] of h1Active) if (active === 0) socket.end();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, graceMs, "timeout")));
    if ((await Promise.race([closed, graceOver])) === "timeout") {
      logger?.warn({ inFlight }, "grace period over: destroying connections");
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
    }
    clearTimeout(timer);
  }
}
