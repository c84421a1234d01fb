import { Code, ConnectError, createConnectRouter, createContextValues } from "@connectrpc/connect";
import type { ConnectRouter, ConnectRouterOptions, ContextValues, Interceptor } from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { Logger } from "pino";
import { callOutcome, type CallObserver, type ObservedCall } from "./call-observer.js";
import { detectProtocol, errorResponse, respecGrpcResponse, unsupportedMediaType } from "./error-response.js";
import { createFallbackHandler, type FallbackOptions } from "./fallback.js";
import type { NodeHandler } from "./http-server.js";
import type { ReadinessSource } from "./readiness.js";
import { createMethodDispatch, type MethodDispatch } from "./method-dispatch.js";
import { callProbeKey, nameEarlyFailure, probeInterceptor, startCallProbe, watchBody, type CallProbe } from "./request-errors.js";

// connect-es decodes JSON with a lenient TextDecoder, which turns invalid UTF-8 into U+FFFD.
const fatalDecoder = new TextDecoder("utf-8", { fatal: true });
const strictUtf8 = {
  decode(input?: Uint8Array): string {
    try {
      return fatalDecoder.decode(input);
    } catch {
      throw new ConnectError("JSON is not valid UTF-8", Code.InvalidArgument);
    }
  },
};

/** Options for {@link createConnectHandler}. */
export interface ConnectHandlerOptions {
  /** Registers the services, as for `connectNodeAdapter`. */
  routes: (router: ConnectRouter) => void;
  /** Largest request message accepted, in bytes; 4 MiB (gRPC's default) unless set. */
  readMaxBytes?: number;
  /** Connect-es ignores unknown JSON fields; we reject them (INVALID_ARGUMENT) unless this is true. */
  ignoreUnknownJsonFields?: boolean;
  /** Run after the request message is parsed, before the implementation. */
  interceptors?: Interceptor[];
  /** Answers `/readyz`: a {@link Readiness} or a callback; ready when left out. */
  readiness?: ReadinessSource;
  /** Non-RPC routes such as `/metrics`, tried before the unknown-procedure answer. */
  otherRoutes?: FallbackOptions["otherRoutes"];
  /**
   * Routes that call the served methods (REST), tried after `otherRoutes`:
   * given the dispatchers that run a unary or server-streaming call through the same handlers.
   */
  methodRoutes?: (dispatch: MethodDispatch) => NonNullable<FallbackOptions["otherRoutes"]>;
  /** Per-request context values for interceptors and implementations. */
  contextValues?: (request: Parameters<NodeHandler>[0]) => ContextValues;
  /** Other connect-es handler options (shutdownSignal, maxTimeoutMs, requestGate, …). */
  connect?: Omit<ConnectRouterOptions, "readMaxBytes" | "interceptors">;
  /** Where handler failures that reach no client are logged; the console if left out. */
  logger?: Logger;
  /** Told about every call (access log, metrics, traces); without it no call is timed or followed. */
  observer?: CallObserver;
}

/**
 * Creates the request listener that serves Connect, gRPC and gRPC-Web for
 * every registered service, `/healthz` and `/readyz`, and a named
 * UNIMPLEMENTED error for anything else. It behaves like
 * `connectNodeAdapter`, except that failures connect-es raises before user
 * code (a malformed or oversize request) name the method:
 * `shop.cart.v1.ShoppingCartService/AddItem: invalid request body: parse binary: premature EOF`,
 * invalid UTF-8 in JSON is rejected rather than replaced, and a missing or
 * unsupported content type is answered with the types this server accepts.
 *
 * @example
 * const handler = createConnectHandler({ routes: (router) => registerHealthService(router, readiness), readiness });
 * await createHttpServer({ handler }).listen(8080);
 */
