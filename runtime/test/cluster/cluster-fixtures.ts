// Shared by the cluster tests: short timings and a node identity.
import type { MembershipTiming, NodeIdentity } from "../../src/cluster/membership.js";

/** 50 ms heartbeats, self-fenced after 200 ms, dead after 300 ms: the tests' timing, far below the defaults. */
export const fastTiming: MembershipTiming = { heartbeatMs: 50, deadAfterMs: 300, selfFenceAfterMs: 200 };

/** A node named `name` serving the shopping cart. */
export function testNode(name: string): NodeIdentity {
  return { name, address: `http://${name}:8080`, version: "0.1.0", components: ["shopping-cart"] };
}
