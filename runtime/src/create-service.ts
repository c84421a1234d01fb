import type { Interceptor } from "@connectrpc/connect";
import type { ComponentClient, Consumer, EventSourcedEntity, KeyValueEntity, Timers, View, Workflow } from "@orrery/sdk";
import type { Logger } from "pino";
import { createAccessChecks, signCallsAs } from "./auth/index.js";
import { announceServing, stopWithDev } from "./cli/dev/dev-channel.js";
import { clusterStatusRoute, createCallSigner, createCallVerifier, createPeerCalls, nodeIdentity, openCluster, registerNodeService } from "./cluster/index.js";
import type { ClusterNode, LocalComponent } from "./cluster/index.js";
import { createConnectionBudget } from "./cluster/connection-budget.js";
import type { RuntimeConfig } from "./config.js";
import { createEntityHost } from "./entity/entity-host.js";
import type { EntityHost } from "./entity/entity-host.js";
import { createEntityRouter } from "./entity/entity-router.js";
import { eventSourcedModel } from "./entity/event-sourced-model.js";
import { keyValueModel } from "./entity/key-value-model.js";
import { createInProcessComponents } from "./entity/in-process-components.js";
import { createRemoteServices, servicesRoute } from "./entity/remote-services.js";
import { joinServiceDirectory } from "./entity/service-directory.js";
import type { ServiceDirectory } from "./entity/service-directory.js";
import { createLogger, createObservability } from "./observability/index.js";
import type { Observability } from "./observability/index.js";
import { consumerProjection, createProjectionRunner, createViewChanges, createViewTableDirectory, registerView, viewTableProjection } from "./projection/index.js";
import type { ProjectionSpec } from "./projection/index.js";
import type { ProjectionRunner } from "./projection/index.js";
import { createRestHandler, createRestRoutes } from "./rest/index.js";
import { createReadiness, createServiceServer, followReadiness, storageReachable } from "./server/index.js";
import type { HttpServer } from "./server/index.js";
import { exitOnStartupFailure, loadConfigOrExit } from "./startup-failure.js";
import { createFeedSignal, describeEventStore, openEventStore } from "./storage/index.js";
import type { EventStore, FeedSignal } from "./storage/index.js";
import { createTimerService, TIMER_CHANNEL } from "./timer/index.js";
import type { TimerService } from "./timer/index.js";
import { createWorkflowEngine, createWorkflowSweeper } from "./workflow/index.js";
import type { WorkflowEngine, WorkflowSweeper } from "./workflow/index.js";

/** A component `createService` can serve. */
export type Component = EventSourcedEntity | KeyValueEntity | Workflow | Consumer | View;

