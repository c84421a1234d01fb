import assert from "node:assert/strict";
import { modeOrder, observabilityEnv, OBSERVABILITY_MODES } from "../bench/observability-cost.js";

describe("the bench's observability comparison", () => {
  it("alternates the modes forwards and backwards, so that a drifting machine favours none of them", () => {
    assert.deepEqual([0, 1, 2].map((round) => modeOrder(OBSERVABILITY_MODES, round)), [
      ["off", "metrics", "tracing"],
      ["tracing", "metrics", "off"],
      ["off", "metrics", "tracing"],
    ]);
  });

  it("turns metrics off, leaves the default, or adds an OTLP endpoint for tracing", () => {
    const sink = "http://127.0.0.1:4318";
    assert.deepEqual(observabilityEnv("off", sink), { ORRERY_METRICS: "off" });
    assert.deepEqual(observabilityEnv("metrics", sink), { ORRERY_METRICS: "on" });
    assert.deepEqual(observabilityEnv("tracing", sink), { ORRERY_METRICS: "on", OTEL_EXPORTER_OTLP_ENDPOINT: sink });
  });
});
