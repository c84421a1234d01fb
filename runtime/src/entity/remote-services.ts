// Calls to components of other services of the project: where a service is
// found (ORRERY_SERVICE_<NAME>_URL), which proto services it serves (it says
// so at GET /orrery/services), and one HTTP/2 Connect transport to each.
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { NodeHandler } from "../server/index.js";
import type { ServiceDirectory } from "./service-directory.js";

/** Where this service tells others what it serves. */
export const SERVICES_PATH = "/orrery/services";

/** What GET /orrery/services answers. */
export interface ServedServices {
  /** The service's name (ORRERY_SERVICE_NAME), if it has one. */
  readonly name: string | undefined;
  /** The full names of the proto services its components serve. */
  readonly services: readonly string[];
}

/** Answers GET /orrery/services with what this service serves; false for other paths. */
export function servicesRoute(served: () => ServedServices): (...args: Parameters<NodeHandler>) => boolean {
  return (req, res) => {
    if ((req.method !== "GET" && req.method !== "HEAD") || (req.url ?? "").split("?", 1)[0] !== SERVICES_PATH) return false;
    const body = JSON.stringify(served());
    res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), "cache-control": "no-store" });
    if (req.method === "HEAD") res.end();
    else res.end(body);
    return true;
  };
}

/** Logs what the caller is not told. */
interface RemoteLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** The other services of the project this one calls. */
export interface RemoteServices {
  /** The transport to the service that serves `service`; rejects with a clear error when none does or none can be reached. */
  transportFor(service: DescService): Promise<Transport>;
}

/** Options of {@link createRemoteServices}. */
export interface RemoteServicesOptions {
  /** Name → base URL, from ORRERY_SERVICE_<NAME>_URL. */
  readonly urls: ReadonlyMap<string, string>;
  /** Added to every call (signing it as coming from this service). */
  readonly interceptors?: readonly Interceptor[];
  readonly logger: RemoteLogger;
  /** The services that share this service's PostgreSQL database, once joined (see `joinServiceDirectory`). */
  readonly directory?: () => ServiceDirectory | undefined;
}

/**
 * Finds which configured service serves a proto service by asking each one
 * (GET /orrery/services, remembered once answered; asked again while a
 * service cannot be reached), and calls it over HTTP/2 with the Connect
 * protocol. A service that cannot be reached is UNAVAILABLE, without its
 * address (which goes to the log).
 */
