import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import type { ContextValues } from "@connectrpc/connect";
import { encodeEnvelope, pipe, transformSplitEnvelope } from "@connectrpc/connect/protocol";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeFromHttpStatus, endStreamFlag, endStreamFromJson, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { CallObserver } from "./call-observer.js";
import type { NodeHandler } from "./http-server.js";

/** The reply of a dispatched unary call: the response message in binary and the headers the handler set. */
export interface UnaryReply {
  readonly message: Uint8Array;
  readonly header: Headers;
}

/** The reply of a dispatched server-streaming call: its headers, then its messages in binary (iterating rejects with the call's error). */
export interface StreamReply {
  readonly header: Headers;
  readonly messages: AsyncIterable<Uint8Array>;
}

type Dispatch<Reply> = (
  method: DescMethod,
  build: () => Promise<Uint8Array>,
  req: Parameters<NodeHandler>[0],
  res: Parameters<NodeHandler>[1],
) => Promise<Reply>;

/**
 * Runs one call of `method` through the same connect-es handler as a
 * Connect call on the wire (so interceptors, deadlines from
 * `connect-timeout-ms`, forwarding to the entity's owner, metrics, traces and
 * the access log are the same), with the request message `build` returns in
 * binary. For routes that speak another dialect over HTTP (REST). Rejects
 * with the call's `ConnectError`; `build`'s own errors count as the call's.
 */
export type UnaryDispatch = Dispatch<UnaryReply>;

/** As {@link UnaryDispatch}, for a server-streaming method: resolves once the handler answered with its headers. */
export type StreamDispatch = Dispatch<StreamReply>;

/** Both dispatchers, for unary and for server-streaming methods. */
export interface MethodDispatch {
  readonly unary: UnaryDispatch;
  readonly serverStream: StreamDispatch;
}

// Headers of the HTTP request that describe its body or connection, not the call.
const notForwarded = new Set(["content-type", "content-length", "content-encoding", "accept-encoding", "connect-content-encoding", "connect-accept-encoding", "transfer-encoding", "connection", "keep-alive", "host", "te", "upgrade", "expect"]);

/** Creates the dispatchers over the router's handlers; `readMaxBytes` bounds each streamed message. */
export function createMethodDispatch(
  handlers: ReadonlyMap<string, UniversalHandler>,
  options: { observer?: CallObserver | undefined; contextValues?: ((request: Parameters<NodeHandler>[0]) => ContextValues) | undefined; protocol: "rest"; readMaxBytes: number },
): MethodDispatch {
  const byMethod = new Map<DescMethod, UniversalHandler>([...handlers.values()].map((h) => [h.method, h]));

  /** Starts the call; `finish` turns the handler's response into the reply, reporting the outcome through `fail`. */
  function dispatch<Reply>(kind: "unary" | "server_streaming", contentType: string, frame: (message: Uint8Array) => Uint8Array, finish: (response: UniversalServerResponse, fail: (error: unknown) => ConnectError) => Promise<Reply>): Dispatch<Reply> {
    return async (method, build, req, res) => {
      const handler = byMethod.get(method);
      if (handler === undefined || method.methodKind !== kind) throw new ConnectError(`${method.parent.typeName}/${method.name} is not served here`, Code.Unimplemented);
      const values = options.contextValues?.(req) ?? createContextValues();
      const call = options.observer?.begin({ method, protocol: options.protocol, headers: req.headers, values });
      let outcome: { code: Code | undefined; reason: unknown } = { code: undefined, reason: undefined };
      const fail = (error: unknown) => {
        const connectError = ConnectError.from(error);
        outcome = { code: connectError.code, reason: connectError };
        return connectError;
      };
      const aborter = new AbortController();
      res.once("close", () => {
        if (!res.writableFinished) aborter.abort(new ConnectError("the client went away", Code.Canceled));
        call?.end(res.writableFinished ? outcome.code : Code.Canceled, outcome.reason);
      });
      try {
        const body = frame(await build());
        const header = new Headers({ "content-type": contentType });
        for (const [name, value] of Object.entries(req.headers)) {
          if (value === undefined || name.startsWith(":") || notForwarded.has(name)) continue;
          for (const v of Array.isArray(value) ? value : [value]) header.append(name, v);
        }
        const request: UniversalServerRequest = {
          httpVersion: req.httpVersion,
          url: `http://localhost${handler.requestPath}`,
          method: "POST",
          header,
          body: (async function* () {
            yield body;
          })(),
          signal: aborter.signal,
          contextValues: values,
        };
        const response = await (call?.run !== undefined ? call.run(() => handler(request)) : handler(request));
        if (response.status !== 200) {
          const bytes = Buffer.concat(await collect(response.body));
          throw errorFromJsonBytes(bytes, response.header ?? new Headers(), new ConnectError(`HTTP ${response.status}`, codeFromHttpStatus(response.status)));
        }
        return await finish(response, fail);
      } catch (error) {
        throw fail(error);
      }
    };
  }

  return {
    unary: dispatch("unary", "application/proto", (message) => message, async (response) => ({
      message: Buffer.concat(await collect(response.body)),
      header: response.header ?? new Headers(),
    })),
    serverStream: dispatch("server_streaming", "application/connect+proto", (message) => encodeEnvelope(0, message), (response, fail) => {
      const body = response.body ?? (async function* () {})();
      return Promise.resolve({
        header: response.header ?? new Headers(),
        messages: (async function* () {
          try {
            for await (const envelope of pipe(body as AsyncIterable<Uint8Array>, transformSplitEnvelope(options.readMaxBytes))) {
              if ((envelope.flags & endStreamFlag) !== endStreamFlag) {
                yield envelope.data;
                continue;
              }
              const end = endStreamFromJson(envelope.data);
              if (end.error !== undefined) throw end.error;
              return;
            }
          } catch (error) {
            throw fail(error);
          }
        })(),
      });
    }),
  };
}

async function collect(body: UniversalServerResponse["body"]): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of (body ?? []) as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return chunks;
}
