import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/config.js";
import { connectionLimitDefaults } from "../src/server/index.js";

describe("loadConfig", () => {
  it("defaults the connection limits to connectionLimitDefaults", () => {
    const config = loadConfig({});
    const { sniffTimeoutMs: _, ...limits } = connectionLimitDefaults;
    for (const [key, value] of Object.entries(limits)) assert.equal(config[key as keyof typeof config], value, key);
  });

  it("reads each connection limit from its variable", () => {
    const config = loadConfig({
      ORRERY_MAX_CONNECTIONS: "50",
      ORRERY_HTTP2_MAX_STREAMS: "10",
      ORRERY_MAX_BUFFERED_BYTES: "1048576",
      ORRERY_HEADERS_TIMEOUT_MS: "2000",
      ORRERY_REQUEST_TIMEOUT_MS: "5000",
      ORRERY_IDLE_TIMEOUT_MS: "7000",
      ORRERY_MAX_HEADER_BYTES: "8192",
    });
    assert.deepEqual(
      [config.maxConnections, config.http2MaxStreams, config.maxBufferedBytes, config.headersTimeoutMs, config.requestTimeoutMs, config.idleTimeoutMs, config.maxHeaderBytes],
      [50, 10, 1048576, 2000, 5000, 7000, 8192],
    );
  });

  it("rejects bad limits, naming each variable", () => {
    assert.throws(
      () => loadConfig({ ORRERY_HTTP2_MAX_STREAMS: "0", ORRERY_MAX_HEADER_BYTES: "lots", ORRERY_IDLE_TIMEOUT_MS: "-1" }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /ORRERY_HTTP2_MAX_STREAMS="0" is not an integer between 1 and/.test(e.message) &&
        /ORRERY_MAX_HEADER_BYTES="lots"/.test(e.message) &&
        /ORRERY_IDLE_TIMEOUT_MS="-1"/.test(e.message),
    );
  });

  it("rejects a request timeout below the headers timeout, as node:http would", () => {
    assert.throws(() => loadConfig({ ORRERY_HEADERS_TIMEOUT_MS: "20000", ORRERY_REQUEST_TIMEOUT_MS: "10000" }), /ORRERY_REQUEST_TIMEOUT_MS \(10000\) must not be below ORRERY_HEADERS_TIMEOUT_MS \(20000\)/);
  });

  it("rejects an unknown LOG_FORMAT, ORRERY_METRICS or OTLP protocol, and a traces endpoint that is no URL", () => {
    assert.throws(
      () => loadConfig({ LOG_FORMAT: "fancy", ORRERY_METRICS: "maybe", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }),
      (e: unknown) =>
        e instanceof ConfigError && /LOG_FORMAT="fancy" is not one of auto, json, pretty/.test(e.message) &&
        /ORRERY_METRICS="maybe" is not one of on, off/.test(e.message) && /OTEL_EXPORTER_OTLP_PROTOCOL="grpc" is not supported/.test(e.message) &&
        /OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318" is not an http/.test(e.message),
    );
  });

  it("derives the traces URL from OTEL_EXPORTER_OTLP_ENDPOINT, and the traces variable wins", () => {
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" }).tracesEndpoint, "http://c:4318/v1/traces");
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x" }).tracesEndpoint, "http://t/x");
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }).tracesEndpoint, undefined);
    assert.equal(loadConfig({}).metrics, true);
  });
});
