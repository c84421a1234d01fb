import type * as http2 from "node:http2";
import type * as net from "node:net";
import type { Logger } from "pino";

/** The bounds one server puts on its connections; see {@link connectionLimitDefaults}. */
export interface ConnectionLimits {
  /** Open TCP connections at most; Node closes the ones beyond on accept. */
  maxConnections: number;
  /** Milliseconds a new connection may take to show its protocol. */
  sniffTimeoutMs: number;
  /** Concurrent streams per HTTP/2 connection, advertised in the SETTINGS frame. */
  http2MaxStreams: number;
  /**
   * Unsent response bytes one connection may hold. A connection above this
   * that made (almost) no write progress for one check interval is closed,
   * which releases what its responses hold.
   */
  maxBufferedBytes: number;
  /** Time an HTTP/1.1 client has to send the request line and headers. */
  headersTimeoutMs: number;
  /** Time an HTTP/1.1 client has to send the whole request; a long response is not bound by it. */
  requestTimeoutMs: number;
  /** Quiet time after which an idle keep-alive connection, or an HTTP/2 session without open streams, is closed. */
  idleTimeoutMs: number;
  /** Largest request line plus headers (HTTP/1.1) or header list (HTTP/2), in bytes. */
  maxHeaderBytes: number;
}

/** The defaults, the same as `loadConfig` uses. */
export const connectionLimitDefaults: Readonly<ConnectionLimits> = Object.freeze({
  maxConnections: 10_000,
  sniffTimeoutMs: 10_000,
  http2MaxStreams: 100,
  maxBufferedBytes: 16 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxHeaderBytes: 16 * 1024,
});

/** How often Node checks the HTTP/1.1 header and request timeouts: often enough that they hold within a quarter. */
export function checkingIntervalMs(limits: Pick<ConnectionLimits, "headersTimeoutMs" | "requestTimeoutMs">): number {
  return Math.max(25, Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/** A response still being written; both protocols' response objects qualify. */
interface Pending {
  readonly writableLength: number;
}

/** One connection as {@link BufferWatch} sees it. */
export interface WatchedConnection {
  /** The TCP socket; its `bytesWritten` measures progress. */
  readonly socket: net.Socket;
  /** Set once the connection speaks HTTP/2. */
  session?: http2.ServerHttp2Session;
  /** Responses started on this connection and not closed yet. */
  readonly responses: Set<Pending>;
}

/** Closes connections whose clients stopped reading while responses pile up. */
export interface BufferWatch {
  /** Starts watching `connection` while it has responses in flight. */
  add(connection: WatchedConnection): void;
  /** Stops watching it, e.g. once it closed. */
  delete(connection: WatchedConnection): void;
  /** Stops the timer. */
  stop(): void;
}

// Less than this written in one interval counts as no progress.
const progressBytes = 64 * 1024;

/**
 * Creates the watch: one unref'd timer per server that sums, every
 * `intervalMs`, the bytes queued on each connection (its responses' own
 * buffers plus the socket's). Nothing runs per request or per write.
 */
export function createBufferWatch(maxBufferedBytes: number, logger?: Logger, intervalMs = 1_000): BufferWatch {
  const watched = new Map<WatchedConnection, number>(); // → socket.bytesWritten at the last check
  const timer = setInterval(() => {
    for (const [connection, writtenBefore] of watched) {
      const { socket, session, responses } = connection;
      const written = socket.bytesWritten;
      watched.set(connection, written);
      if (responses.size === 0) continue;
      let buffered = socket.writableLength;
      for (const response of responses) buffered += response.writableLength;
      if (buffered <= maxBufferedBytes || written - writtenBefore >= progressBytes) continue;
      logger?.warn(
        { remoteAddress: socket.remoteAddress, bufferedBytes: buffered, maxBufferedBytes, protocol: session ? "h2" : "http/1.1" },
        "closing a connection whose client does not read its responses",
      );
      watched.delete(connection);
      if (session !== undefined) session.destroy(undefined, 11 /* ENHANCE_YOUR_CALM: GOAWAY, then close */);
      else socket.destroy();
    }
  }, intervalMs).unref();
  return {
    add(connection) {
      if (!watched.has(connection)) watched.set(connection, connection.socket.bytesWritten);
    },
    delete(connection) {
      watched.delete(connection);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
