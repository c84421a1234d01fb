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

  it("leaves CORS off unless ORRERY_CORS_ORIGINS lists origins, and rejects what is not an origin", () => {
    assert.deepEqual(loadConfig({}).corsOrigins, []);
    assert.deepEqual(loadConfig({ ORRERY_CORS_ORIGINS: " https://app.example.com , http://localhost:5173" }).corsOrigins, ["https://app.example.com", "http://localhost:5173"]);
    assert.deepEqual(loadConfig({ ORRERY_CORS_ORIGINS: "*" }).corsOrigins, ["*"]);
    assert.throws(() => loadConfig({ ORRERY_CORS_ORIGINS: "https://app.example.com/,app.example.com" }), (e: unknown) =>
      e instanceof ConfigError && /"https:\/\/app\.example\.com\/" is not an origin/.test(e.message) && /"app\.example\.com" is not an origin/.test(e.message));
    assert.throws(() => loadConfig({ ORRERY_CORS_ORIGINS: "*,https://a.example" }), /mixes "\*" with origins/);
  });

  it("reads the cluster settings, with defaults that let a node fence itself before its peers take its shards", () => {
    const defaults = loadConfig({});
    assert.equal(defaults.shardCount, 1024);
    assert.equal(defaults.advertiseUrl, undefined);
    assert.ok(defaults.selfFenceAfterMs < defaults.deadAfterMs, "self-fence comes before others may declare the node dead");
    assert.equal(defaults.maxShardMoves, 103);
    assert.deepEqual([defaults.clusterSecret, defaults.shardWaitMs, defaults.forwardTimeoutMs], [undefined, 5_000, 10_000]);
    const set = loadConfig({
      ORRERY_SHARD_COUNT: "64", ORRERY_ADVERTISE_URL: "http://10.0.0.5:8080", ORRERY_NODE_NAME: "n1", ORRERY_HEARTBEAT_MS: "50", ORRERY_SELF_FENCE_AFTER_MS: "200",
      ORRERY_DEAD_AFTER_MS: "300", ORRERY_REBALANCE_STABLE_MS: "0", ORRERY_CLUSTER_SECRET: "0123456789abcdef", ORRERY_SHARD_WAIT_MS: "250", ORRERY_FORWARD_TIMEOUT_MS: "3000",
    });
    assert.deepEqual(
      [set.shardCount, set.advertiseUrl, set.nodeName, set.heartbeatMs, set.selfFenceAfterMs, set.deadAfterMs, set.rebalanceStableMs, set.maxShardMoves, set.clusterSecret, set.shardWaitMs, set.forwardTimeoutMs],
      [64, "http://10.0.0.5:8080", "n1", 50, 200, 300, 0, 7, "0123456789abcdef", 250, 3000],
    );
  });

  it("rejects bad cluster settings, naming each variable, and timing that would let two nodes hold one shard", () => {
    assert.throws(
      () => loadConfig({ ORRERY_SHARD_COUNT: "0", ORRERY_ADVERTISE_URL: "10.0.0.5:8080", ORRERY_MAX_SHARD_MOVES: "none" }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /ORRERY_SHARD_COUNT="0" is not an integer between 1 and/.test(e.message) &&
        /ORRERY_ADVERTISE_URL="10\.0\.0\.5:8080" is not an http:\/\/ or https:\/\/ URL/.test(e.message) &&
        /ORRERY_MAX_SHARD_MOVES="none"/.test(e.message),
    );
    assert.throws(() => loadConfig({ ORRERY_CLUSTER_SECRET: "short" }), /ORRERY_CLUSTER_SECRET is 5 characters; use at least 16 \(e\.g\. openssl rand -hex 32\), the same on every node/);
    assert.throws(
      () => loadConfig({ ORRERY_SELF_FENCE_AFTER_MS: "8000", ORRERY_DEAD_AFTER_MS: "6000" }),
      /ORRERY_HEARTBEAT_MS \(500\), ORRERY_SELF_FENCE_AFTER_MS \(8000\) and ORRERY_DEAD_AFTER_MS \(6000\) do not fit: /,
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