export function createRemoteServices(options: RemoteServicesOptions): RemoteServices {
  const served = new Map<string, Promise<ServedServices>>();
  const transports = new Map<string, Transport>();

  function ask(name: string, url: string): Promise<ServedServices> {
    let answer = served.get(name);
    if (answer === undefined) {
      answer = fetch(new URL(SERVICES_PATH, url), { signal: AbortSignal.timeout(5_000) }).then(async (response) => {
        if (!response.ok) throw new Error(`GET ${SERVICES_PATH} answered ${response.status}`);
        return (await response.json()) as ServedServices;
      });
      // Not remembered when it fails: the next call asks again.
      answer.catch(() => served.delete(name));
      served.set(name, answer);
    }
    return answer;
  }

  function transport(name: string, url: string): Transport {
    let t = transports.get(name);
    if (t === undefined) transports.set(name, (t = unreachableAsUnavailable(createConnectTransport({ baseUrl: url, httpVersion: "2", interceptors: [...(options.interceptors ?? [])] }), name, options.logger)));
    return t;
  }

  /** A transport to a live node of whichever service the directory says serves `service`, chosen per call. */
  function viaDirectory(directory: ServiceDirectory, service: DescService): Transport {
    const pick = async () => {
      const entries = await directory.find(service.typeName);
      if (entries.length === 0) {
        throw new ConnectError(
          `no live node of the project's other services serves ${service.typeName} (none in the service directory of this database); ` +
            "start the service that has it, or set ORRERY_SERVICE_<NAME>_URL for it",
          Code.Unavailable,
        );
      }
      const entry = entries[Math.floor(Math.random() * entries.length)]!;
      return transport(`${entry.serviceName} at ${entry.address}`, entry.address);
    };
    const forgetOnUnavailable = (error: unknown): never => {
      if (ConnectError.from(error).code === Code.Unavailable) directory.forget(service.typeName);
      throw error;
    };
    return {
      unary: async (...args) => (await pick()).unary(...args).catch(forgetOnUnavailable),
      stream: async (...args) => (await pick()).stream(...args).catch(forgetOnUnavailable),
    };
  }

  return {
    async transportFor(service) {
      const directory = options.directory?.();
      if (options.urls.size === 0) {
        if (directory !== undefined) return viaDirectory(directory, service);
        throw new ConnectError(
          `${service.typeName} is not served by this service, and no other service is configured; ` +
            "set ORRERY_SERVICE_<NAME>_URL to the address of the service that serves it (e.g. ORRERY_SERVICE_WALLET_URL=http://localhost:9001), " +
            "or run both services on one PostgreSQL database (each with ORRERY_SERVICE_NAME) so that they find each other",
          Code.Unimplemented,
        );
      }
      const unreachable: string[] = [];
      for (const [name, url] of options.urls) {
        try {
          if ((await ask(name, url)).services.includes(service.typeName)) return transport(name, url);
        } catch (error) {
          unreachable.push(name);
          options.logger.warn({ err: error, service: name, url }, `could not ask the service "${name}" at ${url} what it serves`);
        }
      }
      if (directory !== undefined) return viaDirectory(directory, service);
      if (unreachable.length > 0) {
        throw new ConnectError(`${service.typeName}: the service${unreachable.length === 1 ? "" : "s"} ${unreachable.map((n) => `"${n}"`).join(", ")} could not be reached to learn whether ${unreachable.length === 1 ? "it serves" : "they serve"} it; retry later`, Code.Unavailable);
      }
      throw new ConnectError(
        `no service of the project serves ${service.typeName}: ${[...options.urls.keys()].map((n) => `"${n}"`).join(", ")} do${options.urls.size === 1 ? "es" : ""} not; ` +
          "add it to a service, or set ORRERY_SERVICE_<NAME>_URL for the service that has it",
        Code.Unimplemented,
      );
    },
  };
}

/** What a failed connection (not an error the other service answered) says. */
const connectionFailure = /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|socket hang up|stream closed|GOAWAY/i;

/** A transport whose connection failures are UNAVAILABLE naming the service, not its address; the service's own errors pass unchanged. */
function unreachableAsUnavailable(inner: Transport, name: string, logger: RemoteLogger): Transport {
  const translate = (method: { parent: { name: string }; name: string }) => (error: unknown): never => {
    const e = ConnectError.from(error);
    if (e.code !== Code.Unavailable && e.code !== Code.Unknown && e.code !== Code.Internal) throw e;
    if (!connectionFailure.test(e.rawMessage)) throw e;
    logger.warn({ err: error, service: name }, `a call to the service "${name}" failed: ${e.rawMessage}`);
    throw new ConnectError(`${method.parent.name}.${method.name}: the service "${name}" could not be reached; retry later`, Code.Unavailable);
  };
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) => inner.unary(method, signal, timeoutMs, header, input, contextValues).catch(translate(method)),
    stream: (method, signal, timeoutMs, header, input, contextValues) => inner.stream(method, signal, timeoutMs, header, input, contextValues).catch(translate(method)),
  };
}

/** The other services' URLs from ORRERY_SERVICE_<NAME>_URL: `ORRERY_SERVICE_WALLET_URL` names the service "wallet". */
export function serviceUrlsFrom(env: Record<string, string | undefined>, problems: string[]): Map<string, string> {
  const urls = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    const match = /^ORRERY_SERVICE_([A-Z0-9_]+)_URL$/.exec(key);
    if (match === null || value === undefined || value.trim() === "") continue;
    const url = value.trim();
    if (!/^https?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
      problems.push(`${key}=${JSON.stringify(url)} is not an http:// or https:// URL (e.g. http://localhost:9001)`);
      continue;
    }
    urls.set(match[1]!.toLowerCase().replaceAll("_", "-"), url);
  }
  return urls;
}
