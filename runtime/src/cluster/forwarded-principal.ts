// The principal of a forwarded call crosses the hop inside the signed
// ForwardedCall, so the owner's handler sees who called at the first node.
import { create } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Principal } from "@orrery/sdk";
import { CallPrincipalSchema } from "../gen/orrery/cluster/v1/node_pb.js";
import type { CallPrincipal } from "../gen/orrery/cluster/v1/node_pb.js";
import { readClaims } from "../auth/token-claims.js";
import { TokenRejected } from "../auth/token-verifier.js";

/** `principal` as a ForwardedCall carries it: the token's payload as sent, also when the claims were read into a message. */
export function callPrincipal(principal: Principal<unknown>): CallPrincipal {
  const payload = principal.token ?? principal.claims;
  return create(CallPrincipalSchema, { source: principal.source, claimsJson: payload === undefined ? "" : JSON.stringify(payload) });
}

/**
 * The principal a ForwardedCall carries, its claims read into `claimsSchema`
 * when the component declares one (as the first node did); one from a peer
 * that sent none (an older version) came from a component.
 */
export function principalFrom(call: CallPrincipal | undefined, claimsSchema?: DescMessage): Principal<unknown> {
  if (call === undefined || call.source === "") return { source: "component" };
  const claims = call.claimsJson === "" ? undefined : (JSON.parse(call.claimsJson) as Record<string, unknown>);
  const subject = typeof claims?.["sub"] === "string" ? claims["sub"] : undefined;
  if (claims === undefined || claimsSchema === undefined) return { source: call.source, claims, subject };
  try {
    return { source: call.source, claims: readClaims(claimsSchema, claims), token: claims, subject };
  } catch (error) {
    throw error instanceof TokenRejected ? new ConnectError(error.reason, Code.Unauthenticated) : error;
  }
}
