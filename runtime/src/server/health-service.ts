import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { toReadiness, type ReadinessSource } from "./readiness.js";

/**
 * Registers the standard gRPC health service (`grpc.health.v1.Health`) so
 * that `grpc_health_probe`, Kubernetes gRPC probes and load balancers can
 * ask whether the server takes traffic.
 *
 * - `Check` with an empty service asks about the server; with a service name,
 *   about that service (every registered service shares the server's
 *   readiness). SERVING while `readiness` is `serving`, else NOT_SERVING; an
 *   unregistered service is the error NOT_FOUND, as the protocol says.
 * - `Watch` streams the current status, then each change; an unknown service
 *   streams SERVICE_UNKNOWN. Once the server drains, it sends NOT_SERVING and
 *   ends the stream, so that it does not hold up a graceful shutdown.
 *
 * `source` is a {@link Readiness} or a callback (polled while someone watches).
 * `Check` does no I/O, which makes it the no-op call for transport benchmarks.
 *
 * @example
 * const readiness = createReadiness();
 * createConnectHandler({ routes: (router) => registerHealthService(router.service(Cart, cart), readiness) });
 */
export function registerHealthService(router: ConnectRouter, source: ReadinessSource): ConnectRouter {
  const readiness = toReadiness(source);
  const serving = (): ServingStatus =>
    readiness.state === "serving" ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  // Looked up per call: services registered after this one count too.
  const isKnown = (service: string): boolean =>
    service === "" || router.handlers.some((h) => h.service.typeName === service);

  return router.service(Health, {
    check(request) {
      if (!isKnown(request.service)) {
        throw new ConnectError(`grpc.health.v1.Health/Check: unknown service "${request.service}"`, Code.NotFound);
      }
      return { status: serving() };
    },
    async *watch(request, context) {
      const current = (): ServingStatus => (isKnown(request.service) ? serving() : ServingStatus.SERVICE_UNKNOWN);
      let wake: (() => void) | undefined;
      const stopListening = readiness.onChange(() => wake?.());
      const onAbort = (): void => wake?.();
      context.signal.addEventListener("abort", onAbort);
      try {
        let last: ServingStatus | undefined;
        for (;;) {
          const status = current();
          if (status !== last) {
            last = status;
            yield { status };
            continue; // the state may have changed while the client read
          }
          if (readiness.state === "draining" || context.signal.aborted) return;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        stopListening();
        context.signal.removeEventListener("abort", onAbort);
      }
    },
  });
}
