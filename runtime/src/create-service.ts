import type { DescService } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import type { Client, ConnectRouter } from "@connectrpc/connect";
import type { ComponentClient, EventSourcedEntity } from "@orrery/sdk";
import { pino } from "pino";
import type { Logger } from "pino";
import { ConfigError, loadConfig } from "./config.js";
import type { RuntimeConfig } from "./config.js";
import { createEntityHost } from "./entity/entity-host.js";
import type { EntityHost } from "./entity/entity-host.js";
import { createEntityRouter } from "./entity/entity-router.js";
import type { EntityRouter } from "./entity/entity-router.js";
import { registerEntity } from "./entity/register-entity.js";
import { createConnectHandler, createHttpServer, createReadiness, registerHealthService } from "./server/index.js";
import type { HttpServer, Readiness } from "./server/index.js";
import { createEventJournal, migrateToLatest, openDatabase } from "./storage/index.js";
import type { Database, EventJournal, StorageHealth } from "./storage/index.js";

/** A component `createService` can serve. */
export type Component = EventSourcedEntity;

/** What to serve and how; anything left out comes from the environment (see `loadConfig`). */
export interface ServiceOptions extends Partial<RuntimeConfig> {
  /** The implemented components, e.g. `[ShoppingCart.implement({...})]`. */
  readonly components: readonly Component[];
  /** A pino logger; by default one writing JSON to stdout at `logLevel`. */
  readonly logger?: Logger;
  /** Stop gracefully on SIGTERM and SIGINT (default true). */
  readonly handleSignals?: boolean;
}

/** A running (or runnable) Orrery service. */
export interface OrreryService {
  /** Opens storage, migrates it and starts serving; resolves with the address. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting calls, lets in-flight ones finish, then releases storage. */
  stop(): Promise<void>;
  /** The base URL once started, e.g. "http://127.0.0.1:8080". */
  readonly url: string;
  /** A typed client that calls components in-process, through the routing point. */
  readonly components: ComponentClient;
}

/**
 * Creates a service serving every component over Connect, gRPC and gRPC-Web
 * on one port, with events stored in PostgreSQL (`DATABASE_URL`) or PGlite.
 *
 * @example
 * await createService({ components: [ShoppingCart.implement(handlers)] }).start();
 */
