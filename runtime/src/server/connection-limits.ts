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
   * whose socket took (almost) nothing from it for a quarter second is closed,
   * which releases what its responses hold. (One that holds less but takes
   * nothing for `idleTimeoutMs` is closed too.) Until then an HTTP/2
   * connection can hold up to `http2MaxStreams` responses that were produced
   * at once; HTTP/1.1 pipelined requests are served one at a time.
   */
  maxBufferedBytes: number;
  /** Time an HTTP/1.1 client has to send the request line and headers. */
  headersTimeoutMs: number;
  /** Time an HTTP/1.1 client has to send the whole request; a long response is not bound by it. */
  requestTimeoutMs: number;
  /**
   * Quiet time after which an idle keep-alive connection, or an HTTP/2
   * session without open streams, is closed; also how long a client may leave
   * response bytes unread.
   */
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
  /** The TCP socket; what it handed to the kernel measures progress. */
  readonly socket: net.Socket;
  /** Set once the connection speaks HTTP/2. */
  session?: http2.ServerHttp2Session;
  /** Responses started on this connection and not closed yet. */
  readonly responses: Set<Pending>;
}

/** Closes connections whose clients stopped reading while responses pile up. */
export interface BufferWatch {
  /** Starts watching `connection`. */
  add(connection: WatchedConnection): void;
  /** Stops watching it, e.g. once it closed. */
  delete(connection: WatchedConnection): void;
  /** Stops the timer. */
  stop(): void;
}

/** What {@link createBufferWatch} enforces. */
export interface BufferWatchOptions {
  /** Queued response bytes above this, with no progress for one interval, close the connection. */
  maxBufferedBytes: number;
  /** Any queued response bytes with no progress for this long close the connection too. */
  stallTimeoutMs: number;
  /**
   * An HTTP/2 session with no open stream and no bytes either way for this
   * long is closed (GOAWAY). Checked here rather than by `session.setTimeout`,
   * whose timer is re-armed on every frame and costs per call.
   */
  idleTimeoutMs?: number;
  /** Told about each connection closed. */
  logger?: Logger;
  /** How often to look; 250 ms by default. */
  intervalMs?: number;
}

// Less than this flushed in one interval counts as no progress.
const progressBytes = 64 * 1024;

/**
 * Creates the watch: one unref'd timer per server that sums, every interval,
 * the bytes queued on each connection (its responses' own buffers plus the
 * socket's) and what the socket handed to the kernel since the last look.
 * Nothing runs per request or per write.
 */
export function createBufferWatch(options: BufferWatchOptions): BufferWatch {
  const { maxBufferedBytes, stallTimeoutMs, idleTimeoutMs, logger, intervalMs = 250 } = options;
  const watched = new Map<WatchedConnection, { flushed: number; progressAt: number; traffic: number; trafficAt: number }>();
  const flushed = (socket: net.Socket) => socket.bytesWritten - socket.writableLength;
  const traffic = (socket: net.Socket) => socket.bytesRead + socket.bytesWritten;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const [connection, last] of watched) {
      const { socket, session, responses } = connection;
      const moved = traffic(socket);
      if (moved !== last.traffic) {
        last.traffic = moved;
        last.trafficAt = now;
      } else if (session !== undefined && idleTimeoutMs !== undefined && responses.size === 0 && now - last.trafficAt >= idleTimeoutMs) {
        logger?.debug({ remoteAddress: socket.remoteAddress, idleMs: now - last.trafficAt }, "closing an idle http/2 session");
        watched.delete(connection);
        session.close();
        continue;
      }
      const sent = flushed(socket);
      if (sent - last.flushed >= progressBytes || responses.size === 0) {
        last.progressAt = now;
        last.flushed = sent;
        continue;
      }
      let buffered = socket.writableLength;
      for (const response of responses) buffered += response.writableLength;
      if (buffered === 0) last.progressAt = now; // a quiet stream is not a stalled one
      const over = buffered > maxBufferedBytes;
      if (!over && now - last.progressAt < stallTimeoutMs) continue;
      logger?.warn(
        { remoteAddress: socket.remoteAddress, bufferedBytes: buffered, maxBufferedBytes, stalledMs: now - last.progressAt, protocol: session ? "h2" : "http/1.1" },
        over ? "closing a connection holding too many unsent response bytes" : "closing a connection whose client stopped reading",
      );
      watched.delete(connection);
      session?.destroy(); // streams end now; the GOAWAY it would send cannot get through a stalled socket
      socket.destroy();
    }
  }, intervalMs).unref();
  return {
    add(connection) {
      const now = Date.now();
      if (!watched.has(connection)) watched.set(connection, { flushed: flushed(connection.socket), progressAt: now, traffic: traffic(connection.socket), trafficAt: now });
    },
    delete(connection) {
      watched.delete(connection);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
