import { hostname } from "node:os";
import type { RuntimeConfig } from "../config.js";
import type { NodeIdentity } from "./membership.js";

/**
 * This node as it joins the cluster: ORRERY_ADVERTISE_URL, or
 * `http://HOST:PORT` with the port it listens on (this machine's hostname
 * when HOST listens on every interface); ORRERY_NODE_NAME, or the advertised
 * host:port, which stays the same across restarts on a fixed port.
 */
export function nodeIdentity(
  config: Pick<RuntimeConfig, "advertiseUrl" | "nodeName" | "host">,
  port: number,
  components: readonly string[],
): NodeIdentity {
  const address = (config.advertiseUrl ?? `http://${advertisedHost(config.host)}:${port}`).replace(/\/+$/, "");
  return {
    name: config.nodeName ?? new URL(address).host,
    address,
    version: process.env["npm_package_version"] ?? "unknown",
    components,
  };
}

function advertisedHost(host: string): string {
  if (host === "" || host === "0.0.0.0" || host === "::") return hostname();
  return host.includes(":") ? `[${host}]` : host;
}
