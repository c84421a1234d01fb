import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallInfo, EntityHost } from "./entity-host.js";

/**
 * The one routing point for entity calls: every command, from the wire or
 * from another component, goes through `invoke`. Today every entity is local;
 * the cluster makes this shard-aware and forwards to the owner.
 */
export interface EntityRouter {
  invoke(entityType: string, method: DescMethod, entityId: string, command: Message, call?: CallInfo): Promise<Message>;
}

/** Creates the router over this process's entity hosts. */
export function createEntityRouter(hosts: readonly EntityHost[]): EntityRouter {
  const byType = new Map(hosts.map((h) => [h.entity.spec.type, h]));
  return {
    invoke(entityType, method, entityId, command, call) {
      const host = byType.get(entityType);
      if (host === undefined) {
        return Promise.reject(new ConnectError(`no component of type "${entityType}" is served here`, Code.Unimplemented));
      }
      return host.invoke(method, entityId, command, call);
    },
  };
}
