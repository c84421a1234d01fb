import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ForwardedCallSchema, ForwardRequestSchema, ForwardResponseSchema, NodeService } from "../gen/orrery/cluster/v1/node_pb.js";
import type { CallSigner } from "./call-signature.js";
import { errorMetadata, forwardedHeaders } from "./forwarded-headers.js";
import { createPeerSession } from "./peer-session.js";
import type { PeerSession } from "./peer-session.js";

/** The header a node sets on UNAVAILABLE when it does not serve the entity's shard: the call was not applied there. */
export const NOT_SERVED_HEADER = "orrery-not-served";

/** A call to forward, as the receiving node got it. */
export interface CallToForward {
  readonly entityType: string;
  readonly entityId: string;
  /** The method's name in its service, e.g. "AddItem". */
  readonly method: string;
  readonly command: Uint8Array;
  readonly headers: Headers | undefined;
  /** Milliseconds the hop may take, at most. */
  readonly timeoutMs: number;
  /** Whether `timeoutMs` is the caller's own deadline (else the node's bound on a hop). */
  readonly callerDeadline: boolean;
  readonly signal: AbortSignal | undefined;
}

/** How a forwarded call ended. */
export type ForwardOutcome =
  | { readonly kind: "reply"; readonly reply: Uint8Array }
  /** The owner answered with an error (its code, text, details and metadata): the caller gets it as it is. */
  | { readonly kind: "error"; readonly error: ConnectError }
  /** The call was not applied — the peer does not serve the shard (any more), or could not be reached — so it may go elsewhere. */
  | { readonly kind: "not-applied"; readonly reason: string };

/** Node-to-node calls: one HTTP/2 connection per peer, every call signed. */
export interface PeerCalls {
  forward(peer: { readonly name: string; readonly address: string }, call: CallToForward): Promise<ForwardOutcome>;
  /** Drops the connection to a peer that left, failing the calls in flight to it (a next call opens a new one). */
  forget(address: string): void;
}

/**
 * Creates this node's client of its peers' NodeService. Each call is a
 * ForwardedCall, serialized once and signed by `signer`, sent in the Connect
 * protocol's binary form over a kept-alive HTTP/2 session to the peer
 * (peer-session.ts).
 */
export function createPeerCalls(signer: CallSigner): PeerCalls {
  const sessions = new Map<string, PeerSession>();
  const path = `/${NodeService.typeName}/${NodeService.method.forward.name}`;
  return {
    async forward(peer, call) {
      const body = toBinary(ForwardedCallSchema, create(ForwardedCallSchema, {
        entityType: call.entityType,
        entityId: call.entityId,
        method: call.method,
        command: call.command,
        headers: forwardedHeaders(call.headers),
        timeoutMs: BigInt(Math.max(1, Math.floor(call.timeoutMs))),
      }));
      let session = sessions.get(peer.address);
      if (session === undefined) sessions.set(peer.address, (session = createPeerSession(peer.address)));
      try {
        const reply = await session.unary(path, toBinary(ForwardRequestSchema, create(ForwardRequestSchema, signer.sign(body))), call.timeoutMs, call.signal);
        return { kind: "reply", reply: fromBinary(ForwardResponseSchema, reply).reply };
      } catch (reason) {
        return outcomeOf(reason, peer, call);
      }
    },
    forget(address) {
      sessions.get(address)?.close();
      sessions.delete(address);
    },
  };
}

function outcomeOf(reason: unknown, peer: { readonly name: string; readonly address: string }, call: CallToForward): ForwardOutcome {
  const error = ConnectError.from(reason);
  if (error.code === Code.Unavailable && error.metadata.has(NOT_SERVED_HEADER)) {
    return { kind: "not-applied", reason: `node ${peer.name} does not serve it: ${error.rawMessage.replace(/^[^:]*: /, "")}` };
  }
  // Refused before anything was sent: a connection refused, or a stream the peer refused (it is shutting down).
  const codes = causes(reason).map((e) => (e as { code?: unknown }).code);
  if (codes.includes("ECONNREFUSED") || /REFUSED_STREAM/.test(error.rawMessage)) {
    return { kind: "not-applied", reason: `node ${peer.name} at ${peer.address} refused the connection` };
  }
  // An error the peer answered comes with its response headers; a failure of the hop itself has none.
  let answered = false;
  error.metadata.forEach(() => (answered = true));
  if (answered) {
    if (error.code === Code.Unauthenticated && error.rawMessage.startsWith(`${NodeService.typeName}/Forward:`)) {
      return { kind: "error", error: new ConnectError(`node ${peer.name} rejected the call this node forwarded to it: ${error.rawMessage.replace(/^[^:]*: /, "")}`, Code.Unavailable) };
    }
    const passed = new ConnectError(error.rawMessage, error.code, errorMetadata(error.metadata), undefined, error);
    passed.details.push(...error.details);
    return { kind: "error", error: passed };
  }
  if (error.code === Code.Canceled || (error.code === Code.DeadlineExceeded && call.callerDeadline)) return { kind: "error", error };
  const what = error.code === Code.DeadlineExceeded ? `did not answer within ${Math.round(call.timeoutMs)} ms` : `could not be heard (${error.rawMessage})`;
  return {
    kind: "error",
    error: new ConnectError(
      `the call was forwarded to node ${peer.name}, the entity's owner, which ${what}; whether the command was applied is not known: read the entity before retrying`,
      Code.Unavailable, undefined, undefined, error,
    ),
  };
}

/** `reason` and its causes, outermost first. */
function causes(reason: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = reason; e instanceof Error && !chain.includes(e); e = e.cause) chain.push(e);
  return chain;
}
