// CORS for browser callers, off unless origins are configured
// (ORRERY_CORS_ORIGINS): the same answer for Connect, gRPC-Web and REST
// routes, since a browser app may use any of them.
import { cors as connectCors } from "@connectrpc/connect";
import type { NodeHandler } from "./http-server.js";

type Req = Parameters<NodeHandler>[0];
type Res = Parameters<NodeHandler>[1];

const allowMethods = "GET, POST, PUT, PATCH, DELETE";
const defaultAllowHeaders = [...connectCors.allowedHeaders, "Authorization", "Traceparent"].join(", ");
const exposeHeaders = [...connectCors.exposedHeaders, "Www-Authenticate", "Retry-After"].join(", ");

/**
 * The CORS step in front of a handler, or undefined when `origins` is empty
 * (CORS off). It adds the CORS headers to the answer of an allowed origin's
 * request and answers its preflight (204); a preflight from another origin
 * gets 403 without them, which the browser reports as a CORS failure.
 * Returns true when it answered the request itself.
 */
export function createCors(origins: readonly string[]): ((req: Req, res: Res) => boolean) | undefined {
  if (origins.length === 0) return undefined;
  const anyOrigin = origins.includes("*");
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (!anyOrigin) res.setHeader("vary", "Origin");
    if (!anyOrigin && !allowed.has(origin)) {
      if (!preflight) return false;
      res.writeHead(403, { "content-type": "text/plain" }).end(`origin ${origin.slice(0, 200)} is not allowed (ORRERY_CORS_ORIGINS)\n`);
      return true;
    }
    res.setHeader("access-control-allow-origin", anyOrigin ? "*" : origin);
    if (!preflight) {
      res.setHeader("access-control-expose-headers", exposeHeaders);
      return false;
    }
    const requested = req.headers["access-control-request-headers"];
    res.writeHead(204, {
      "access-control-allow-methods": allowMethods,
      // Any header the browser asks for: which origin may call is the control, not which headers it sends.
      "access-control-allow-headers": typeof requested === "string" && requested.trim() !== "" ? requested : defaultAllowHeaders,
      "access-control-max-age": "7200",
    }).end();
    return true;
  };
}
