import { clientAddressKey } from "../auth/client-address.js";
import type { Logger } from "pino";
import type { RuntimeConfig } from "../config.js";
import { callTargetKey } from "../entity/call-target.js";
import type { CallTarget } from "../entity/call-target.js";
import type { EntityObserver } from "../entity/entity-observer.js";
import type { CallObserver, NodeHandler } from "../server/index.js";
import type { JournalObserver } from "../storage/index.js";
import { accessLine } from "./access-line.js";
import { metricsRoute } from "./metrics-route.js";
import { createServiceMetrics } from "./service-metrics.js";
import { startTracing } from "./tracing.js";

/** Options for {@link createObservability}. */
export interface ObservabilityOptions {
  readonly config: Pick<RuntimeConfig, "metrics" | "tracesEndpoint">;
  readonly logger: Logger;
  /** The spans' `service.name`. */
  readonly serviceName: string;
  /** Entities in memory now, by entity type; read when /metrics is scraped. */
  activeEntities(): ReadonlyMap<string, number>;
}

/**
 * What the serving layer, the entity hosts and the journal are told to call.
 * A part whose capability is off is undefined, so the hot path skips it.
 */
export interface Observability {
  readonly calls: CallObserver | undefined;
  readonly entities: EntityObserver | undefined;
  readonly journal: JournalObserver | undefined;
  /** Serves `GET /metrics`, for the fallback's `otherRoutes`; undefined with metrics off. */
  readonly routes: ((...args: Parameters<NodeHandler>) => boolean) | undefined;
  /** Exports the spans still buffered. */
  shutdown(): Promise<void>;
}

/**
 * Wires the access log (at debug), Prometheus metrics (unless off) and
 * OpenTelemetry traces (when an endpoint is set) for one service.
 */
export async function createObservability(options: ObservabilityOptions): Promise<Observability> {
  const { logger } = options;
  const access = logger.isLevelEnabled("debug");
  const metrics = options.config.metrics ? createServiceMetrics({ activeEntities: options.activeEntities }) : undefined;
  const tracing = options.config.tracesEndpoint === undefined
    ? undefined
    : await startTracing({ endpoint: options.config.tracesEndpoint, serviceName: options.serviceName });

  const calls: CallObserver | undefined = !access && metrics === undefined && tracing === undefined ? undefined : {
    begin({ method, protocol, headers, values }) {
      const started = performance.now();
      let target: CallTarget | undefined;
      if (access) values.set(callTargetKey, (target = { entityType: undefined, entityId: undefined }));
      const span = tracing?.call(method, protocol, headers);
      return {
        run: span?.run,
        end(code, reason) {
          const seconds = (performance.now() - started) / 1000;
          metrics?.called(method, code, seconds);
          span?.end(code, reason);
          if (target !== undefined) {
            const line = accessLine({ method, protocol, target, code, seconds, client: values.get(clientAddressKey) });
            logger.debug(line.fields, line.message);
          }
        },
      };
    },
  };

  const entities: EntityObserver | undefined = metrics === undefined && tracing === undefined ? undefined : {
    ...(metrics !== undefined && {
      recovered: (type: string) => metrics.recovered(type),
      passivated: (type: string, count: number) => metrics.passivated(type, count),
      stepEnded: (type: string, step: string, outcome: "ok" | "failed" | "abandoned", seconds: number) => metrics.stepEnded(type, step, outcome, seconds),
    }),
    ...(tracing !== undefined && { command: tracing.command }),
  };

  const journal: JournalObserver | undefined = metrics === undefined && tracing === undefined ? undefined : {
    async commit(batch, run) {
      const started = performance.now();
      try {
        return await (tracing === undefined ? run() : tracing.commit(batch, run));
      } finally {
        metrics?.committed(batch.length, (performance.now() - started) / 1000);
      }
    },
    ...(metrics !== undefined && { appended: (seconds: number) => metrics.appended(seconds) }),
  };

  return {
    calls,
    entities,
    journal,
    routes: metrics === undefined ? undefined : metricsRoute(metrics, logger),
    shutdown: async () => tracing?.shutdown(),
  };
}
