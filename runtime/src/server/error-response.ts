import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

/** The three RPC protocols on our port, named as connect-es names them (`HandlerContext.protocolName`). */
export type RpcProtocol = "connect" | "grpc" | "grpc-web";

const grpcWebType = /^application\/grpc-web(?:-text)?(?:[+;]|$)/i;
const grpcType = /^application\/grpc(?:[+;]|$)/i;

/**
 * The protocol a request speaks, judged by its content type alone: gRPC and
 * gRPC-Web announce themselves; everything else is answered as Connect (its
 * errors are plain JSON, which also suits curl and browsers).
 */
export function detectProtocol(contentType: string | null | undefined): RpcProtocol {
  if (contentType == null) return "connect";
  if (grpcWebType.test(contentType)) return "grpc-web";
  if (grpcType.test(contentType)) return "grpc";
  return "connect";
}

/**
 * Renders an error as a complete response in the client's protocol, for
 * failures where no response message was sent:
 *
 * - Connect: the HTTP status that matches the code, and the JSON error body.
 * - gRPC: HTTP 200, no messages, `grpc-status` and `grpc-message` in the
 *   trailers. (Not "trailers-only": grpc-js honours a status in the headers
 *   only on a HEADERS frame that ends the stream, which Node's compatibility
 *   API does not send.)
 * - gRPC-Web: HTTP 200 and a body holding only the trailer frame.
 *
 * @param requestContentType echoed back for gRPC, so `+json` clients get `+json`
 */
export function errorResponse(
  protocol: RpcProtocol,
  error: ConnectError,
  requestContentType: string | null = null,
): UniversalServerResponse {
  if (protocol === "connect") {
    return respond(codeToHttpStatus(error.code), "application/json", errorToJsonBytes(error, {}));
  }
  const family = protocol === "grpc" ? "application/grpc" : "application/grpc-web";
  const contentType = requestContentType?.toLowerCase().startsWith(family) ? requestContentType : `${family}+proto`;
  const status = setTrailerStatus(new Headers(), error);
  if (protocol === "grpc") {
    return { status: 200, header: new Headers({ "content-type": contentType }), trailer: respecGrpcMessage(status) };
  }
  return respond(200, contentType, encodeEnvelope(trailerFlag, trailerSerialize(status)));
}

/** The content types a method accepts, in the order {@link unsupportedMediaType} lists them. */
export function acceptedContentTypes(method: DescMethod): string[] {
  const connect = method.methodKind === "unary" ? ["application/json", "application/proto"] : ["application/connect+json", "application/connect+proto"];
  return [...connect, "application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc-web", "application/grpc-web+proto", "application/grpc-web+json"];
}

/**
 * The answer to a request whose content type is missing or not one of
 * {@link acceptedContentTypes}: 415 with an `accept-post` header and a
 * Connect error body that names the method and lists the types, e.g.
 * `shop.cart.v1.ShoppingCartService/AddItem: missing content-type; send application/json or application/proto (Connect), ...`.
 * (connect-es answers 415 with an empty body.)
 */
export function unsupportedMediaType(method: DescMethod, contentType: string | undefined): UniversalServerResponse {
  const [json = "", proto = ""] = acceptedContentTypes(method);
  const what = contentType === undefined || contentType === "" ? "missing content-type" : `unsupported content-type ${JSON.stringify(contentType.slice(0, 100))}`;
  const message =
    `${method.parent.typeName}/${method.name}: ${what}; send ${json} or ${proto} (Connect), ` +
    "application/grpc[+proto|+json] (gRPC) or application/grpc-web[+proto|+json] (gRPC-Web)";
  const body = errorToJsonBytes(new ConnectError(message, Code.InvalidArgument), {});
  return respond(415, "application/json", body, { "accept-post": acceptedContentTypes(method).join(", ") });
}

function respond(status: number, contentType: string, body: Uint8Array, extra: Record<string, string> = {}): UniversalServerResponse {
  const header = new Headers({ ...extra, "content-type": contentType, "content-length": String(body.byteLength) });
  return {
    status,
    header,
    body: (async function* () {
      yield body;
    })(),
  };
}

/**
 * Applies {@link respecGrpcMessage} to a gRPC response's trailers, which
 * connect-es fills in only once the body is done.
 */
export function respecGrpcResponse(response: UniversalServerResponse): UniversalServerResponse {
  const { trailer, body } = response;
  if (trailer === undefined || body === undefined) return response;
  return {
    ...response,
    body: {
      [Symbol.asyncIterator]() {
        const it = body[Symbol.asyncIterator]();
        return {
          next: () =>
            it.next().then((result) => {
              if (result.done === true) respecGrpcMessage(trailer);
              return result;
            }),
          throw: (e?: unknown) => it.throw?.(e) ?? Promise.reject(e),
          return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
        };
      },
    },
  };
}

/**
 * Re-encodes `grpc-message` the way the gRPC spec says: printable ASCII other
 * than "%" as is, everything else as %XX of its UTF-8 bytes. connect-es uses
 * encodeURIComponent, and grpc-js decodes with decodeURI, which leaves "%3A"
 * and "%2F" in every message it shows (`Health%2FCheck%3A ...`).
 */
export function respecGrpcMessage(trailer: Headers): Headers {
  const message = trailer.get("grpc-message");
  if (message === null) return trailer;
  let text = message;
  try {
    text = decodeURIComponent(message);
  } catch {
    // not ours to fix: leave it as it came
  }
  trailer.set("grpc-message", text.replace(/[^\x20-\x24\x26-\x7e]+/g, (run) => percentEncode(run)));
  return trailer;
}

function percentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}
