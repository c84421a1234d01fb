import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { RuntimeConfig } from "../config.js";
import type { CallObserver } from "./call-observer.js";
import { createConnectHandler } from "./connect-handler.js";
import { createCors } from "./cors.js";
import type { ConnectHandlerOptions } from "./connect-handler.js";
import type { FallbackOptions } from "./fallback.js";
import { registerHealthService } from "./health-service.js";
import { createHttpServer } from "./http-server.js";
import type { HttpServer } from "./http-server.js";
import type { Readiness } from "./readiness.js";

/** The settings {@link createServiceServer} reads. */
export type ServiceServerConfig = Pick<
  RuntimeConfig,
  "maxMessageBytes" | "maxConnections" | "http2MaxStreams" | "maxBufferedBytes" | "headersTimeoutMs" | "requestTimeoutMs" | "idleTimeoutMs" | "maxHeaderBytes" | "corsOrigins"
>;

/** Options for {@link createServiceServer}. */
export interface ServiceServerOptions {
  readonly config: ServiceServerConfig;
  /** Registers the components' services. */
  readonly routes: (router: ConnectRouter) => void;
  readonly readiness: Readiness;
  readonly logger: Logger;
  readonly observer?: CallObserver | undefined;
  /** Non-RPC routes such as `/metrics`. */
  readonly otherRoutes?: FallbackOptions["otherRoutes"];
  /** Routes that call the served methods (REST), after `otherRoutes`. */
  readonly methodRoutes?: ConnectHandlerOptions["methodRoutes"];
  /** Run on every call, REST ones included, the first outermost. */
  readonly interceptors?: Interceptor[] | undefined;
  /** Each request's context values (the client's address). */
  readonly contextValues?: ConnectHandlerOptions["contextValues"];
}

/** The server of a service: its components, their REST routes and the gRPC health service on one port, bounded by the configured limits. */
export function createServiceServer(options: ServiceServerOptions): HttpServer {
  const { config, readiness, logger } = options;
  const serve = createConnectHandler({
    routes: (router) => {
      options.routes(router);
      registerHealthService(router, readiness);
    },
    readMaxBytes: config.maxMessageBytes,
    readiness,
    logger,
    observer: options.observer,
    otherRoutes: options.otherRoutes,
    methodRoutes: options.methodRoutes,
    interceptors: options.interceptors,
    contextValues: options.contextValues,
  });
  const cors = createCors(config.corsOrigins);
  const handler: typeof serve = cors === undefined ? serve : (req, res) => {
    if (!cors(req, res)) serve(req, res);
  };
  return createHttpServer({
    handler, logger,
    maxConnections: config.maxConnections,
    http2MaxStreams: config.http2MaxStreams,
    maxBufferedBytes: config.maxBufferedBytes,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    maxHeaderBytes: config.maxHeaderBytes,
  });
}
