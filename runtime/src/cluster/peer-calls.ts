import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { ForwardBatchRequestSchema, ForwardedCallSchema, ForwardRequestSchema, ForwardResultSchema, NodeService } from "../gen/orrery/cluster/v1/node_pb.js";
import type { ForwardRequest } from "../gen/orrery/cluster/v1/node_pb.js";
import type { CallSigner } from "./call-signature.js";
import { errorMetadata, forwardedHeaders } from "./forwarded-headers.js";
import { answeredByPeer, createPeerSession } from "./peer-session.js";
import { principalOf } from "@orrery/sdk";
import { callPrincipal } from "./forwarded-principal.js";
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

/** A call waiting for its batch to be sent, or for its result. */
interface Pending {
  readonly call: CallToForward;
  readonly request: ForwardRequest;
  settled: boolean;
  settle(outcome: ForwardOutcome): void;
}

/**
 * Creates this node's client of its peers' NodeService. Each call is a
 * ForwardedCall, serialized once and signed by `signer`. The calls for one
 * peer made within one turn of the event loop go in one ForwardBatch call
 * (server streaming, in the Connect protocol's binary form over a kept-alive
 * HTTP/2 session to the peer, peer-session.ts), whose results come back each
 * as soon as it is there: one HTTP/2 stream per batch instead of per call.
 * Each call keeps its own deadline and cancellation.
 */
export function createPeerCalls(signer: CallSigner): PeerCalls {
  const sessions = new Map<string, PeerSession>();
  const queues = new Map<string, { peer: { readonly name: string; readonly address: string }; calls: Pending[] }>();
  const path = `/${NodeService.typeName}/${NodeService.method.forwardBatch.name}`;

  const send = (peer: { readonly name: string; readonly address: string }, batch: Pending[]): void => {
    let session = sessions.get(peer.address);
    if (session === undefined) sessions.set(peer.address, (session = createPeerSession(peer.address)));
    // The stream lasts as long as the longest of its calls may; once every call settled (answered,
    // timed out or canceled by its caller) it is canceled, so the owner stops what is left.
    const stop = new AbortController();
    let open = batch.length;
    const done = (pending: Pending, outcome: ForwardOutcome) => {
      if (pending.settled) return;
      pending.settled = true;
      pending.settle(outcome);
      if (--open === 0) stop.abort();
    };
    for (const pending of batch) {
      const { call } = pending;
      const timer = setTimeout(() => done(pending, outcomeOf(new ConnectError(`no answer within ${Math.round(call.timeoutMs)} ms`, Code.DeadlineExceeded), false, peer, call)), call.timeoutMs);
      const onAbort = () => done(pending, outcomeOf(new ConnectError("the call was canceled", Code.Canceled), false, peer, call));
      const settle = pending.settle;
      pending.settle = (outcome) => {
        clearTimeout(timer);
        call.signal?.removeEventListener("abort", onAbort);
        settle(outcome);
      };
      if (call.signal?.aborted) onAbort();
      else call.signal?.addEventListener("abort", onAbort, { once: true });
    }
    if (open === 0) return;
    const body = toBinary(ForwardBatchRequestSchema, create(ForwardBatchRequestSchema, { calls: batch.map((p) => p.request) }));
    // A second past the longest call's own bound: each call's timer, not the stream's, decides its outcome.
    const timeoutMs = Math.max(...batch.map((p) => p.call.timeoutMs)) + 1_000;
    session
      .serverStream(path, body, timeoutMs, stop.signal, (bytes) => {
        const result = fromBinary(ForwardResultSchema, bytes);
        const pending = batch[result.index];
        if (pending === undefined) return;
        const { outcome } = result;
        if (outcome.case === "reply") return done(pending, { kind: "reply", reply: outcome.value });
        const metadata = new Headers();
        for (const { name, value } of result.errorMetadata) metadata.append(name, value);
        const fallback = new ConnectError("the owner answered an error that does not parse", Code.Internal, metadata);
        const error = outcome.case === "errorJson" ? errorFromJsonBytes(outcome.value, metadata, fallback) : fallback;
        done(pending, outcomeOf(error, true, peer, pending.call));
      })
      .then(
        () => {
          for (const pending of batch) done(pending, outcomeOf(new ConnectError("the owner ended the batch without this call's result", Code.Unavailable), false, peer, pending.call));
        },
        (reason: unknown) => {
          if (stop.signal.aborted) return; // every call settled already
          // The batch itself failed: an error the owner answered for all of it, or a failure of the hop.
          for (const pending of batch) done(pending, outcomeOf(reason, answeredByPeer(reason), peer, pending.call));
        },
      );
  };

  return {
    forward(peer, call) {
      const body = toBinary(ForwardedCallSchema, create(ForwardedCallSchema, {
        entityType: call.entityType,
        entityId: call.entityId,
        method: call.method,
        command: call.command,
        headers: forwardedHeaders(call.headers),
        timeoutMs: BigInt(Math.max(1, Math.floor(call.timeoutMs))),
        principal: callPrincipal(principalOf(call.headers)),
      }));
      const request = create(ForwardRequestSchema, signer.sign(body));
      return new Promise<ForwardOutcome>((settle) => {
        let queue = queues.get(peer.address);
        if (queue === undefined) {
          queues.set(peer.address, (queue = { peer, calls: [] }));
          // After the current I/O phase: every call this turn made for the peer joins the batch.
          setImmediate(() => {
            queues.delete(peer.address);
            send(queue!.peer, queue!.calls);
          });
        }
        queue.calls.push({ call, request, settled: false, settle });
      });
    },
    forget(address) {
      sessions.get(address)?.close();
      sessions.delete(address);
    },
  };
}

/**
 * What a forwarded call's failure means for its caller. `answered`: the owner
 * itself answered this error (rather than the hop failing on the way).
 */
function outcomeOf(reason: unknown, answered: boolean, peer: { readonly name: string; readonly address: string }, call: CallToForward): ForwardOutcome {
  const error = ConnectError.from(reason);
  if (error.code === Code.Unavailable && error.metadata.has(NOT_SERVED_HEADER)) {
    return { kind: "not-applied", reason: `node ${peer.name} does not serve it: ${error.rawMessage.replace(/^[^:]*: /, "")}` };
  }
  // Refused before anything was sent: a connection refused, or a stream the peer refused (it is shutting down).
  const codes = causes(reason).map((e) => (e as { code?: unknown }).code);
  if (codes.includes("ECONNREFUSED") || /REFUSED_STREAM/.test(error.rawMessage)) {
    return { kind: "not-applied", reason: `node ${peer.name} at ${peer.address} refused the connection` };
  }
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
