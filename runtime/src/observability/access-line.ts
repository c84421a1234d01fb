import type { DescMethod } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import type { CallTarget } from "../entity/call-target.js";
import type { CallProtocol } from "../server/index.js";
import { codeName } from "./code-name.js";

/** One finished call, as the access line tells it. */
export interface FinishedCall {
  readonly method: DescMethod;
  readonly protocol: CallProtocol;
  readonly target: CallTarget;
  readonly code: Code | undefined;
  readonly seconds: number;
  /** The client's address (the TCP peer, or the one a trusted proxy forwarded for). */
  readonly client?: string | undefined;
}

/**
 * The access line of a call: its facts under `call` (for JSON logs) and a
 * message that says them all (for the pretty form, which hides `call`), e.g.
 * `shop.cart.v1.ShoppingCartService/AddItem shopping-cart "c1": ok in 1.25 ms (connect from 203.0.113.7)`.
 */
export function accessLine(call: FinishedCall): { fields: { call: Record<string, unknown> }; message: string } {
  const method = `${call.method.parent.typeName}/${call.method.name}`;
  const code = codeName(call.code);
  const ms = Math.round(call.seconds * 1e5) / 100;
  const { entityType, entityId } = call.target;
  const entity = entityType === undefined ? "" : ` ${entityType} ${JSON.stringify(entityId)}`;
  return {
    fields: {
      call: {
        protocol: call.protocol, method,
        ...(entityType !== undefined && { entityType, entityId }),
        code, ms,
        ...(call.client !== undefined && { client: call.client }),
      },
    },
    message: `${method}${entity}: ${code} in ${ms.toFixed(2)} ms (${call.protocol}${call.client === undefined ? "" : ` from ${call.client}`})`,
  };
}