export function createConnectHandler(options: ConnectHandlerOptions): NodeHandler {
  const userGate = options.connect?.requestGate;
  const jsonOptions = {
    ...options.connect?.jsonOptions,
    ignoreUnknownFields: options.ignoreUnknownJsonFields ?? false,
    textDecoder: strictUtf8,
  };
  const readMaxBytes = options.readMaxBytes ?? 4 * 1024 * 1024;
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    ...options.connect,
    readMaxBytes,
    jsonOptions,
    interceptors: [probeInterceptor, ...(options.interceptors ?? [])],
    async requestGate(context) {
      await userGate?.(context);
      // Captured only once the gate passed: the gate's own rejections stay as they are.
      const probe = context.values.get(callProbeKey);
      if (probe !== undefined) probe.context = context;
    },
  });
  options.routes(router);
  const handlers = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  const observer = options.observer;
  const methodRoute = options.methodRoutes?.(createMethodDispatch(handlers, { observer, contextValues: options.contextValues, protocol: "rest", readMaxBytes }));
  const { otherRoutes } = options;
  const fallback = createFallbackHandler({
    methods: router.handlers.map((h) => h.method),
    readiness: options.readiness,
    otherRoutes: methodRoute === undefined ? otherRoutes : (req, res) => otherRoutes?.(req, res) === true || methodRoute(req, res),
  });

  return (req, res) => {
    const handler = handlers.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (handler === undefined) return fallback(req, res);
    const values = options.contextValues?.(req) ?? createContextValues();
    const probe = startCallProbe(values, req.method === "GET");
    const nodeRes = res as Parameters<typeof universalResponseToNodeResponse>[1];
    const call = observer?.begin({ method: handler.method, protocol: detectProtocol(req.headers["content-type"]), headers: req.headers, values });
    let uReq;
    try {
      uReq = universalRequestFromNodeRequest(req, nodeRes, undefined, values);
    } catch (e) {
      // e.g. an HTTP/1.0 request without a Host header; connect-node would throw out of the listener.
      const error = new ConnectError(`bad request: ${ConnectError.from(e).rawMessage}`, Code.InvalidArgument);
      probe.answered = error;
      const answer = universalResponseToNodeResponse(errorResponse(detectProtocol(req.headers["content-type"]), error), nodeRes);
      return void settle(answer, call, probe, 400, res).catch(() => {});
    }
    if (typeof uReq.body === "object" && uReq.body !== null && Symbol.asyncIterator in uReq.body) {
      uReq.body = watchBody(uReq.body, probe);
    }
    const request = uReq;
    const handled = call?.run !== undefined ? call.run(() => handler(request)) : handler(request);
    let status = 0;
    const answered = handled.then((uRes) => {
      status = uRes.status;
      if (uRes.status === 415) {
        const answer = unsupportedMediaType(handler.method, req.headers["content-type"]);
        probe.answered = new ConnectError("unsupported content type", Code.InvalidArgument);
        return universalResponseToNodeResponse(answer, nodeRes);
      }
      return universalResponseToNodeResponse(respecGrpcResponse(nameEarlyFailure(uRes, handler.method, probe)), nodeRes);
    });
    (call === undefined ? answered : settle(answered, call, probe, () => status, res)).catch((reason: unknown) => {
      if (ConnectError.from(reason).code === Code.Aborted) return; // the client went away
      if (options.logger) options.logger.error({ err: reason, procedure: handler.requestPath }, "rpc handler failed");
      else console.error(`rpc handler for ${handler.requestPath} failed`, reason);
    });
  };
}

/**
 * Tells `call` how the call ended once its response is finished or its stream
 * closed (connect-node's write promise can wait on the request side of an
 * HTTP/1.1 keep-alive connection); passes failures on.
 */
function settle(answered: Promise<void>, call: ObservedCall | undefined, probe: CallProbe, status: number | (() => number), res: Parameters<NodeHandler>[1]): Promise<void> {
  if (call === undefined) return answered;
  res.once("close", () => {
    const { code, reason } = callOutcome(probe, typeof status === "number" ? status : status(), res.writableFinished);
    call.end(code, reason);
  });
  return answered;
}
