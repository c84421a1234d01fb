// Readable operations: the logger (JSON or pretty), the access line, Prometheus
// metrics at /metrics and OpenTelemetry traces over OTLP.

export { createLogger } from "./create-logger.js";
export type { LoggerOptions } from "./create-logger.js";
export { createObservability } from "./create-observability.js";
export type { Observability, ObservabilityOptions } from "./create-observability.js";
