import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { Logger } from "pino";
import { replyToClientError } from "./client-error-reply.js";
import {
  checkingIntervalMs,
  connectionLimitDefaults,
  createBufferWatch,
  type ConnectionLimits,
  type WatchedConnection,
} from "./connection-limits.js";
import { routeConnection } from "./route-connection.js";

/** A request listener that serves both HTTP/1.1 and HTTP/2, such as `connectNodeAdapter()`. */
export type NodeHandler = (
  request: http.IncomingMessage | http2.Http2ServerRequest,
  response: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Options for {@link createHttpServer}; each limit left out takes its {@link connectionLimitDefaults} value. */
export interface HttpServerOptions extends Partial<ConnectionLimits> {
  /** Serves every request, on both protocols. */
  handler: NodeHandler;
  /** Receives connection errors and lifecycle messages. */
  logger?: Logger;
}

/** A connection and, on HTTP/1.1, the pipelined requests waiting for their turn. */
interface Connection extends WatchedConnection {
  readonly pipelined: (() => void)[];
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
 * HTTP/2 preface goes to `node:http2`, anything else to `node:http`. Every
 * connection is bounded (see {@link ConnectionLimits}): slow senders, clients
 * that never read, idle sessions and oversize headers cannot hold memory or
 * sockets for long.
 *
 * @example
 * const server = createHttpServer({ handler: connectNodeAdapter({ routes }) });
 * const { url } = await server.listen(8080);
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { handler, logger } = options;
  const limits = limitsOf(options);
  const connections = new Map<net.Socket, Connection>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const sessionConnection = new WeakMap<http2.Http2Session, Connection>();
  const sniffing = new Set<net.Socket>(); // protocol not known yet
  const watch = createBufferWatch({
    maxBufferedBytes: limits.maxBufferedBytes,
    stallTimeoutMs: limits.idleTimeoutMs,
    idleTimeoutMs: limits.idleTimeoutMs,
    logger,
  });
  let routing: Connection | undefined; // the connection whose h2 session is being created
  let inFlight = 0;
  let closing: Promise<void> | undefined; // set once close() is called

  function track(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
    inFlight++;
    const h1Socket = "stream" in req ? undefined : req.socket;
    const connection = h1Socket ? connections.get(h1Socket as net.Socket) : sessionConnection.get((req as http2.Http2ServerRequest).stream.session!);
    if (closing !== undefined && h1Socket) res.setHeader("connection", "close");
    if (connection === undefined) {
      res.once("close", () => inFlight--);
      return handler(req, res);
    }
    res.once("close", () => {
      if (!connection.responses.delete(res)) return; // counted when its socket closed
      inFlight--;
      if (h1Socket) connection.pipelined.shift()?.();
      if (closing !== undefined && h1Socket && connection.responses.size === 0) h1Socket.end();
    });
    // HTTP/1.1 answers in order anyway: a pipelined request waits for the one before it,
    // so a client that pipelines and never reads holds one response, not hundreds.
    const busy = h1Socket !== undefined && connection.responses.size > 0;
    connection.responses.add(res);
    if (busy) connection.pipelined.push(() => handler(req, res));
    else handler(req, res);
  }

  const h1 = http.createServer(
    {
      // requestTimeout bounds receiving the request only: long server streams are not cut by it.
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(limits),
      maxHeaderSize: limits.maxHeaderBytes,
    },
    track,
  );
  h1.keepAliveTimeout = limits.idleTimeoutMs;
  // node:http starts enforcing the two timeouts when it listens; ours never does, it gets sockets.
  h1.emit("listening");
  const h2 = http2.createServer(
    {
      settings: { maxConcurrentStreams: limits.http2MaxStreams, maxHeaderListSize: limits.maxHeaderBytes },
    },
    track,
  );
  h1.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    logger?.debug({ err: error }, "http/1.1 client error");
    replyToClientError(error, socket, limits);
  });
  h2.on("session", (session) => {
    sessions.add(session);
    if (routing !== undefined) {
      routing.session = session;
      sessionConnection.set(session, routing);
    }
    session.once("close", () => sessions.delete(session));
    session.on("error", (error) => logger?.debug({ err: error }, "http/2 session error"));
    // Idle sessions (no stream, no bytes for idleTimeoutMs) are closed by the buffer watch.
    if (closing !== undefined) session.close();
  });

  const tcp = net.createServer({ noDelay: true }, (socket) => {
    if (closing !== undefined) return void socket.destroy();
    const connection: Connection = { socket, responses: new Set(), pipelined: [] };
    connections.set(socket, connection);
    watch.add(connection);
    socket.once("close", () => {
      // node:http never closes responses still queued behind a pipelined one whose socket died.
      inFlight -= connection.responses.size;
      connection.responses.clear();
      connection.pipelined.length = 0;
      connections.delete(socket);
      sniffing.delete(socket);
      watch.delete(connection);
    });
    socket.on("error", (error) => logger?.debug({ err: error }, "socket error"));
    sniffing.add(socket);
    routeConnection(socket, {
      sniffTimeoutMs: limits.sniffTimeoutMs,
      http1: (s) => {
        sniffing.delete(s);
        h1.emit("connection", s);
      },
      http2: (s) => {
        sniffing.delete(socket);
        routing = connection;
        try {
          h2.emit("connection", s);
        } finally {
          routing = undefined;
        }
      },
    });
  });
  tcp.maxConnections = limits.maxConnections;

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
    for (const [socket, connection] of connections) {
      if (connection.session === undefined && !sniffing.has(socket) && connection.responses.size === 0) socket.end();
    }
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, graceMs, "timeout")));
    if ((await Promise.race([closed, graceOver])) === "timeout") {
      logger?.warn({ inFlight }, "grace period over: destroying connections");
      for (const session of sessions) session.destroy();
      for (const socket of connections.keys()) socket.destroy();
      await closed;
    }
    clearTimeout(timer);
    watch.stop();
    h1.close();
  }
}

function limitsOf(options: HttpServerOptions): ConnectionLimits {
  const limits = { ...connectionLimitDefaults };
  for (const key of Object.keys(limits) as (keyof ConnectionLimits)[]) {
    const value = options[key];
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}
