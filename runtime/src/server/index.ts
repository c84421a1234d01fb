// The serving layer: one cleartext port for Connect, gRPC and gRPC-Web over
// HTTP/1.1 and h2c, health endpoints, and errors that name the method.

export { createHttpServer } from "./http-server.js";
export type { HttpServer, HttpServerOptions, NodeHandler } from "./http-server.js";
export { connectionLimitDefaults } from "./connection-limits.js";
export type { ConnectionLimits } from "./connection-limits.js";
export { createConnectHandler } from "./connect-handler.js";
export type { ConnectHandlerOptions } from "./connect-handler.js";
export { createReadiness, toReadiness } from "./readiness.js";
export type { Readiness, ReadinessSource, ReadinessState } from "./readiness.js";
export { registerHealthService } from "./health-service.js";
export {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
} from "../gen/grpc/health/v1/health_pb.js";
export type { HealthCheckRequest, HealthCheckResponse } from "../gen/grpc/health/v1/health_pb.js";

// Building blocks for other runtime code (REST routes, forwarding); not for component authors.
export { createFallbackHandler } from "./fallback.js";
export type { FallbackOptions } from "./fallback.js";
export { detectProtocol, errorResponse } from "./error-response.js";
export type { RpcProtocol } from "./error-response.js";
export type { CallObserver, CallProtocol, CallStart, ObservedCall } from "./call-observer.js";
export { createMethodDispatch } from "./method-dispatch.js";
export type { MethodDispatch, StreamDispatch, StreamReply, UnaryDispatch, UnaryReply } from "./method-dispatch.js";

// For createService.
export { createServiceServer } from "./create-service-server.js";
export type { ServiceServerConfig, ServiceServerOptions } from "./create-service-server.js";
export { followReadiness, storageReachable } from "./follow-readiness.js";
export type { ReadinessCondition } from "./follow-readiness.js";
