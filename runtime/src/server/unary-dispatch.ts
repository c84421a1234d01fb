import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import type { ContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { codeFromHttpStatus, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { CallObserver } from "./call-observer.js";
import type { NodeHandler } from "./http-server.js";

/** The reply of a dispatched call: the response message in binary and the headers the handler set. */
export interface UnaryReply {
  readonly message: Uint8Array;
  readonly header: Headers;
}

/**
 * Runs one unary call of `method` through the same connect-es handler as a
 * Connect call on the wire (so interceptors, deadlines from
 * `connect-timeout-ms`, forwarding to the entity's owner, metrics, traces and
 * the access log are the same), with the request message `build` returns in
 * binary. For routes that speak another dialect over HTTP (REST). Rejects
 * with the call's `ConnectError`; `build`'s own errors count as the call's.
 */
export type UnaryDispatch = (
  method: DescMethod,
  build: () => Promise<Uint8Array>,
  req: Parameters<NodeHandler>[0],
  res: Parameters<NodeHandler>[1],
) => Promise<UnaryReply>;

// Headers of the HTTP request that describe its body or connection, not the call.
const notForwarded = new Set(["content-type", "content-length", "content-encoding", "accept-encoding", "connect-content-encoding", "connect-accept-encoding", "transfer-encoding", "connection", "keep-alive", "host", "te", "upgrade", "expect"]);

/** Creates the dispatcher over the router's handlers. */
export function createUnaryDispatch(
  handlers: ReadonlyMap<string, UniversalHandler>,
  options: { observer?: CallObserver | undefined; contextValues?: ((request: Parameters<NodeHandler>[0]) => ContextValues) | undefined; protocol: "rest" },
): UnaryDispatch {
  const byMethod = new Map<DescMethod, UniversalHandler>([...handlers.values()].map((h) => [h.method, h]));
  return async (method, build, req, res) => {
    const handler = byMethod.get(method);
    if (handler === undefined || method.methodKind !== "unary") throw new ConnectError(`${method.parent.typeName}/${method.name} is not served here`, Code.Unimplemented);
    const values = options.contextValues?.(req) ?? createContextValues();
    const call = options.observer?.begin({ method, protocol: options.protocol, headers: req.headers, values });
    let outcome: { code: Code | undefined; reason: unknown } = { code: undefined, reason: undefined };
    const aborter = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) aborter.abort(new ConnectError("the client went away", Code.Canceled));
      call?.end(res.writableFinished ? outcome.code : Code.Canceled, outcome.reason);
    });
    try {
      const body = await build();
      const header = new Headers({ "content-type": "application/proto" });
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
      const chunks: Uint8Array[] = [];
      for await (const chunk of response.body ?? []) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      const responseHeader = response.header ?? new Headers();
      if (response.status !== 200) {
        const fallback = new ConnectError(`HTTP ${response.status}`, codeFromHttpStatus(response.status));
        throw errorFromJsonBytes(bytes, responseHeader, fallback);
      }
      return { message: bytes, header: responseHeader };
    } catch (error) {
      const connectError = ConnectError.from(error);
      outcome = { code: connectError.code, reason: connectError };
      throw connectError;
    }
  };
}
