import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { detectProtocol, errorResponse } from "./error-response.js";
import type { NodeHandler } from "./http-server.js";
import { toReadiness, type ReadinessSource } from "./readiness.js";

/** Options for {@link createFallbackHandler}. */
export interface FallbackOptions {
  /** The RPCs the router serves; unknown-procedure errors list them. */
  methods: Iterable<DescMethod>;
  /** Answers `/readyz`: a {@link Readiness} or a callback; without it the server counts as ready. */
  readiness?: ReadinessSource;
  /**
   * Tried after the health endpoints and before the unknown-procedure answer,
   * e.g. REST routes. Returns true when it has taken the request.
   */
  otherRoutes?: (...args: Parameters<NodeHandler>) => boolean;
}

/**
 * Creates the handler for requests that match no RPC, for
 * `connectNodeAdapter({ fallback })`:
 *
 * - `GET /healthz`: 200 while the process can answer at all.
 * - `GET /readyz`: 200 when serving; 503 while starting, draining or while the
 *   event store is unreachable, with the reason (`unavailable: the event
 *   store is unreachable since …`).
 * - anything else: UNIMPLEMENTED in the protocol the client spoke, naming what
 *   was asked for and what exists, e.g. `unknown service "shop.cart.v1.Nope";
 *   this server has: shop.cart.v1.ShoppingCartService`.
 */
export function createFallbackHandler(options: FallbackOptions): NodeHandler {
  const services = new Map<string, string[]>();
  for (const method of options.methods) {
    const names = services.get(method.parent.typeName) ?? [];
    names.push(method.name);
    services.set(method.parent.typeName, names);
  }
  const readiness = options.readiness === undefined ? undefined : toReadiness(options.readiness);
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (req.method === "GET" || req.method === "HEAD") {
      if (path === "/healthz") return void plain(res, 200, "ok");
      if (path === "/readyz") {
        const state = readiness?.state ?? "serving";
        const detail = readiness?.detail;
        return void plain(res, state === "serving" ? 200 : 503, detail === undefined ? state : `${state}: ${detail}`);
      }
    }
    if (options.otherRoutes?.(req, res) === true) return;
    const contentType = req.headers["content-type"] ?? null;
    const protocol = detectProtocol(contentType);
    const response = errorResponse(protocol, new ConnectError(describeUnknown(path, services), Code.Unimplemented), contentType);
    // Connect maps UNIMPLEMENTED to 501; a path nothing serves is a 404, as connect-go answers it.
    if (protocol === "connect") response.status = 404;
    universalResponseToNodeResponse(response, res as Parameters<typeof universalResponseToNodeResponse>[1]).catch(() => {}); // the client went away
  };
}

/** Says what was asked for and what this server has instead. */
function describeUnknown(path: string, services: ReadonlyMap<string, readonly string[]>): string {
  const known = services.size === 0 ? "this server has no services" : `this server has: ${[...services.keys()].join(", ")}`;
  const match = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (match === null) return `no procedure at "${path}"; procedures are served at /<package>.<Service>/<Method>; ${known}`;
  const [, service = "", method = ""] = match;
  const methods = services.get(service);
  if (methods === undefined) return `unknown service "${service}"; ${known}`;
  return `service ${service} has no method "${method}"; its methods: ${methods.join(", ")}`;
}

function plain(res: Parameters<NodeHandler>[1], status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  res.end(`${text}\n`);
}