/** What to serve and how; anything left out comes from the environment (see `loadConfig`). */
export interface ServiceOptions extends Partial<RuntimeConfig> {
  /** The implemented components, e.g. `[ShoppingCart.implement({...})]`. */
  readonly components: readonly Component[];
  /** A pino logger; by default one writing to stdout at `logLevel` in `logFormat`. */
  readonly logger?: Logger;
  /** Stop gracefully on SIGTERM and SIGINT (default true). */
  readonly handleSignals?: boolean;
  /**
   * Connect interceptors run on every call from the wire (Connect, gRPC,
   * gRPC-Web and REST), the first outermost, around the built-in token, ACL
   * and rate-limit checks: for authentication, auditing or limits of your own.
   */
  readonly interceptors?: readonly Interceptor[];
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
  /** This node in the cluster (its shards, their owners, readiness) once started. */
  readonly cluster: ClusterNode | undefined;
  /** Durable timers, for code outside handlers (handlers use `ctx.timers`); usable once started. */
  readonly timers: Timers;
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
  const config: RuntimeConfig = { ...loadConfigOrExit(ownsProcess), ...settingsIn(options) };
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  checkComponents(options.components);
  const entities = options.components.filter((c): c is EventSourcedEntity | KeyValueEntity | Workflow =>
    c.kind === "event-sourced-entity" || c.kind === "key-value-entity" || c.kind === "workflow");
  const consumers = options.components.filter((c): c is Consumer => c.kind === "consumer");
  const views = options.components.filter((c): c is View => c.kind === "view");
  // Views answer queries from their tables, on any node; they need the database, so their routes reach it late.
  const streamedTables = new Set(views.flatMap((view) => Object.values(view.spec.queries).flatMap((plan) => (plan.streamUpdates === undefined ? [] : [plan.tables[0]!.sqlName]))));
  const viewChanges = createViewChanges(() => store!.database, streamedTables, logger.child({ component: "projection" }));
  const viewTables = createViewTableDirectory(() => store!.database, logger.child({ component: "projection" }));
  viewTables.onSwitch((table) => viewChanges.resync(table));
  const stopStreams = new AbortController();
  // What this service serves; calls to other services of the project go to them (ORRERY_SERVICE_<NAME>_URL).
  const localServices = new Set([...entities, ...views].map((c) => c.spec.service.typeName));
  let directory: ServiceDirectory | undefined;
  const remote = createRemoteServices({
    urls: config.serviceUrls, interceptors: signedAsThisService(config, logger), logger: logger.child({ component: "services" }),
    directory: () => directory,
  });
  const inProcess = createInProcessComponents(entities, (router) => {
    for (const view of views) registerView(router, view, () => store!.database, { tables: viewTables, changes: viewChanges, stopping: stopStreams.signal });
  }, { localServices, remote });
  const served = servicesRoute(() => ({ name: config.serviceName, services: [...localServices].sort() }));
  const readiness = createReadiness("starting");
  let store: EventStore | undefined;
  let cluster: ClusterNode | undefined;
  let observability: Observability | undefined;
  let hosts: EntityHost[] = [];
  let projections: ProjectionRunner[] = [];
  let timerSignal: FeedSignal | undefined;
  let timerService: TimerService | undefined;
  let engines = new Map<string, WorkflowEngine>();
  let sweeper: WorkflowSweeper | undefined;
  const stopProjections = new AbortController();
  let server: HttpServer | undefined;
  let url = "";
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals | "orrery dev is gone") => {
    logger.info({ signal }, "shutting down");
    void service.stop().then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    });
  };

  async function startServing(): Promise<{ url: string; port: number }> {
    const started = Date.now();
    // Before anything is opened: a route conflict fails the start at once, naming both rpcs.
    const restRoutes = createRestRoutes([...entities, ...views].map((c) => c.spec.service));
    const claims = new Map(entities.flatMap((c) => (c.kind === "workflow" || c.spec.claims === undefined ? [] : [[c.spec.service, c.spec.claims] as const])));
    const access = createAccessChecks({ services: [...entities, ...views].map((c) => c.spec.service), claims, config });
    const types = entities.map((c) => c.spec.type);
    observability = await createObservability({
      config, logger,
      serviceName: config.serviceName ?? types.join(","),
      activeEntities: () => new Map(hosts.map((h) => [h.entity.spec.type, h.activeCount])),
    });
    store = await openEventStore(config, logger.child({ component: "storage" }), observability.journal);
    const { journal, keyValues } = store;
    const node = (cluster = await openCluster(config, store.database, logger.child({ component: "cluster" }), async (shards) => {
      await Promise.all(hosts.map((h) => h.flushShards(shards)));
    }));
    node.onChange((change) => {
      if (change.kind === "lost") for (const host of hosts) host.dropShards(change.shards);
    });
    const updateReadiness = followReadiness(readiness, [
      storageReachable(journal.health),
      { blocker: () => node.notReadyReason(), onChange: (listener) => node.onChange(listener) },
    ]);
    timerSignal = createFeedSignal(store.database, { logger: logger.child({ component: "timers" }), channel: TIMER_CHANNEL });
    const timers = (timerService = createTimerService({
      database: store.database, signal: timerSignal, placement: node, components: inProcess.client,
      services: entities.map((c) => c.spec.service), health: journal.health, logger: logger.child({ component: "timers" }),
      storageWaitMs: config.storageWaitMs,
    }));
    // A workflow is an entity whose state row holds its record; its engine runs the steps and is woken by the sweeper.
    engines = new Map(entities.flatMap((component) => component.kind !== "workflow" ? [] : [[component.spec.type, createWorkflowEngine({
      workflow: component, store: keyValues, shardOf: (id) => node.shardOf(component.spec.type, id), components: inProcess.within,
      logger: logger.child({ component: "workflow", workflowType: component.spec.type }),
      onWakeAt: (at) => sweeper?.notify(at), storageWaitMs: config.storageWaitMs, observer: observability!.entities,
    })] as const]));
    sweeper = createWorkflowSweeper({
      database: store.database, engines, placement: node, health: journal.health, logger: logger.child({ component: "workflow" }),
    });
    node.onChange((change) => {
      if (change.kind === "lost") for (const engine of engines.values()) engine.dropShards(change.shards);
    });
    hosts = entities.map((component) =>
      createEntityHost({
        model: component.kind === "workflow" ? engines.get(component.spec.type)!.model
          : component.kind === "key-value-entity" ? keyValueModel(component, keyValues) : eventSourcedModel(component, journal, config.snapshotEvery),
        components: inProcess.within, logger,
        passivateAfterMs: config.passivateAfterMs,
        maxActive: config.maxActiveEntities,
        storageWaitMs: config.storageWaitMs,
        maxQueuedPerEntity: config.maxQueuedPerEntity,
        observer: observability!.entities,
        shards: node,
        timers,
      }),
    );
    for (const host of hosts) engines.get(host.entity.spec.type)?.attach(host);
    const secret = config.clusterSecret;
    const peers = secret === undefined ? undefined : createPeerCalls(createCallSigner(secret, () => `${node.name}/${node.incarnation}`));
    node.onChange((change) => {
      // Calls in flight to a member that died fail now (their outcome unknown) instead of at their deadline.
      if (change.kind === "left" && peers !== undefined) for (const member of change.members) peers.forget(member.address);
    });
    inProcess.route(createEntityRouter(hosts, {
      cluster: node,
      peers,
      shardWaitMs: config.shardWaitMs,
      forwardTimeoutMs: config.forwardTimeoutMs,
    }));
    const local = new Map<string, LocalComponent>(hosts.map((host) => [host.entity.spec.type, {
      service: host.entity.spec.service,
      claims: host.entity.kind === "workflow" ? undefined : host.entity.spec.claims,
      invokeLocal(method, entityId, command, call) {
        // A peer sent it here, so its view says this node owns the shard: if this node's view disagrees, one of them is stale.
        if (node.epochOf(host.shardOfEntity(entityId)) === undefined) node.rereadOwners();
        return host.invoke(method, entityId, command, call);
      },
    }]));
    for (const view of views) await viewTables.prepare(view);
    const projectionSpecs: Array<{ spec: ProjectionSpec; onCaughtUp?: () => void }> = [
      ...consumers.map((consumer) => ({ spec: consumerProjection(consumer, inProcess.client, stopProjections.signal, timers.timers) })),
      ...views.flatMap((view) => view.spec.tables.map((table) => ({
        spec: viewTableProjection(view, table, viewChanges),
        // A rebuilt view switches over once all its tables caught up; until then the previous tables answer.
        onCaughtUp: () => void viewTables.caughtUp(view, table).catch((err: unknown) =>
          logger.warn({ err, view: view.spec.service.typeName, table: table.name }, `${view.spec.service.typeName} table ${table.name}: could not switch to the rebuilt table yet; trying again`)),
      }))),
    ];
    projections = projectionSpecs.map(({ spec, onCaughtUp }) => {
      // In a cluster a projection runs on the owner of one shard, moves with it, and fences its offsets with its epoch.
      const shard = node.shardOf("orrery.projection", spec.name);
      return createProjectionRunner(spec, {
        // A view table's batch is a few set-based statements whatever its size: big batches keep up with the writes.
        batchSize: spec.delivery === "in-transaction" ? 1_000 : 100,
        onCaughtUp,
        database: store!.database, signal: store!.feed, logger: logger.child({ component: "projection" }),
        placement: {
          current: () => {
            const epoch = node.epochOf(shard);
            return epoch === undefined ? undefined : { shard, epoch };
          },
          onChange: (listener) => node.onChange(() => listener()),
        },
      });
    });
    const statusRoute = clusterStatusRoute(() => cluster);
    const metricsRoute = observability.routes;
    server = createServiceServer({
      config, readiness, logger, observer: observability.calls,
      routes: (router) => {
        inProcess.routes(router);
        registerNodeService(router, { components: local, verifier: secret === undefined ? undefined : createCallVerifier(secret), logger: logger.child({ component: "cluster" }) });
      },
      otherRoutes: (req, res) => statusRoute(req, res) || served(req, res) || (metricsRoute?.(req, res) ?? false),
      interceptors: [...(options.interceptors ?? []), access.interceptor],
      contextValues: access.contextValues,
      methodRoutes: restRoutes.size === 0 ? undefined : (dispatch) => createRestHandler({ routes: restRoutes, dispatch, maxBodyBytes: config.maxMessageBytes }),
    });
    const address = await server.listen(config.port, config.host);
    url = address.url;
    const identity = nodeIdentity(config, address.port, types);
    await node.join(identity);
    // Named services sharing a PostgreSQL database find each other there (each node keeps an entry with its address).
    if (config.serviceName !== undefined && store.database.dialect === "postgres") {
      directory = await joinServiceDirectory({
        database: store.database, serviceName: config.serviceName, node: `${node.name}/${node.incarnation}`, address: identity.address,
        services: [...localServices], logger: logger.child({ component: "services" }),
      });
    }
    // Joins and departures move shards: check then whether the nodes' pools still fit the server's connections.
    const budget = createConnectionBudget(store.database, config.dbPoolSize, logger.child({ component: "cluster" }));
    const checkBudget = () => void budget.check(node.status().members.filter((m) => m.state === "up").length);
    checkBudget();
    node.onChange((change) => {
      if (change.kind === "gained" || change.kind === "lost" || change.kind === "left") checkBudget();
    });
    readiness.set("unavailable");
    updateReadiness();
    timers.start(); // before the consumers, which may schedule timers
    sweeper.start();
    for (const projection of projections) projection.start();
    if (ownsProcess) {
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
      stopWithDev(() => onSignal("orrery dev is gone"));
    }
    logger.info(
      { url, storage: store.database.dialect, components: types, node: node.name, shards: node.ownedShards().length, ms: Date.now() - started },
      `serving ${options.components.map((c) => c.spec.service.typeName).join(", ")} on ${url} (${describeEventStore(config)})`,
    );
    announceServing(url); // `orrery dev` learns of it whatever LOG_LEVEL says
    return { url, port: address.port };
  }

  const service: OrreryService = {
    get url() {
      return url;
    },
    components: inProcess.client,
    get cluster() {
      return cluster;
    },
    timers: {
      schedule: (...args) => timerService?.timers.schedule(...args) ?? Promise.reject(new Error("the service has not started yet; call start() first")),
      cancel: (name) => timerService?.timers.cancel(name) ?? Promise.reject(new Error("the service has not started yet; call start() first")),
    },
    async start() {
      try {
        return await startServing();
      } catch (error) {
        // The server never listened: release what was opened before the failure.
        for (const host of hosts) host.close();
        await Promise.all(projections.map((p) => p.stop()));
        await sweeper?.stop();
        await Promise.all([...engines.values()].map((e) => e.stop(0)));
        await timerService?.stop();
        await timerSignal?.close();
        await cluster?.leave().catch(() => undefined);
        await directory?.close();
        await store?.database.close().catch(() => undefined);
        await observability?.shutdown().catch(() => undefined);
        if (!ownsProcess) throw error;
        exitOnStartupFailure(logger, error, config);
      }
    },
    stop() {
      stopping ??= (async () => {
        readiness.set("draining");
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        // Projections first: a batch they are handling finishes and stores its offset while this node still holds its shard.
        stopProjections.abort();
        stopStreams.abort(); // streams of view updates would keep the server from closing
        await Promise.all(projections.map((p) => p.stop()));
        // Timers too: a call in flight settles its row while this node still holds the timer's shard.
        await timerService?.stop();
        // Workflows: steps still running are abandoned (their results are not stored); whoever owns them next runs them again.
        await sweeper?.stop();
        await Promise.all([...engines.values()].map((e) => e.stop(1_000)));
        // Other services stop calling this node; then the shards are handed off, while still answering: calls for them are forwarded meanwhile.
        await directory?.close();
        await cluster?.leave();
        await server?.close({ graceMs: config.shutdownGraceMs });
        await Promise.all(hosts.map((h) => h.drain()));
        for (const host of hosts) host.close();
        await store?.keyValues.close();
        await store?.journal.close();
        await store?.feed.close();
        await timerSignal?.close();
        await viewChanges.close();
        viewTables.close();
        await store?.database.close();
        await observability?.shutdown(); // exports the last spans
        logger.info("stopped");
      })();
      return stopping;
    },
  };
  return service;
}

