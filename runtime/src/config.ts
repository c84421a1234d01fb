import { checkMembershipTiming, defaultMembershipTiming } from "./cluster/membership.js";
import { defaultShardCount } from "./cluster/shard-hash.js";
import { MIN_CLUSTER_SECRET_LENGTH } from "./cluster/call-signature.js";
import { authSettings } from "./auth/auth-config.js";
import type { AuthConfig } from "./auth/auth-config.js";
import { serviceUrlsFrom } from "./entity/remote-services.js";
import { checkSchemaName } from "./storage/database-schema.js";
/** Runtime settings, read from the environment and overridable in code. */
export interface RuntimeConfig extends AuthConfig {
  /** PORT: the port to serve on (0 picks a free one). */
  readonly port: number;
  /** HOST: the interface to bind. */
  readonly host: string;
  /** DATABASE_URL: PostgreSQL connection string; unset uses embedded PGlite (in code, `databaseUrl: undefined` written out forces PGlite). */
  readonly databaseUrl: string | undefined;
  /** ORRERY_DATA_DIR: PGlite's data directory ("memory:" keeps nothing). */
  readonly dataDir: string;
  /**
   * ORRERY_DATABASE_SCHEMA: the PostgreSQL schema that holds every Orrery table
   * of this service (created if missing; letters, digits and _), so that several
   * services can share one database without forming one cluster. Unset: the
   * database's default (`public`). Not supported on PGlite, where each service
   * has its own data directory.
   */
  readonly databaseSchema: string | undefined;
  /** ORRERY_SNAPSHOT_EVERY: default snapshot interval in events (0 = never). */
  readonly snapshotEvery: number;
  /** ORRERY_PASSIVATE_AFTER_MS: drop entities from memory after this much idle time. */
  readonly passivateAfterMs: number;
  /** ORRERY_MAX_ACTIVE_ENTITIES: entities held in memory per component at most. */
  readonly maxActiveEntities: number;
  /** ORRERY_MAX_MESSAGE_BYTES: the largest request message accepted. */
  readonly maxMessageBytes: number;
  /** ORRERY_SHUTDOWN_GRACE_MS: how long in-flight calls may finish on shutdown. */
  readonly shutdownGraceMs: number;
  /** ORRERY_MAX_CONNECTIONS: open TCP connections at most; more are closed on accept. */
  readonly maxConnections: number;
  /** ORRERY_HTTP2_MAX_STREAMS: concurrent streams per HTTP/2 connection, advertised in SETTINGS. */
  readonly http2MaxStreams: number;
  /** ORRERY_MAX_BUFFERED_BYTES: unsent response bytes one connection may hold while its client does not read. */
  readonly maxBufferedBytes: number;
  /** ORRERY_HEADERS_TIMEOUT_MS: time an HTTP/1.1 client has to send the request line and headers. */
  readonly headersTimeoutMs: number;
  /** ORRERY_REQUEST_TIMEOUT_MS: time an HTTP/1.1 client has to send the whole request (not the response's duration). */
  readonly requestTimeoutMs: number;
  /** ORRERY_IDLE_TIMEOUT_MS: close an HTTP/1.1 keep-alive connection or an HTTP/2 session without open streams after this much quiet. */
  readonly idleTimeoutMs: number;
  /** ORRERY_MAX_HEADER_BYTES: the largest request line plus headers (HTTP/1.1) or header list (HTTP/2). */
  readonly maxHeaderBytes: number;
  /**
   * ORRERY_CORS_ORIGINS: the browser origins allowed to call this service
   * (comma-separated, e.g. "https://app.example.com,http://localhost:5173",
   * or "*" for any). Empty (the default): CORS is off, no CORS header is sent
   * and preflights are not answered.
   */
  readonly corsOrigins: readonly string[];
  /** ORRERY_STORAGE_WAIT_MS: how long a call waits for an unreachable event store before UNAVAILABLE. */
  readonly storageWaitMs: number;
  /** ORRERY_MAX_QUEUED_PER_ENTITY: commands queued for one entity at most; more get RESOURCE_EXHAUSTED. */
  readonly maxQueuedPerEntity: number;
  /** ORRERY_MAX_PENDING_APPENDS: appends waiting for the event store at most; more fail at once with UNAVAILABLE. */
  readonly maxPendingAppends: number;
  /** ORRERY_DB_POOL_SIZE: PostgreSQL connections at most. */
  readonly dbPoolSize: number;
  /** ORRERY_DB_STATEMENT_TIMEOUT_MS: PostgreSQL statement_timeout; a statement without any answer for 2 s longer loses its connection. */
  readonly dbStatementTimeoutMs: number;
  /** LOG_LEVEL: pino level (fatal, error, warn, info, debug, trace, silent); at debug, one access line per call. */
  readonly logLevel: string;
  /** LOG_FORMAT: "json" (one JSON object a line), "pretty" (readable, one line an event) or "auto" (pretty when stdout is a terminal). */
  readonly logFormat: LogFormat;
  /** ORRERY_METRICS: "on" serves Prometheus metrics at GET /metrics; "off" records nothing and answers 404 there. */
  readonly metrics: boolean;
  /**
   * Where OTLP traces go (http/protobuf): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or
   * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces"; unset (or OTEL_SDK_DISABLED=true) traces nothing.
   */
  readonly tracesEndpoint: string | undefined;
  /**
   * ORRERY_SERVICE_NAME (or OTEL_SERVICE_NAME): this service's name among the project's services, and the
   * `service.name` of its spans; the component types, comma-separated, when unset.
   */
  readonly serviceName: string | undefined;
  /** ORRERY_SERVICE_<NAME>_URL: where the project's other services are, by name (`ORRERY_SERVICE_WALLET_URL` is "wallet"). */
  readonly serviceUrls: ReadonlyMap<string, string>;
  /** ORRERY_SHARD_COUNT: shards entities hash to; written to the database at its first start and fixed for its life. */
  readonly shardCount: number;
  /** ORRERY_ADVERTISE_URL: the URL other nodes reach this one at; by default http://HOST:PORT (this machine's hostname when HOST listens on all interfaces). */
  readonly advertiseUrl: string | undefined;
  /** ORRERY_NODE_NAME: this node's stable name in the cluster; by default the advertised URL's host:port. */
  readonly nodeName: string | undefined;
  /** ORRERY_HEARTBEAT_MS: how often the node heartbeats, reaps dead peers and checks its shards. */
  readonly heartbeatMs: number;
  /** ORRERY_SELF_FENCE_AFTER_MS: the node stops serving every shard when no heartbeat succeeded for this long. */
  readonly selfFenceAfterMs: number;
  /** ORRERY_DEAD_AFTER_MS: peers declare a node dead, and take its shards, when its last heartbeat is older than this (database clock). */
  readonly deadAfterMs: number;
  /** ORRERY_REBALANCE_STABLE_MS: shards move between live nodes only after the membership view has been unchanged this long. */
  readonly rebalanceStableMs: number;
  /** ORRERY_MAX_SHARD_MOVES: shards a node hands off per heartbeat round at most; by default 10% of the shards. */
  readonly maxShardMoves: number;
  /**
   * ORRERY_CLUSTER_SECRET: signs the calls nodes forward to each other (at
   * least 16 characters; the same on every node). Without it a node forwards
   * nothing, and is not ready while it has peers.
   */
  readonly clusterSecret: string | undefined;
  /** ORRERY_SHARD_WAIT_MS: how long a call waits for a moving shard's new owner before UNAVAILABLE (never past its deadline). */
  readonly shardWaitMs: number;
  /** ORRERY_FORWARD_TIMEOUT_MS: how long a call forwarded to its entity's owner may take when the caller set no deadline. */
  readonly forwardTimeoutMs: number;
}

