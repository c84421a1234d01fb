import type { NodeHandler } from "../server/index.js";
import type { ClusterNode } from "./cluster-node.js";

/** The path of the cluster's status: this node's view of the members and their shards. */
export const CLUSTER_STATUS_PATH = "/orrery/cluster";

/**
 * Answers `GET /orrery/cluster` with this node's view of the cluster as JSON:
 * the node itself (name, incarnation, ready and why not), then every member
 * (name, incarnation, address, version, components, state, heartbeat age,
 * shards owned) and the shards no live member owns (moving or free).
 */
export function clusterStatusRoute(node: () => ClusterNode | undefined): (...args: Parameters<NodeHandler>) => boolean {
  return (req, res) => {
    if ((req.method !== "GET" && req.method !== "HEAD") || (req.url ?? "").split("?", 1)[0] !== CLUSTER_STATUS_PATH) return false;
    const current = node();
    const status = current?.status();
    const body = status === undefined ? { node: { ready: false, notReadyReason: "starting" } } : {
      ...status,
      members: status.members.map((m) => ({
        name: m.name, incarnation: m.incarnation, address: m.address, version: m.version, components: m.components,
        weight: m.weight, state: m.state, heartbeatAgeMs: Math.round(m.heartbeatAgeMs), shards: m.shards,
      })),
    };
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? "" : `${JSON.stringify(body, null, 2)}\n`);
    return true;
  };
}