/**
 * Calls to the project's other services are signed as "service:<ORRERY_SERVICE_NAME>" with the cluster secret, the way
 * nodes sign theirs, so that their access rules can tell this service from the internet; unsigned (and said so) otherwise.
 */
function signedAsThisService(config: RuntimeConfig, logger: Logger): Interceptor[] {
  const name = config.serviceName;
  if (config.clusterSecret !== undefined && name !== undefined && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    return [signCallsAs(`service:${name}`, config.clusterSecret)];
  }
  if (config.serviceUrls.size === 0) return []; // found through the directory, if at all: their calls go unsigned, as before

  logger.warn(
    { services: [...config.serviceUrls.keys()] },
    "calls to the other services are not signed, so their access rules see them as coming from the internet: " +
      "set ORRERY_SERVICE_NAME (letters, digits, . _ -) and the same ORRERY_CLUSTER_SECRET in every service of the project",
  );
  return [];
}

function checkComponents(components: readonly Component[]): void {
  const seen = new Map<string, string>();
  for (const c of components) {
    if (c.kind === "consumer" || c.kind === "view") continue;
    const other = seen.get(c.spec.type);
    if (other !== undefined) {
      throw new Error(`two components have the type "${c.spec.type}": ${other} and ${c.spec.service.typeName}; component types must be unique`);
    }
    seen.set(c.spec.type, c.spec.service.typeName);
  }
}

/** The settings given in code; undefined ones fall back to the environment. */
function settingsIn(options: ServiceOptions): Partial<RuntimeConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (k === "components" || k === "logger" || k === "handleSignals" || k === "interceptors") continue;
    // `databaseUrl: undefined`, written out, means PGlite even when DATABASE_URL is set.
    if (v !== undefined || k === "databaseUrl") out[k] = v;
  }
  return out as Partial<RuntimeConfig>;
}