/** How log lines are written: see {@link RuntimeConfig.logFormat}. */
export type LogFormat = "json" | "pretty" | "auto";

/** A bad setting; the message lists every bad variable and what it accepts. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const LOG_FORMATS: readonly LogFormat[] = ["auto", "json", "pretty"];

/** Reads and validates the configuration from environment variables. */
export function loadConfig(env: Record<string, string | undefined> = process.env): RuntimeConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)} is not an integer between ${min} and ${max}`);
      return fallback;
    }
    return value;
  };
  const databaseUrl = env["DATABASE_URL"]?.trim() || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push(`DATABASE_URL must start with postgres:// or postgresql:// (got ${JSON.stringify(databaseUrl.replace(/:[^:@/]*@/, ":***@"))})`);
  }
  const databaseSchema = env["ORRERY_DATABASE_SCHEMA"]?.trim() || undefined;
  const schemaProblem = databaseSchema === undefined ? undefined : checkSchemaName(databaseSchema);
  if (schemaProblem !== undefined) problems.push(`ORRERY_DATABASE_SCHEMA: ${schemaProblem}`);
  const logLevel = env["LOG_LEVEL"]?.trim() || "info";
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(", ")}`);
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name}=${JSON.stringify(raw)} is not one of ${allowed.join(", ")}`);
    return fallback;
  };
  const logFormat = oneOf("LOG_FORMAT", LOG_FORMATS, "auto");
  const metrics = oneOf("ORRERY_METRICS", ["on", "off"], "on") === "on";
  const config: RuntimeConfig = {
    port: int("PORT", 8080, 0, 65535),
    host: env["HOST"]?.trim() || "0.0.0.0",
    databaseUrl,
    dataDir: env["ORRERY_DATA_DIR"]?.trim() || ".orrery/data",
    databaseSchema,
    snapshotEvery: int("ORRERY_SNAPSHOT_EVERY", 100, 0),
    passivateAfterMs: int("ORRERY_PASSIVATE_AFTER_MS", 120_000, 1),
    maxActiveEntities: int("ORRERY_MAX_ACTIVE_ENTITIES", 100_000, 1),
    maxMessageBytes: int("ORRERY_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024),
    shutdownGraceMs: int("ORRERY_SHUTDOWN_GRACE_MS", 10_000, 0),
    maxConnections: int("ORRERY_MAX_CONNECTIONS", 10_000, 1),
    http2MaxStreams: int("ORRERY_HTTP2_MAX_STREAMS", 100, 1, 2 ** 31 - 1),
    maxBufferedBytes: int("ORRERY_MAX_BUFFERED_BYTES", 16 * 1024 * 1024, 64 * 1024),
    headersTimeoutMs: int("ORRERY_HEADERS_TIMEOUT_MS", 10_000, 100),
    requestTimeoutMs: int("ORRERY_REQUEST_TIMEOUT_MS", 30_000, 100),
    idleTimeoutMs: int("ORRERY_IDLE_TIMEOUT_MS", 60_000, 100),
    maxHeaderBytes: int("ORRERY_MAX_HEADER_BYTES", 16 * 1024, 1024, 1024 * 1024),
    corsOrigins: corsOrigins(env["ORRERY_CORS_ORIGINS"], problems),
    storageWaitMs: int("ORRERY_STORAGE_WAIT_MS", 2_000, 0, 600_000),
    maxQueuedPerEntity: int("ORRERY_MAX_QUEUED_PER_ENTITY", 1_000, 1),
    maxPendingAppends: int("ORRERY_MAX_PENDING_APPENDS", 10_000, 1),
    dbPoolSize: int("ORRERY_DB_POOL_SIZE", 10, 1, 1_000),
    dbStatementTimeoutMs: int("ORRERY_DB_STATEMENT_TIMEOUT_MS", 5_000, 100, 3_600_000),
    logLevel,
    logFormat,
    metrics,
    tracesEndpoint: tracesEndpoint(env, problems),
    serviceName: env["ORRERY_SERVICE_NAME"]?.trim() || env["OTEL_SERVICE_NAME"]?.trim() || undefined,
    serviceUrls: serviceUrlsFrom(env, problems),
    ...clusterSettings(env, int, problems),
    ...authSettings(env, int, problems),
  };
  if (config.requestTimeoutMs < config.headersTimeoutMs) {
    problems.push(`ORRERY_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs}) must not be below ORRERY_HEADERS_TIMEOUT_MS (${config.headersTimeoutMs})`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  return config;
}

type IntSetting = (name: string, fallback: number, min: number, max?: number) => number;

/** The cluster's settings, checked: the timing must let a node fence itself before its peers may take its shards. */
function clusterSettings(env: Record<string, string | undefined>, int: IntSetting, problems: string[]) {
  const shardCount = int("ORRERY_SHARD_COUNT", defaultShardCount, 1, 65_536);
  const advertiseUrl = env["ORRERY_ADVERTISE_URL"]?.trim() || undefined;
  if (advertiseUrl !== undefined && (!/^https?:\/\/[^/]/.test(advertiseUrl) || !URL.canParse(advertiseUrl))) {
    problems.push(`ORRERY_ADVERTISE_URL=${JSON.stringify(advertiseUrl)} is not an http:// or https:// URL (e.g. http://10.0.0.5:8080)`);
  }
  const clusterSecret = env["ORRERY_CLUSTER_SECRET"] === undefined || env["ORRERY_CLUSTER_SECRET"] === "" ? undefined : env["ORRERY_CLUSTER_SECRET"];
  if (clusterSecret !== undefined && clusterSecret.length < MIN_CLUSTER_SECRET_LENGTH) {
    problems.push(`ORRERY_CLUSTER_SECRET is ${clusterSecret.length} characters; use at least ${MIN_CLUSTER_SECRET_LENGTH} (e.g. openssl rand -hex 32), the same on every node`);
  }
  const timing = {
    heartbeatMs: int("ORRERY_HEARTBEAT_MS", defaultMembershipTiming.heartbeatMs, 10, 60_000),
    selfFenceAfterMs: int("ORRERY_SELF_FENCE_AFTER_MS", defaultMembershipTiming.selfFenceAfterMs, 20, 600_000),
    deadAfterMs: int("ORRERY_DEAD_AFTER_MS", defaultMembershipTiming.deadAfterMs, 30, 600_000),
  };
  try {
    checkMembershipTiming(timing);
  } catch (error) {
    problems.push(`ORRERY_HEARTBEAT_MS (${timing.heartbeatMs}), ORRERY_SELF_FENCE_AFTER_MS (${timing.selfFenceAfterMs}) and ORRERY_DEAD_AFTER_MS (${timing.deadAfterMs}) do not fit: ${(error as Error).message}`);
  }
  return {
    shardCount,
    advertiseUrl,
    nodeName: env["ORRERY_NODE_NAME"]?.trim() || undefined,
    ...timing,
    rebalanceStableMs: int("ORRERY_REBALANCE_STABLE_MS", 3_000, 0, 600_000),
    maxShardMoves: int("ORRERY_MAX_SHARD_MOVES", Math.max(1, Math.ceil(shardCount / 10)), 1, 65_536),
    clusterSecret,
    shardWaitMs: int("ORRERY_SHARD_WAIT_MS", 5_000, 0, 600_000),
    forwardTimeoutMs: int("ORRERY_FORWARD_TIMEOUT_MS", 10_000, 10, 3_600_000),
  };
}

/** ORRERY_CORS_ORIGINS, checked: "*" alone, or origins (scheme://host[:port], no path). */
function corsOrigins(raw: string | undefined, problems: string[]): readonly string[] {
  const origins = (raw ?? "").split(",").map((o) => o.trim()).filter((o) => o !== "");
  if (origins.includes("*")) {
    if (origins.length > 1) problems.push(`ORRERY_CORS_ORIGINS=${JSON.stringify(raw)} mixes "*" with origins; use "*" alone or list the origins`);
    return ["*"];
  }
  for (const origin of origins) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      problems.push(`ORRERY_CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin; write scheme://host[:port] with no path or trailing slash (e.g. https://app.example.com)`);
    }
  }
  return origins;
}

