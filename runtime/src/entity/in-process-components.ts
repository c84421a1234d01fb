import type { DescService } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import type { Client, ConnectRouter, Transport } from "@connectrpc/connect";
import type { ComponentClient } from "@orrery/sdk";
import { scopedTransport } from "./call-scope.js";
import type { CallScope } from "./call-scope.js";
import type { HostedComponent } from "./entity-model.js";
import type { RemoteServices } from "./remote-services.js";
import type { EntityRouter } from "./entity-router.js";
import { registerEntity } from "./register-entity.js";

/** The components' routes and the typed client that calls them in-process; see {@link createInProcessComponents}. */
export interface InProcessComponents {
  /** Registers every component's service on a router, served through the routing point. */
  readonly routes: (router: ConnectRouter) => void;
  /** Calls components in this process, through the same routes as calls from the wire. */
  readonly client: ComponentClient;
  /**
   * The client a handler gets: its calls carry the command's deadline,
   * correlation id and application metadata, and the chain of entities
   * waiting on them (a call back into one of those is refused).
   */
  within(scope: CallScope): ComponentClient;
  /** Sets the routing point once the entity hosts exist (they need `client` first). */
  route(router: EntityRouter): void;
}

/**
 * Creates the routes of `components` and a client for them that calls
 * in-process, through the same routing point as calls from the wire.
 * Entity hosts need the client before the routing point over them exists,
 * so the routes reach it late: a call made before {@link InProcessComponents.route} fails.
 */
export function createInProcessComponents(
  components: readonly HostedComponent[],
  otherRoutes?: (router: ConnectRouter) => void,
  served?: { readonly localServices: ReadonlySet<string>; readonly remote: RemoteServices },
): InProcessComponents {
  let entityRouter: EntityRouter | undefined;
  const lazyRouter: EntityRouter = {
    invoke: (...args) => {
      if (entityRouter === undefined) return Promise.reject(new Error("the service has not started yet; call start() first"));
      return entityRouter.invoke(...args);
    },
  };
  const routes = (router: ConnectRouter) => {
    for (const component of components) registerEntity(router, component, lazyRouter);
    otherRoutes?.(router);
  };
  const local = createRouterTransport(routes);
  // A service of another process of the project: its transport is found at the first call.
  const remote = new Map<string, Transport>();
  const transportFor = (svc: DescService): Transport => {
    if (served === undefined || served.localServices.has(svc.typeName)) return local;
    let t = remote.get(svc.typeName);
    if (t === undefined) remote.set(svc.typeName, (t = lazyTransport(() => served.remote.transportFor(svc))));
    return t;
  };
  return {
    routes,
    client: clientOver(transportFor),
    within: (scope) => clientOver((svc) => scopedTransport(transportFor(svc), scope)),
    route(router) {
      entityRouter = router;
    },
  };
}

/** A component client over the transport of each service, with one typed client per service, made on first use. */
function clientOver(transportFor: (svc: DescService) => Transport): ComponentClient {
  const clients = new Map<DescService, Client<DescService>>();
  return {
    forService<S extends DescService>(svc: S): Client<S> {
      let client = clients.get(svc);
      if (client === undefined) clients.set(svc, (client = createClient(svc, transportFor(svc)) as Client<DescService>));
      return client as unknown as Client<S>;
    },
  };
}

/** A transport made by `resolve` at the first call (and again after a failure to make it). */
function lazyTransport(resolve: () => Promise<Transport>): Transport {
  let resolved: Promise<Transport> | undefined;
  const get = () => {
    resolved ??= resolve();
    resolved.catch(() => (resolved = undefined));
    return resolved;
  };
  return {
    unary: async (...args) => (await get()).unary(...args),
    stream: async (...args) => (await get()).stream(...args),
  };
}
