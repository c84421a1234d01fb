// The HTTP/1.1 client shape: keep-alive connections on raw node:net sockets,
// one request in flight on each, carrying Connect or REST calls. It does the least a client can: one write of
// a pre-serialized request (head + body), then the status line, the headers
// up to CRLFCRLF and a content-length body. node:http's Agent and parser would
// cost the generator more CPU per call than the server spends on some rows.
import * as net from "node:net";
import { replyFailure } from "./load-generator.js";
import type { LoadClient, UnaryCall } from "./load-generator.js";

type Reply = (failure: string | undefined, status: number, body: Buffer) => void;

interface Queued {
  readonly bytes: Buffer;
  readonly call: UnaryCall;
  readonly index: number;
  readonly done: (failure: string | undefined) => void;
}

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const EMPTY = Buffer.alloc(0);
/** A reply head longer than this is not the sample's. */
const MAX_HEAD_BYTES = 16 * 1024;

/**
 * Opens `connections` HTTP/1.1 keep-alive connections to `url`
 * ("http://127.0.0.1:8080"). A request goes to an idle connection, or waits
 * for one when more are in flight than there are connections.
 */
export async function openH1Client(url: string, connections: number): Promise<LoadClient> {
  const target = new URL(url);
  const pool = Array.from({ length: connections }, () => new H1Connection(target.hostname, Number(target.port)));
  await Promise.all(pool.map((c) => c.connect()));
  const serialized = new WeakMap<UnaryCall, Array<Buffer | undefined>>();
  const idle = [...pool];
  const queue: Queued[] = [];
  let closing = false;

  const requestBytes = (call: UnaryCall, index: number): Buffer => {
    let cache = serialized.get(call);
    if (cache === undefined) serialized.set(call, (cache = []));
    return (cache[index] ??= serializeRequest(target.host, call, index));
  };
  const dispatch = (connection: H1Connection, { bytes, call, index, done }: Queued): void =>
    connection.request(bytes, (failure, status, body) => {
      const verdict = failure ?? replyFailure(call, index, status, body);
      const next = queue.shift();
      if (next !== undefined) dispatch(connection, next);
      else if (closing) connection.end();
      else idle.push(connection);
      done(verdict);
    });

  return {
    send(call, index, done) {
      const queued = { bytes: requestBytes(call, index), call, index, done };
      const connection = idle.pop();
      if (connection === undefined) queue.push(queued);
      else dispatch(connection, queued);
    },
    close() {
      closing = true;
      idle.splice(0).forEach((c) => c.end());
    },
    destroy() {
      closing = true;
      pool.forEach((c) => c.destroy());
    },
  };
}

/** Request `index` of `call` (a Connect unary call, or a REST one) as the bytes that go on the wire. */
export function serializeRequest(host: string, call: UnaryCall, index: number): Buffer {
  const body = call.bodies[index]!;
  const extra = Object.entries(call.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  const head = call.rest === undefined
    ? `POST ${call.path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/proto\r\nconnect-protocol-version: 1\r\n${extra}content-length: ${body.byteLength}\r\n\r\n`
    : `${call.rest.method} ${call.rest.paths[index]!} HTTP/1.1\r\nhost: ${host}\r\n${extra}` +
      (body.byteLength === 0 ? "\r\n" : `content-type: application/json\r\ncontent-length: ${body.byteLength}\r\n\r\n`);
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

/** One keep-alive connection; it reconnects on the next request after the server closed it. */
class H1Connection {
  readonly #host: string;
  readonly #port: number;
  #socket: net.Socket | undefined;
  #reply: Reply | undefined;
  /** Bytes of the reply in progress, when it came in more than one chunk. */
  #received: Buffer | undefined;
  /** Where the body starts in the reply, once the head is parsed; -1 before. */
  #bodyStart = -1;
  #bodyLength = 0;
  #status = 0;
  #closeAfter = false;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  /** Connects now, so the first timed request does not pay for it. */
  connect(): Promise<void> {
    const socket = this.#open();
    return new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    }).then(() => undefined);
  }

  /** Writes one request; `reply` gets the status and body, or a failure. */
  request(bytes: Buffer, reply: Reply): void {
    this.#reply = reply;
    (this.#socket ?? this.#open()).write(bytes);
  }

  end(): void {
    this.#socket?.end();
  }

  destroy(): void {
    this.#socket?.destroy();
  }

  #open(): net.Socket {
    // noDelay: Nagle on a request/response loop adds ~40 ms stalls (see DESIGN.md, Known facts).
    const socket = net.connect({ host: this.#host, port: this.#port, noDelay: true });
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => this.#fail(socket, `socket error: ${error.code ?? error.message}`));
    socket.on("close", () => this.#fail(socket, "the server closed the connection with a request in flight"));
    return socket;
  }

  #onData(chunk: Buffer): void {
    const data = this.#received === undefined ? chunk : Buffer.concat([this.#received, chunk]);
    if (this.#bodyStart < 0) {
      const end = data.indexOf(HEAD_END);
      if (end < 0) {
        if (data.length > MAX_HEAD_BYTES) return this.#fail(this.#socket, "reply head too long");
        this.#received = data;
        return;
      }
      const problem = this.#parseHead(data.toString("latin1", 0, end));
      if (problem !== undefined) return this.#fail(this.#socket, problem);
      this.#bodyStart = end + HEAD_END.length;
    }
    const bodyEnd = this.#bodyStart + this.#bodyLength;
    if (data.length < bodyEnd) {
      this.#received = data;
      return;
    }
    if (data.length > bodyEnd || this.#reply === undefined) return this.#fail(this.#socket, "bytes from the server with no request in flight");
    const reply = this.#reply;
    const body = data.subarray(this.#bodyStart, bodyEnd);
    const status = this.#status;
    if (this.#closeAfter) {
      const socket = this.#socket;
      this.#socket = undefined; // the next request opens a new connection
      socket?.destroy();
    }
    this.#reset();
    reply(undefined, status, body);
  }

  /** Reads the status, the body's length and whether the server closes; returns what is wrong, if anything. */
  #parseHead(head: string): string | undefined {
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
    if (status === undefined) return `not an HTTP/1.1 reply: ${JSON.stringify(head.slice(0, 40))}`;
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
    if (length === undefined) return "reply without content-length (this client reads no other framing)";
    this.#status = Number(status);
    this.#bodyLength = Number(length);
    this.#closeAfter = /\r\nconnection: *close/i.test(head);
    return undefined;
  }

  #fail(socket: net.Socket | undefined, failure: string): void {
    if (socket === undefined || socket !== this.#socket) return;
    this.#socket = undefined;
    socket.destroy();
    const reply = this.#reply;
    this.#reset();
    reply?.(failure, 0, EMPTY);
  }

  #reset(): void {
    this.#reply = undefined;
    this.#received = undefined;
    this.#bodyStart = -1;
    this.#bodyLength = 0;
    this.#closeAfter = false;
  }
}
