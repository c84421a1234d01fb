import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { ForwardedCallSchema, ForwardResultSchema, NodeService } from "../gen/orrery/cluster/v1/node_pb.js";
import type { ForwardedCall, ForwardRequest, ForwardResponse, ForwardResult } from "../gen/orrery/cluster/v1/node_pb.js";
import type { CallVerifier } from "./call-signature.js";
import { attachPrincipal } from "@orrery/sdk";
import { principalFrom } from "./forwarded-principal.js";
import type { ClusterLogger } from "./cluster-node.js";

/** A component served on this node, as the node service runs forwarded calls on it. */
export interface LocalComponent {
  readonly service: DescService;
  /** The component's claims message (`(orrery.v1.service).claims`), if it declares one. */
  readonly claims?: DescMessage | undefined;
  /** Runs the command here, never forwarding it again: a node that does not serve its shard answers UNAVAILABLE. */
  invokeLocal(method: DescMethod, entityId: string, command: Message, call: { headers: Headers; signal: AbortSignal; deadline: number | undefined }): Promise<Message>;
}

/** Options for {@link registerNodeService}. */
export interface NodeServiceOptions {
  /** The components by type. */
  readonly components: ReadonlyMap<string, LocalComponent>;
  /** Checks every call's signature; undefined when this node has no cluster secret (it then accepts no internal call). */
  readonly verifier: CallVerifier | undefined;
  readonly logger?: ClusterLogger;
}

const where = `${NodeService.typeName}/Forward`;

/**
 * Serves `orrery.cluster.v1.NodeService` on the node's port: the internal
 * route peers forward calls over, one call (Forward) or the calls of one
 * turn of the peer's event loop (ForwardBatch). Every call is checked on its
 * own: one that is unsigned, wrongly signed, stale or replayed is rejected
 * with UNAUTHENTICATED and logged, before its content is looked at.
 */
export function registerNodeService(router: ConnectRouter, options: NodeServiceOptions): void {
  const { components, verifier, logger } = options;
  const run = async (request: ForwardRequest, ctx: HandlerContext): Promise<Uint8Array> => {
    const reject = (reason: string): never => {
      logger?.warn({ sender: request.sender, peer: ctx.requestHeader.get("x-forwarded-for") ?? undefined, reason }, `rejected an internal call: ${reason}`);
      throw new ConnectError(`${where}: ${reason}`, Code.Unauthenticated);
    };
    if (verifier === undefined) reject("this node has no cluster secret (ORRERY_CLUSTER_SECRET), so it accepts no internal calls");
    const problem = verifier!.verify({ call: request.call, sender: request.sender, signedAtMs: request.signedAtMs, nonce: request.nonce, signature: request.signature });
    if (problem !== undefined) reject(problem);
    let call: ForwardedCall;
    try {
      call = fromBinary(ForwardedCallSchema, request.call);
    } catch (error) {
      throw new ConnectError(`${where}: the forwarded call does not parse: ${String(error)}`, Code.InvalidArgument);
    }
    const component = components.get(call.entityType);
    if (component === undefined) throw new ConnectError(`no component of type "${call.entityType}" is served here`, Code.Unimplemented);
    const method = component.service.methods.find((m) => m.name === call.method);
    if (method === undefined) throw new ConnectError(`${component.service.typeName} has no method "${call.method}" on this node (does it run another version?)`, Code.Unimplemented);
    let command: Message;
    try {
      command = fromBinary(method.input, call.command);
    } catch (error) {
      throw new ConnectError(`${component.service.typeName}/${method.name}: the forwarded command does not parse: ${String(error)}`, Code.InvalidArgument);
    }
    const headers = new Headers();
    for (const { name, value } of call.headers) headers.append(name, value);
    attachPrincipal(headers, principalFrom(call.principal, component.claims)); // signed with the call: as the first node verified it
    const timeout = Number(call.timeoutMs);
    const deadline = timeout > 0 ? performance.now() + timeout : undefined;
    const reply = await component.invokeLocal(method, call.entityId, command, { headers, signal: ctx.signal, deadline });
    return toBinary(method.output, reply);
  };
  router.service(NodeService, {
    async forward(request: ForwardRequest, ctx: HandlerContext): Promise<ForwardResponse> {
      return { $typeName: "orrery.cluster.v1.ForwardResponse", reply: await run(request, ctx) };
    },
    forwardBatch(request, ctx) {
      return streamResults(request.calls, (call) => run(call, ctx));
    },
  });
}

/**
 * Runs `run` on every call at once and yields each one's result as it
 * settles: the reply, or the error as the Connect protocol writes it with its
 * metadata. A slow call holds back no other.
 */
export async function* streamResults<T>(calls: readonly T[], run: (call: T, index: number) => Promise<Uint8Array>): AsyncGenerator<ForwardResult> {
  const settled: ForwardResult[] = [];
  let wake: (() => void) | undefined;
  const push = (result: ForwardResult) => {
    settled.push(result);
    wake?.();
  };
  calls.forEach((call, index) => {
    run(call, index).then(
      (reply) => push(create(ForwardResultSchema, { index, outcome: { case: "reply", value: reply } })),
      (reason: unknown) => {
        const error = ConnectError.from(reason);
        const errorMetadata: { name: string; value: string }[] = [];
        error.metadata.forEach((value, name) => errorMetadata.push({ name, value }));
        push(create(ForwardResultSchema, { index, outcome: { case: "errorJson", value: errorToJsonBytes(error, {}) }, errorMetadata }));
      },
    );
  });
  for (let sent = 0; sent < calls.length; ) {
    if (settled.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
    for (const result of settled.splice(0)) {
      sent++;
      yield result;
    }
  }
}
