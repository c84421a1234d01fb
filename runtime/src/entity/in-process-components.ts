import type { DescService } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import type { Client, ConnectRouter } from "@connectrpc/connect";
import type { ComponentClient } from "@orrery/sdk";
import type { HostedComponent } from "./entity-model.js";
import type { EntityRouter } from "./entity-router.js";
import { registerEntity } from "./register-entity.js";

/** The components' routes and the typed client that calls them in-process; see {@link createInProcessComponents}. */
export interface InProcessComponents {
  /** Registers every component's service on a router, served through the routing point. */
  readonly routes: (router: ConnectRouter) => void;
  /** Calls components in this process, through the same routes as calls from the wire. */
  readonly client: ComponentClient;
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
  const clients = new Map<DescService, Client<DescService>>();
  return {
    routes,
    client: {
      forService<S extends DescService>(svc: S): Client<S> {
        let client = clients.get(svc);
        if (client === undefined) clients.set(svc, (client = createClient(svc, transport) as Client<DescService>));
        return client as unknown as Client<S>;
      },
    },
    route(router) {
      entityRouter = router;
    },
  };
}
