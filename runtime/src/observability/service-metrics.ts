import type { DescMethod } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { codeName } from "./code-name.js";

/** Seconds; from half a millisecond (a no-op call) to ten seconds (a call stuck on storage). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** The Prometheus metrics of one service (see the README for every name). */
export interface ServiceMetrics {
  /** A call ended with `code` (undefined for OK) after `seconds`. */
  called(method: DescMethod, code: Code | undefined, seconds: number): void;
  /** One append waited `seconds` from submission until committed (or failed). */
  appended(seconds: number): void;
  /** One batch of `appends` was committed in `seconds`. */
  committed(appends: number, seconds: number): void;
  recovered(entityType: string): void;
  passivated(entityType: string, count: number): void;
  /** A workflow step's attempt ended (see `EntityObserver.stepEnded`). */
  stepEnded(workflowType: string, step: string, outcome: string, seconds: number): void;
  /** The text exposition of this service's metrics and the process's. */
  exposition(): Promise<string>;
  readonly contentType: string;
}

/** Creates the metrics of one service in a registry of its own, so several services in one process do not collide. */
export function createServiceMetrics(options: { activeEntities(): ReadonlyMap<string, number> }): ServiceMetrics {
  const registry = new Registry();
  const registers = [registry];
  const calls = new Counter({ name: "orrery_rpc_calls_total", help: "RPC calls answered, by method and Connect code", labelNames: ["method", "code"], registers });
  const callSeconds = new Histogram({
    name: "orrery_rpc_call_duration_seconds", help: "RPC call latency, from the request's arrival until its reply is written",
    labelNames: ["method"], buckets: LATENCY_BUCKETS, registers,
  });
  const appendSeconds = new Histogram({
    name: "orrery_journal_append_duration_seconds", help: "Journal append latency, from submission (queueing for a batch included) until committed",
    buckets: LATENCY_BUCKETS, registers,
  });
  const commitSeconds = new Histogram({
    name: "orrery_journal_commit_duration_seconds", help: "Duration of one group commit (one batch of appends)", buckets: LATENCY_BUCKETS, registers,
  });
  const batchAppends = new Histogram({ name: "orrery_journal_batch_appends", help: "Appends per group commit", buckets: BATCH_BUCKETS, registers });
  const recoveries = new Counter({ name: "orrery_entity_recoveries_total", help: "Entities rebuilt from the journal", labelNames: ["entity_type"], registers });
  const passivations = new Counter({ name: "orrery_entity_passivations_total", help: "Idle entities dropped from memory", labelNames: ["entity_type"], registers });
  const steps = new Counter({ name: "orrery_workflow_steps_total", help: "Workflow step attempts, by workflow type, step and outcome (ok, failed, abandoned)", labelNames: ["workflow_type", "step", "outcome"], registers });
  const stepSeconds = new Histogram({
    name: "orrery_workflow_step_duration_seconds", help: "How long workflow step attempts ran, by workflow type and step", labelNames: ["workflow_type", "step"], buckets: LATENCY_BUCKETS, registers,
  });
  new Gauge({
    name: "orrery_entities_active", help: "Entities held in memory", labelNames: ["entity_type"], registers,
    collect() {
      for (const [type, count] of options.activeEntities()) this.set({ entity_type: type }, count);
    },
  });
  // Label values bound once per method and code, so a call does no label lookup.
  const perMethod = new Map<DescMethod, { count: Array<{ inc(): void } | undefined>; seconds: { observe(value: number): void } }>();

  return {
    called(method, code, seconds) {
      let bound = perMethod.get(method);
      if (bound === undefined) {
        bound = { count: [], seconds: callSeconds.labels(path(method)) };
        perMethod.set(method, bound);
      }
      const index = code ?? 0;
      (bound.count[index] ??= calls.labels(path(method), codeName(code))).inc();
      bound.seconds.observe(seconds);
    },
    appended: (seconds) => appendSeconds.observe(seconds),
    committed(appends, seconds) {
      batchAppends.observe(appends);
      commitSeconds.observe(seconds);
    },
    recovered: (type) => recoveries.inc({ entity_type: type }),
    passivated: (type, count) => passivations.inc({ entity_type: type }, count),
    stepEnded(type, step, outcome, seconds) {
      steps.inc({ workflow_type: type, step, outcome });
      stepSeconds.observe({ workflow_type: type, step }, seconds);
    },
    async exposition() {
      const own = await registry.metrics();
      return `${own}${own.endsWith("\n") ? "" : "\n"}${await processMetrics().metrics()}`;
    },
    contentType: registry.contentType,
  };
}

let processRegistry: Registry | undefined;

/** prom-client's process and Node.js metrics (CPU, memory, event-loop lag, GC): one set per process, shared by its services. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

function path(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}
