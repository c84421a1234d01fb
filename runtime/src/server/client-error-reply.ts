import type { Duplex } from "node:stream";

/** What {@link replyToClientError} needs to know to explain a limit. */
export interface ClientErrorContext {
  /** The header size limit, quoted in 431 answers. */
  maxHeaderBytes: number;
  /** The header timeout, quoted in 408 answers. */
  headersTimeoutMs: number;
}

/**
 * Answers a request `node:http` could not parse or did not receive in time,
 * as Node does without a `clientError` listener but with a Connect error body
 * (so curl shows why): 431 for an oversize request line or header block, 408
 * for a request not received in time, 400 for anything else; always with
 * `connection: close`. A socket that already sent bytes (a pipelined
 * response) gets no answer, only closed.
 */
export function replyToClientError(error: NodeJS.ErrnoException, socket: Duplex, context: ClientErrorContext): void {
  if (socket.destroyed || socket.writableEnded) return;
  const sent = (socket as Duplex & { bytesWritten?: number }).bytesWritten ?? 0;
  if (!socket.writable || sent > 0) return void socket.destroy();
  let status: string;
  let code: string;
  let message: string;
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      status = "431 Request Header Fields Too Large";
      code = "resource_exhausted";
      message = `request line and headers exceed ${context.maxHeaderBytes} bytes`;
      break;
    case "ERR_HTTP_REQUEST_TIMEOUT":
      status = "408 Request Timeout";
      code = "deadline_exceeded";
      message = `request not received in time (headers are due within ${context.headersTimeoutMs} ms)`;
      break;
    default:
      status = "400 Bad Request";
      code = "invalid_argument";
      message = `malformed HTTP/1.1 request${typeof error.code === "string" && /^HPE_[A-Z_]+$/.test(error.code) ? ` (${error.code})` : ""}`;
  }
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  // A client that does not read the answer must not keep the socket.
  setTimeout(() => socket.destroy(), 1_000).unref();
}