/** The OTLP traces URL from the standard OpenTelemetry variables, checked; undefined when tracing is off. */
function tracesEndpoint(env: Record<string, string | undefined>, problems: string[]): string | undefined {
  for (const name of ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
    const protocol = env[name]?.trim();
    if (protocol) {
      if (protocol !== "http/protobuf") problems.push(`${name}=${JSON.stringify(protocol)} is not supported; Orrery exports traces over http/protobuf (unset it, or set it to http/protobuf)`);
      break; // the traces-specific variable wins, as in the OpenTelemetry SDKs
    }
  }
  const disabled = env["OTEL_SDK_DISABLED"]?.trim().toLowerCase();
  if (disabled !== undefined && disabled !== "" && disabled !== "true" && disabled !== "false") {
    problems.push(`OTEL_SDK_DISABLED=${JSON.stringify(env["OTEL_SDK_DISABLED"])} is not one of true, false`);
  }
  const traces = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]?.trim();
  const base = env["OTEL_EXPORTER_OTLP_ENDPOINT"]?.trim();
  const [name, url] = traces ? ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces] : base ? ["OTEL_EXPORTER_OTLP_ENDPOINT", `${base.replace(/\/+$/, "")}/v1/traces`] : [];
  if (name === undefined || url === undefined) return undefined;
  if (!/^https?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
    problems.push(`${name}=${JSON.stringify(traces ?? base)} is not an http:// or https:// URL (e.g. http://localhost:4318)`);
    return undefined;
  }
  return disabled === "true" ? undefined : url;
}
