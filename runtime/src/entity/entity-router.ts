import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTimeout as sleep } from "node:timers/promises";
import { NOT_SERVED_HEADER } from "../cluster/peer-calls.js";
import type { PeerCalls } from "../cluster/peer-calls.js";
import { describeCall } from "./call-description.js";
import type { CallInfo, EntityHost } from "./entity-host.js";

/**
 * The one routing point for entity calls: every command, from the wire or
 * from another component, goes through `invoke`. In a cluster it runs the
 * command here when this node serves the entity's shard, forwards it to the
 * owner when another node does, and waits (bounded) while the shard moves.
 */
export interface EntityRouter {
  invoke(entityType: string, method: DescMethod, entityId: string, command: Message, call?: CallInfo): Promise<Message>;
}

/** What the router needs of the cluster (a `ClusterNode` is one). */
export interface RoutingCluster {
  readonly name: string | undefined;
  readonly incarnation: number | undefined;
  epochOf(shard: number): number | undefined;
  ownerOf(shard: number): { readonly name: string; readonly incarnation: number; readonly address: string | undefined; readonly live: boolean } | undefined;
  whyNotServed(shard: number): string;
  /** Asks for a fresh read of the shard table soon (coalesced): a call found the owners it knows stale. */
  rereadOwners(): void;
}

/** Options for {@link createEntityRouter}. */
export interface EntityRouterOptions {
  /** Without it every entity is served here. */
  readonly cluster?: RoutingCluster;
  /** Calls to peers; without them (no cluster secret) a call for another node's shard is answered UNAVAILABLE, naming the owner. */
  readonly peers?: PeerCalls;
  /** How long a call waits for a moving shard's new owner (default 5,000 ms), never past its own deadline. */
  readonly shardWaitMs?: number;
  /** How long a forwarded call without a deadline of its own may take (default 10,000 ms). */
  readonly forwardTimeoutMs?: number;
}

/** Creates the router over this process's entity hosts. */
export function createEntityRouter(hosts: readonly EntityHost[], options: EntityRouterOptions = {}): EntityRouter {
  const byType = new Map(hosts.map((h) => [h.entity.spec.type, h]));
  const { cluster, peers } = options;
  const shardWaitMs = options.shardWaitMs ?? 5_000;
  const forwardTimeoutMs = options.forwardTimeoutMs ?? 10_000;

  /** The slow path: the shard is not served here right now. */
  async function route(host: EntityHost, shard: number, method: DescMethod, entityId: string, command: Message, call: CallInfo): Promise<Message> {
    const c = cluster!;
    const type = host.entity.spec.type;
    const started = performance.now();
    // Answer while the caller still listens: a tenth of its time (20 to 250 ms) before its own deadline, so that a busy
    // event loop or a slow network does not turn "not applied, safe to retry" into the caller's DEADLINE_EXCEEDED.
    const margin = call.deadline === undefined ? 0 : Math.min(250, Math.max(20, (call.deadline - started) / 10));
    const waitUntil = Math.min(started + shardWaitMs, call.deadline === undefined ? Infinity : call.deadline - margin);
    let encoded: Uint8Array | undefined;
    let why = "";
    for (let attempt = 0; ; attempt++) {
      if (c.epochOf(shard) !== undefined) return host.invoke(method, entityId, command, call);
      const owner = c.ownerOf(shard);
      const elsewhere = owner !== undefined && owner.live && owner.address !== undefined && owner.name !== c.name;
      if (elsewhere && peers === undefined) {
        // No cluster secret: say who owns it, as before forwarding existed.
        return host.invoke(method, entityId, command, call);
      }
      if (elsewhere) {
        const now = performance.now();
        const callerDeadline = call.deadline !== undefined && call.deadline - now <= forwardTimeoutMs;
        const outcome = await peers!.forward(
          { name: owner.name, address: owner.address! },
          {
            entityType: type, entityId, method: method.name,
            command: (encoded ??= toBinary(method.input, command)),
            headers: call.headers,
            timeoutMs: callerDeadline ? Math.max(1, call.deadline! - margin - now) : forwardTimeoutMs,
            callerDeadline,
            signal: call.signal,
          },
        );
        if (outcome.kind === "reply") return fromBinary(method.output, outcome.reply);
        if (outcome.kind === "error") throw outcome.error;
        why = outcome.reason;
      } else {
        why = c.whyNotServed(shard);
      }
      c.rereadOwners();
      const now = performance.now();
      if (now >= waitUntil || call.signal?.aborted) {
        throw new ConnectError(
          `${describeCall(method, type, entityId)}: shard ${shard} of this entity is moving between nodes and no node served it within ` +
            `${Math.round(now - started)} ms (${why}); the call was not applied and is safe to retry`,
          Code.Unavailable, new Headers({ [NOT_SERVED_HEADER]: String(shard) }),
        );
      }
      await sleep(Math.min(5 * 2 ** Math.min(attempt, 4), waitUntil - now));
    }
  }

  return {
    invoke(entityType, method, entityId, command, call = {}) {
      const host = byType.get(entityType);
      if (host === undefined) {
        return Promise.reject(new ConnectError(`no component of type "${entityType}" is served here`, Code.Unimplemented));
      }
      if (cluster === undefined) return host.invoke(method, entityId, command, call);
      const shard = host.shardOfEntity(entityId);
      if (cluster.epochOf(shard) !== undefined) return host.invoke(method, entityId, command, call);
      return route(host, shard, method, entityId, command, call);
    },
  };
}
