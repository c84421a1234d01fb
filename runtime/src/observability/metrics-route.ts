import type { Logger } from "pino";
import type { NodeHandler } from "../server/index.js";
import type { ServiceMetrics } from "./service-metrics.js";

/** Answers `GET /metrics` (and HEAD) with the Prometheus text exposition; returns false for any other request. */
export function metricsRoute(metrics: ServiceMetrics, logger: Logger): (...args: Parameters<NodeHandler>) => boolean {
  return (req, res) => {
    if ((req.method !== "GET" && req.method !== "HEAD") || (req.url ?? "").split("?", 1)[0] !== "/metrics") return false;
    metrics.exposition().then(
      (text) => {
        res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? "" : text);
      },
      (error: unknown) => {
        logger.error({ err: error }, "collecting metrics failed");
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end("collecting metrics failed; see the service's log\n");
      },
    );
    return true;
  };
}
