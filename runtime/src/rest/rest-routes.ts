// The REST route table: every google.api.http binding of the served methods,
// checked once for routes no request could tell apart, and matched per request
// by HTTP method and path template precedence.
import { comparePrecedence, matchPathTemplate, parsePathTemplate, sameRoute } from "@orrery/sdk/path-template";
import type { PathBindings, PathTemplate } from "@orrery/sdk/path-template";

/** One binding of a method: `get: "/carts/{cart_id}"`, with its body rules. */
export interface RestBinding<Target> {
  /** GET, POST, PUT, PATCH, DELETE, or a custom rule's kind. */
  readonly httpMethod: string;
  readonly pattern: string;
  /** "" (no body), "*", or the request field the body is. */
  readonly body: string;
  /** "" (the whole reply), or the reply field sent as the body. */
  readonly responseBody: string;
  /** The RPC it calls, for messages: "shop.cart.v1.ShoppingCartService.AddItem". */
  readonly rpc: string;
  /** What the server needs to call it (the method and its handler). */
  readonly target: Target;
}

export interface RestRoute<Target> extends RestBinding<Target> {
  readonly template: PathTemplate;
}

/** Two bindings that no request could tell apart, or a binding that breaks the template grammar. */
export class RestRouteError extends Error {
  override readonly name = "RestRouteError";
}

/** The outcome of matching one request. */
export type RestMatch<Target> =
  | { readonly kind: "matched"; readonly route: RestRoute<Target>; readonly bindings: PathBindings }
  /** The path exists, with other HTTP methods: 405 with an Allow header. */
  | { readonly kind: "method-not-allowed"; readonly allowed: readonly string[] }
  | { readonly kind: "no-route" };

export class RestRoutes<Target> {
  private readonly byMethod = new Map<string, RestRoute<Target>[]>();
  private readonly declared: RestRoute<Target>[] = [];

  /** Parses and orders `bindings`; a `RestRouteError` names the RPCs of a conflict or a bad template. */
  constructor(bindings: readonly RestBinding<Target>[]) {
    for (const binding of bindings) {
      let template: PathTemplate;
      try {
        template = parsePathTemplate(binding.pattern);
      } catch (error) {
        throw new RestRouteError(`${binding.rpc}: ${error instanceof Error ? error.message : String(error)}`);
      }
      const method = binding.httpMethod.toUpperCase();
      const routes = this.byMethod.get(method) ?? [];
      const clash = routes.find((r) => sameRoute(r.template, template));
      if (clash !== undefined) {
        throw new RestRouteError(
          `REST routes conflict: ${method} ${binding.pattern} (${binding.rpc}) and ${method} ${clash.pattern} (${clash.rpc}) match the same requests; change one path or its verb`,
        );
      }
      const route = { ...binding, httpMethod: method, template };
      routes.push(route);
      this.declared.push(route);
      this.byMethod.set(method, routes);
    }
    for (const routes of this.byMethod.values()) routes.sort((a, b) => comparePrecedence(a.template, b.template));
  }

  /** Whether any route is served (the server skips REST matching otherwise). */
  get size(): number {
    let n = 0;
    for (const routes of this.byMethod.values()) n += routes.length;
    return n;
  }

  /** Every route in declaration order (a method's rule, then its additional bindings), for the OpenAPI document. */
  list(): readonly RestRoute<Target>[] {
    return this.declared;
  }

  /** The route for `httpMethod` and `path` (percent-encoded, no query string). */
  match(httpMethod: string, path: string): RestMatch<Target> {
    const method = httpMethod.toUpperCase();
    for (const route of this.byMethod.get(method) ?? []) {
      const bindings = matchPathTemplate(route.template, path);
      if (bindings !== undefined) return { kind: "matched", route, bindings };
    }
    const allowed = [...this.byMethod.entries()]
      .filter(([m, routes]) => m !== method && routes.some((r) => matchPathTemplate(r.template, path) !== undefined))
      .map(([m]) => m)
      .sort();
    return allowed.length > 0 ? { kind: "method-not-allowed", allowed } : { kind: "no-route" };
  }
}
