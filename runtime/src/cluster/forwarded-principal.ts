// The principal of a forwarded call crosses the hop inside the signed
// ForwardedCall, so the owner's handler sees who called at the first node.
import { create } from "@bufbuild/protobuf";
import type { Principal } from "@orrery/sdk";
import { CallPrincipalSchema } from "../gen/orrery/cluster/v1/node_pb.js";
import type { CallPrincipal } from "../gen/orrery/cluster/v1/node_pb.js";

/** `principal` as a ForwardedCall carries it. */
export function callPrincipal(principal: Principal): CallPrincipal {
  return create(CallPrincipalSchema, { source: principal.source, claimsJson: principal.claims === undefined ? "" : JSON.stringify(principal.claims) });
}

/** The principal a ForwardedCall carries; one from a peer that sent none (an older version) came from a component. */
export function principalFrom(call: CallPrincipal | undefined): Principal {
  if (call === undefined || call.source === "") return { source: "component" };
  const claims = call.claimsJson === "" ? undefined : (JSON.parse(call.claimsJson) as Record<string, unknown>);
  return { source: call.source, claims, subject: typeof claims?.["sub"] === "string" ? claims["sub"] : undefined };
}