export function createService(options: ServiceOptions): OrreryService {
  const ownsProcess = options.handleSignals ?? true;
  let loaded: RuntimeConfig;
  try {
    loaded = loadConfig();
  } catch (error) {
    // A bad setting, when this service owns the process: one clear line, exit code 1, no stack.
    if (!ownsProcess || !(error instanceof ConfigError)) throw error;
    process.stderr.write(`orrery: cannot start: ${error.message.replace(/:\n\s*/, ": ").replace(/\n\s*/g, "; ")}\n`);
    process.exit(1);
  }
  const config: RuntimeConfig = { ...loaded, ...definedOnly(options) };
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: "orrery" } });
  checkComponents(options.components);
  let database: Database | undefined;
  let journal: EventJournal | undefined;
  let hosts: EntityHost[] = [];
  let server: HttpServer | undefined;
  const readiness = createReadiness("starting");
  let url = "";
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, "shutting down");
    void service.stop().then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    });
  };

  let entityRouter: EntityRouter | undefined;
  const routes = (router: ConnectRouter) => {
    for (const component of options.components) registerEntity(router, component, lazyRouter);
  };
  const lazyRouter: EntityRouter = {
    invoke: (...args) => entityRouter!.invoke(...args),
  };
  const inProcess = createRouterTransport(routes);
  const clients = new Map<DescService, Client<DescService>>();
  const components: ComponentClient = {
    forService<S extends DescService>(svc: S): Client<S> {
      let client = clients.get(svc);
      if (client === undefined) clients.set(svc, (client = createClient(svc, inProcess) as Client<DescService>));
      return client as unknown as Client<S>;
    },
  };

  async function startServing(): Promise<{ url: string; port: number }> {
    const started = Date.now();
    const storageLogger = logger.child({ component: "storage" });
    database = await openDatabase(
      config.databaseUrl !== undefined
        ? { url: config.databaseUrl, logger: storageLogger, poolSize: config.dbPoolSize, statementTimeoutMs: config.dbStatementTimeoutMs }
        : { dataDir: pgliteDir(config.dataDir), logger: storageLogger },
    );
    await migrateToLatest(database);
    journal = createEventJournal(database, { logger: storageLogger, waitMs: config.storageWaitMs, maxPending: config.maxPendingAppends });
    followStorageHealth(journal.health, readiness);
    hosts = options.components.map((entity) =>
      createEntityHost({
        entity, journal: journal!, components, logger,
        snapshotEvery: config.snapshotEvery,
        passivateAfterMs: config.passivateAfterMs,
        maxActive: config.maxActiveEntities,
        storageWaitMs: config.storageWaitMs,
        maxQueuedPerEntity: config.maxQueuedPerEntity,
      }),
    );
    entityRouter = createEntityRouter(hosts);
    const handler = createConnectHandler({
      routes: (router) => {
        routes(router);
        registerHealthService(router, readiness);
      },
      readMaxBytes: config.maxMessageBytes,
      readiness,
      logger,
    });
    server = createHttpServer({
      handler, logger,
      maxConnections: config.maxConnections,
      http2MaxStreams: config.http2MaxStreams,
      maxBufferedBytes: config.maxBufferedBytes,
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      maxHeaderBytes: config.maxHeaderBytes,
    });
    const address = await server.listen(config.port, config.host);
    url = address.url;
    readiness.set(journal.health.state === "up" ? "serving" : "unavailable");
    if (options.handleSignals ?? true) {
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
    }
    logger.info(
      { url, storage: database.dialect, components: options.components.map((c) => c.spec.type), ms: Date.now() - started },
      `serving ${options.components.map((c) => c.spec.service.typeName).join(", ")} on ${url} (${describeStorage(config)})`,
    );
    return { url, port: address.port };
  }

  const service: OrreryService = {
    get url() {
      return url;
    },
    components,
    async start() {
      try {
        return await startServing();
      } catch (error) {
        if (!ownsProcess) throw error;
        // One clear line naming what to change, and exit code 1; never an uncaught stack.
        logger.fatal({ code: (error as { code?: unknown }).code }, `cannot start: ${describeStartupFailure(error, config)}`);
        await database?.close().catch(() => undefined); // the server never listened

        process.exit(1);
      }
    },
    stop() {
      stopping ??= (async () => {
        readiness.set("draining");
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        await server?.close({ graceMs: config.shutdownGraceMs });
        await Promise.all(hosts.map((h) => h.drain()));
        for (const host of hosts) host.close();
        await journal?.close();
        await database?.close();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
  return service;
}

/** `/readyz` and the gRPC health check say "not serving", with the reason, while the event store is unreachable. */
function followStorageHealth(health: StorageHealth, readiness: Readiness): void {
  health.onChange((state) => {
    if (readiness.state !== "serving" && readiness.state !== "unavailable") return;
    const outage = health.outage;
    if (state === "up" || outage === undefined) readiness.set("serving");
    else readiness.set("unavailable", `the event store is unreachable since ${outage.since.toISOString()} (error id ${outage.errorId})`);
  });
}

/** One line for a startup failure: what failed and which setting to change. */
function describeStartupFailure(error: unknown, config: RuntimeConfig): string {
  const code = (error as { code?: unknown })?.code;
  if (code === "EADDRINUSE") return `port ${config.port} on ${config.host} is already in use; set PORT to a free port, or stop the process that holds it`;
  if (code === "EACCES") return `no permission to listen on port ${config.port}; set PORT to a port above 1023`;
  if (code === "EADDRNOTAVAIL") return `${config.host} is not an address of this machine; set HOST (0.0.0.0 listens on all)`;
  return error instanceof Error ? error.message : String(error);
}

function checkComponents(components: readonly Component[]): void {
  const seen = new Map<string, string>();
  for (const c of components) {
    const other = seen.get(c.spec.type);
    if (other !== undefined) {
      throw new Error(`two components have the type "${c.spec.type}": ${other} and ${c.spec.service.typeName}; component types must be unique`);
    }
    seen.set(c.spec.type, c.spec.service.typeName);
  }
}

function pgliteDir(dataDir: string): string | undefined {
  return dataDir === "memory:" ? undefined : dataDir;
}

function describeStorage(config: RuntimeConfig): string {
  if (config.databaseUrl !== undefined) return `PostgreSQL at ${config.databaseUrl.replace(/\/\/[^@/]*@/, "//")}`;
  return config.dataDir === "memory:" ? "PGlite in memory" : `PGlite in ${config.dataDir}`;
}

function definedOnly(options: ServiceOptions): Partial<RuntimeConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && k !== "components" && k !== "logger" && k !== "handleSignals") out[k] = v;
  }
  return out as Partial<RuntimeConfig>;
}
