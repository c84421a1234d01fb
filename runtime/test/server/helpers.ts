import * as http2 from "node:http2";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_wrappers,
  MethodOptions_IdempotencyLevel,
  StringValueSchema,
} from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import {
  createConnectHandler,
  createHttpServer,
  createReadiness,
  registerHealthService,
  type ConnectionLimits,
  type HttpServer,
  type Readiness,
} from "../../src/server/index.js";
import {
  file_grpc_health_v1_health,
  type HealthCheckRequestSchema,
  type HealthCheckResponseSchema,
} from "../../src/gen/grpc/health/v1/health_pb.js";

/** A running test server with the health service on 127.0.0.1. */
export interface TestServer {
  url: string;
  port: number;
  server: HttpServer;
  readiness: Readiness;
}

/** Starts the health service (our test service) behind createConnectHandler and createHttpServer. */
export async function startTestServer(
  options: {
    readMaxBytes?: number;
    interceptors?: Interceptor[];
    routes?: (router: ConnectRouter) => void;
    limits?: Partial<ConnectionLimits>;
  } = {},
): Promise<TestServer> {
  const readiness = createReadiness("serving");
  const handler = createConnectHandler({
    routes: (router) => {
      registerHealthService(router, readiness);
      options.routes?.(router);
    },
    readiness,
    readMaxBytes: options.readMaxBytes,
    interceptors: options.interceptors,
  });
  const server = createHttpServer({ handler, ...options.limits });
  const { url, port } = await server.listen(0);
  return { url, port, server, readiness };
}

/**
 * Services this server does not have, for calls with real clients:
 * `shop.cart.v1.Nope/Check` (unknown service) and `grpc.health.v1.Health/Nope`
 * (unknown method of a known service).
 */
export const { NopeService, HealthWithNope } = (() => {
  const file = (pkg: string, service: string, method: string, own = false) =>
    create(FileDescriptorProtoSchema, {
      name: `${pkg}/nope.proto`,
      package: pkg,
      syntax: "proto3",
      dependency: own ? [] : ["grpc/health/v1/health.proto"],
      messageType: own ? [{ name: "HealthCheckRequest" }, { name: "HealthCheckResponse" }] : [],
      service: [
        {
          name: service,
          method: [{ name: method, inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse" }],
        },
      ],
    });
  const resolve = () => file_grpc_health_v1_health;
  const nope = createFileRegistry(file("shop.cart.v1", "Nope", "Check"), resolve).getService("shop.cart.v1.Nope");
  // A registry without the real health file, so the name grpc.health.v1.Health is free.
  const health = createFileRegistry(file("grpc.health.v1", "Health", "Nope", true), () => undefined).getService("grpc.health.v1.Health");
  if (nope === undefined || health === undefined) throw new Error("test descriptors did not build");
  type Unary = { methodKind: "unary"; input: typeof HealthCheckRequestSchema; output: typeof HealthCheckResponseSchema };
  return { NopeService: nope as GenService<{ check: Unary }>, HealthWithNope: health as GenService<{ nope: Unary }> };
})();

/**
 * `test.echo.v1.EchoService/Echo(google.protobuf.StringValue) returns (google.protobuf.StringValue)`,
 * marked NO_SIDE_EFFECTS so Connect clients may call it with GET; {@link registerEcho} implements it.
 */
export const EchoService = (() => {
  const file = create(FileDescriptorProtoSchema, {
    name: "test/echo/v1/echo.proto",
    package: "test.echo.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [
      {
        name: "EchoService",
        method: [{ name: "Echo", inputType: ".google.protobuf.StringValue", outputType: ".google.protobuf.StringValue", options: { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS } }],
      },
    ],
  });
  const service = createFileRegistry(file, () => file_google_protobuf_wrappers).getService("test.echo.v1.EchoService");
  if (service === undefined) throw new Error("test.echo.v1.EchoService did not build");
  return service as GenService<{ echo: { methodKind: "unary"; input: typeof StringValueSchema; output: typeof StringValueSchema } }>;
})();

/** Serves {@link EchoService}: answers the value it was sent. */
export function registerEcho(router: ConnectRouter): void {
  router.service(EchoService, { echo: (req) => create(StringValueSchema, { value: req.value }) });
}

/** A gRPC length-prefixed message (flags, 4-byte big-endian length, bytes). */
export function envelope(bytes: Uint8Array, declaredLength = bytes.byteLength): Buffer {
  const out = Buffer.alloc(5 + bytes.byteLength);
  out.writeUInt32BE(declaredLength, 1);
  out.set(bytes, 5);
  return out;
}

/** The status a raw gRPC (HTTP/2) call ended with, from the trailers or a trailers-only response. */
export async function rawGrpc(
  url: string,
  path: string,
  body: Uint8Array,
  contentType = "application/grpc",
  headers: http2.OutgoingHttpHeaders = {},
): Promise<{ status: string; message: string }> {
  const session = http2.connect(url);
  try {
    const stream = session.request({ ...headers, ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" });
    stream.end(body);
    let end: http2.IncomingHttpHeaders = {};
    stream.on("response", (headers) => (end = headers));
    stream.on("trailers", (trailers) => (end = trailers));
    stream.resume();
    await new Promise((resolve) => stream.on("close", resolve));
    return { status: String(end["grpc-status"]), message: decodeURIComponent(String(end["grpc-message"] ?? "")) };
  } finally {
    session.close();
  }
}

/** The status a raw gRPC-Web (HTTP/1.1) call ended with, from a header or the trailer frame. */
export async function rawGrpcWeb(
  url: string,
  path: string,
  body: Uint8Array,
  contentType = "application/grpc-web+proto",
): Promise<{ status: string; message: string }> {
  const res = await fetch(url + path, { method: "POST", headers: { "content-type": contentType }, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  const fields = new Map<string, string>(res.headers);
  for (let i = 0; i + 5 <= bytes.length; i += 5 + bytes.readUInt32BE(i + 1)) {
    if ((bytes[i]! & 0x80) === 0) continue;
    const text = bytes.subarray(i + 5, i + 5 + bytes.readUInt32BE(i + 1)).toString();
    for (const line of text.split("\r\n").filter(Boolean)) {
      const at = line.indexOf(":");
      fields.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim());
    }
  }
  return { status: fields.get("grpc-status") ?? "", message: decodeURIComponent(fields.get("grpc-message") ?? "") };
}
