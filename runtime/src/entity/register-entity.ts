import type { Message } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HostedComponent } from "./entity-model.js";
import { describeCall } from "./call-description.js";
import { callTargetKey } from "./call-target.js";
import type { EntityRouter } from "./entity-router.js";
import { requestCheck } from "../validation/index.js";

/** The longest entity id accepted; keys are stored and indexed with every event. */
export const MAX_ENTITY_ID_LENGTH = 512;

/**
 * Serves an entity's Connect service (event-sourced or key-value): each rpc checks the
 * request's buf.validate rules, reads the entity key from the request and hands the command
 * to the routing point.
 */
export function registerEntity(router: ConnectRouter, entity: HostedComponent, entities: EntityRouter): void {
  const { spec } = entity;
  const impl: Record<string, (req: Message, ctx: HandlerContext) => Promise<Message>> = {};
  for (const method of spec.service.methods) {
    const methodSpec = (spec.methods as Record<string, { entityKey: string } | undefined>)[method.localName];
    if (methodSpec === undefined) {
      throw new Error(`${spec.service.typeName}/${method.name} has no generated method spec; regenerate the code (npx buf generate)`);
    }
    const keyField = method.input.fields.find((f) => f.localName === methodSpec.entityKey);
    const keyName = keyField?.name ?? methodSpec.entityKey;
    const validate = requestCheck(method);
    const where = describeCall(method, spec.type);
    impl[method.localName] = (req, ctx) => {
      const key = (req as unknown as Record<string, unknown>)[methodSpec.entityKey];
      const problem = keyProblem(key, keyName, spec.type);
      const target = ctx.values.get(callTargetKey);
      if (target !== undefined && problem === undefined) {
        // Named before validation, so a rejected call's access line and span still say which entity it was for.
        target.entityType = spec.type;
        target.entityId = key as string;
      }
      validate?.(req);
      if (problem !== undefined) throw new ConnectError(`${where}: ${problem}`, Code.InvalidArgument);
      const timeout = ctx.timeoutMs();
      const deadline = timeout === undefined ? undefined : performance.now() + timeout;
      return entities.invoke(spec.type, method, key as string, req, { headers: ctx.requestHeader, signal: ctx.signal, deadline });
    };
  }
  router.service(spec.service, impl as unknown as ServiceImpl<typeof spec.service>);
}

/** Why `key` cannot be an entity id, or undefined when it can. */
function keyProblem(key: unknown, keyName: string, type: string): string | undefined {
  if (typeof key !== "string" || key.length === 0) return `the entity key "${keyName}" is missing or empty; set it to the id of the ${type}`;
  if (key.includes("\u0000")) return `the entity key "${keyName}" contains a NUL character (\\u0000), which entity ids cannot hold`;
  if (key.length > MAX_ENTITY_ID_LENGTH) return `the entity key "${keyName}" is ${key.length} characters; at most ${MAX_ENTITY_ID_LENGTH} are allowed`;
  return undefined;
}
