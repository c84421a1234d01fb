import type { DescMethod } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { Code } from "@connectrpc/connect";
import { context, defaultTextMapGetter, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Span } from "@opentelemetry/api";
import type { IncomingHttpHeaders } from "node:http";
import type { CommandTrace } from "../entity/entity-observer.js";
import type { CallProtocol } from "../server/index.js";
import type { AppendRequest, CommitOutcomes } from "../storage/index.js";
import { codeName, isServerFault } from "./code-name.js";

/** Options for {@link startTracing}. */
export interface TracingOptions {
  /** The OTLP/HTTP traces URL, e.g. `http://localhost:4318/v1/traces`. */
  readonly endpoint: string;
  /** The spans' `service.name`. */
  readonly serviceName: string;
}

/** The spans of one service; see {@link startTracing}. */
export interface Tracing {
  /** Starts a call's server span, its parent taken from the `traceparent` header; `run` makes it the active context. */
  call(method: DescMethod, protocol: CallProtocol, headers: IncomingHttpHeaders): ServerSpan;
  /** Starts a command's span under the active context (the server span, or the calling component's). */
  command(entityType: string, entityId: string, method: DescMethod): CommandTrace;
  /** Runs a journal commit in a span: see {@link startTracing} for where it sits. */
  commit(batch: readonly AppendRequest[], run: () => Promise<CommitOutcomes>): Promise<CommitOutcomes>;
  /** Exports the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

/** A call's server span. */
export interface ServerSpan {
  run<T>(handle: () => T): T;
  end(code: Code | undefined, reason: unknown): void;
}

/**
 * Starts the OpenTelemetry SDK for one service: spans batched and exported
 * over OTLP http/protobuf. Only this function loads the SDK; a service without
 * an endpoint never calls it, so its calls pass no tracing code at all.
 *
 * Spans: a SERVER span per call (`shop.cart.v1.ShoppingCartService/AddItem`,
 * with `rpc.system`, `rpc.service`, `rpc.method` and the status code; its
 * status is ERROR as each system's conventions say: a Connect call answered
 * with any error code, a gRPC call only with a server fault), under
 * it an INTERNAL span per entity command (`shopping-cart AddItem`, from its
 * arrival in the entity's mailbox until its reply is released), and a span per
 * journal commit (`orrery.journal.commit`). One commit serves the commands
 * of many calls, so it cannot be the child of each: it is the child of the
 * first command of its batch, linked to every other one, and each of those is
 * linked back to it, so every trace leads to the commit that made its events
 * durable and the commit leads to every call it served.
 *
 * The active context inside a handler is its command's span, so an outgoing
 * call that propagates the active context (an instrumented HTTP client; a call
 * to another component in this process) carries the trace on. Orrery makes no
 * outgoing calls of its own yet.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  // Loaded here, not at the top: without an endpoint the SDK is never loaded.
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { W3CTraceContextPropagator }, { AsyncLocalStorageContextManager }] =
    await Promise.all([
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/exporter-trace-otlp-proto"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/core"),
      import("@opentelemetry/context-async-hooks"),
    ]);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.endpoint }))],
  });
  // Process-wide, and kept: handlers' own spans and instrumented clients find the active context through them.
  // A context manager or propagator the application registered first stays in place.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const propagator = new W3CTraceContextPropagator();
  propagation.setGlobalPropagator(propagator);
  const ownsGlobalProvider = trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer("@orrery/runtime");
  return {
    call(method, protocol, headers) {
      const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
      const span = tracer.startSpan(`${method.parent.typeName}/${method.name}`, {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": protocol === "connect" || protocol === "rest" ? "connect_rpc" : "grpc", "rpc.service": method.parent.typeName, "rpc.method": method.name, "orrery.protocol": protocol },
      }, parent);
      const active = trace.setSpan(parent, span);
      return {
        run: (handle) => context.with(active, handle),
        end(code, reason) {
          // Each system's conventions: a Connect span with an error code failed; a gRPC server span only on a server fault.
          if (protocol === "connect" || protocol === "rest") {
            if (code !== undefined) span.setAttribute("rpc.connect_rpc.error_code", codeName(code));
            endSpan(span, code, code !== undefined, reason);
          } else {
            span.setAttribute("rpc.grpc.status_code", code ?? 0); // 0 is OK
            endSpan(span, code, isServerFault(code), reason);
          }
        },
      };
    },
    command(entityType, entityId, method) {
      const parent = context.active();
      const span = tracer.startSpan(`${entityType} ${method.name}`, {
        kind: SpanKind.INTERNAL,
        attributes: { "orrery.entity.type": entityType, "orrery.entity.id": entityId, "rpc.method": method.name },
      }, parent);
      const active = trace.setSpan(parent, span);
      return {
        span,
        run: (handle) => context.with(active, handle),
        end(error) {
          const code = error === undefined ? undefined : ConnectError.from(error).code;
          if (code !== undefined) span.setAttribute("orrery.code", codeName(code));
          endSpan(span, code, isServerFault(code), error);
        },
      };
    },
    async commit(batch, run) {
      const spans = batch.flatMap((append) => append.spans ?? []);
      const [first, ...others] = spans;
      if (first === undefined) return run();
      const parent = trace.setSpan(ROOT_CONTEXT, first);
      const span = tracer.startSpan("orrery.journal.commit", {
        kind: SpanKind.CLIENT,
        attributes: {
          "db.system.name": "postgresql",
          "orrery.journal.appends": batch.length,
          "orrery.journal.events": batch.reduce((n, append) => n + append.events.length, 0),
        },
        links: others.map((other) => ({ context: other.spanContext() })),
      }, parent);
      for (const other of others) other.addLink({ context: span.spanContext() });
      try {
        const outcomes = await context.with(trace.setSpan(parent, span), run);
        const failed = outcomes.filter((outcome) => outcome !== undefined);
        if (failed.length > 0) {
          span.setAttribute("orrery.journal.failed_appends", failed.length);
          span.setStatus({ code: SpanStatusCode.ERROR, message: failed[0]!.message });
        }
        return outcomes;
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
      }
    },
    async shutdown() {
      await provider.shutdown();
      if (ownsGlobalProvider) trace.disable();
    },
  };
}

function endSpan(span: Span, code: Code | undefined, failed: boolean, reason: unknown): void {
  if (failed) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: reason instanceof ConnectError ? reason.rawMessage : reason instanceof Error ? reason.message : codeName(code) });
  }
  span.end();
}
