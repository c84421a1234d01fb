import type { DescService } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import type { Client, ConnectRouter, Transport } from "@connectrpc/connect";
import type { ComponentClient } from "@orrery/sdk";
import { scopedTransport } from "./call-scope.js";
import type { CallScope } from "./call-scope.js";
import type { HostedComponent } from "./entity-model.js";
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
export function createInProcessComponents(components: readonly HostedComponent[], otherRoutes?: (router: ConnectRouter) => void): InProcessComponents {
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
  const transport = createRouterTransport(routes);
  return {
    routes,
    client: clientOver(transport),
    within: (scope) => clientOver(scopedTransport(transport, scope)),
    route(router) {
      entityRouter = router;
    },
  };
}

/** A component client over `transport`, with one typed client per service, made on first use. */
function clientOver(transport: Transport): ComponentClient {
  const clients = new Map<DescService, Client<DescService>>();
  return {
    forService<S extends DescService>(svc: S): Client<S> {
      let client = clients.get(svc);
      if (client === undefined) clients.set(svc, (client = createClient(svc, transport) as Client<DescService>));
      return client as unknown as Client<S>;
    },
  };
}
