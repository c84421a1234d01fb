// What a call from inside a handler inherits from the command it runs in:
// the deadline, the correlation id, the caller's application metadata and the
// chain of entities waiting on it (so that a call back into one of them, which
// would wait for its own mailbox forever, is refused at once instead).
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Transport } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import { describeCall } from "./call-description.js";

/** Names one chain of calls across components, nodes and services; set by the first caller or made up at the first hop. */
export const CORRELATION_ID_HEADER = "orrery-correlation-id";
/** The entities whose handlers wait on this call, outermost first: `type:id` pairs, each part URI-encoded, comma-separated. */
export const CALL_CHAIN_HEADER = "orrery-call-chain";
/** The most entities a chain may hold: deeper is almost always a cycle through different entities, or runaway recursion. */
export const MAX_CALL_DEPTH = 16;

/** The command a nested call is made from. */
export interface CallScope {
  /** The command's request headers. */
  readonly headers: Headers | undefined;
  /** The command's deadline (`performance.now()` time), if its caller set one. */
  readonly deadline: number | undefined;
  /** The entity whose handler makes the call. */
  readonly caller: { readonly type: string; readonly id: string };
  /** Headers each call gets of its own, made per call (a workflow step's idempotency keys); the call's own headers win. */
  readonly perCall?: () => Record<string, string>;
  /** The correlation id when the command's headers carry none (instead of a random one). */
  readonly correlationId?: string;
}

/** Whether `name` (lower case) is metadata a nested call inherits: application headers (`x-…`) and trace context, never credentials. */
function inherited(name: string): boolean {
  return name.startsWith("x-") || name === "traceparent" || name === "tracestate" || name === "baggage";
}

function chainEntry(type: string, id: string): string {
  return `${encodeURIComponent(type)}:${encodeURIComponent(id)}`;
}

/**
 * The headers of a call made from `scope`: what it inherits, the correlation
 * id (the command's, or `correlationId` made up once per command), the chain
 * with the caller appended, then what the handler set on the call itself.
 */
function scopedHeaders(scope: CallScope, correlationId: () => string, own: ConstructorParameters<typeof Headers>[0]): Headers {
  const headers = new Headers();
  scope.headers?.forEach((value, name) => {
    if (inherited(name)) headers.set(name, value);
  });
  headers.set(CORRELATION_ID_HEADER, correlationId());
  const chain = scope.headers?.get(CALL_CHAIN_HEADER);
  const entry = chainEntry(scope.caller.type, scope.caller.id);
  headers.set(CALL_CHAIN_HEADER, chain ? `${chain},${entry}` : entry);
  if (scope.perCall !== undefined) for (const [name, value] of Object.entries(scope.perCall())) headers.set(name, value);
  if (own !== undefined) new Headers(own).forEach((value, name) => headers.set(name, value));
  return headers;
}

/** The time left before the scope's deadline, capped by the call's own timeout; throws DEADLINE_EXCEEDED once it has passed. */
function remaining(scope: CallScope, timeoutMs: number | undefined, method: { readonly parent: { readonly name: string }; readonly name: string }): number | undefined {
  if (scope.deadline === undefined) return timeoutMs;
  const left = Math.floor(scope.deadline - performance.now());
  if (left <= 0) {
    throw new ConnectError(
      `${method.parent.name}.${method.name} was not called: the deadline of the calling command (on ${scope.caller.type} ${JSON.stringify(scope.caller.id)}) has passed`,
      Code.DeadlineExceeded,
    );
  }
  return timeoutMs === undefined ? left : Math.min(timeoutMs, left);
}

/** A transport that gives every call made through it what it inherits from `scope`. */
export function scopedTransport(base: Transport, scope: CallScope): Transport {
  let correlationId: string | undefined;
  const correlation = () => (correlationId ??= scope.headers?.get(CORRELATION_ID_HEADER) ?? scope.correlationId ?? randomUUID());
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      return base.unary(method, signal, remaining(scope, timeoutMs, method), scopedHeaders(scope, correlation, header), input, contextValues);
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      return base.stream(method, signal, remaining(scope, timeoutMs, method), scopedHeaders(scope, correlation, header), input, contextValues);
    },
  };
}

/**
 * Refuses a call to an entity whose handler is waiting on it, directly (a
 * handler calling its own entity) or through others (a calls b calls a): the
 * call would queue behind the very command that waits for it. Also bounds the
 * depth of a chain. Returns undefined when the call may go on.
 */
export function callCycleError(headers: Headers | undefined, method: DescMethod, entityType: string, entityId: string): ConnectError | undefined {
  const chain = headers?.get(CALL_CHAIN_HEADER);
  if (!chain) return undefined;
  const entries = chain.split(",");
  const self = chainEntry(entityType, entityId);
  const at = entries.indexOf(self);
  if (at >= 0) {
    const path = [...entries.slice(at), self].map(describeEntry).join(" → ");
    const direct = at === entries.length - 1;
    return new ConnectError(
      `${describeCall(method, entityType, entityId)}: ${direct ? "called from inside a handler of the same entity" : "called from a chain of calls that started in this entity"} ` +
        `(${path}); the call would wait behind the command that is waiting for it, forever. ` +
        (direct
          ? "Do the work in the handler itself, or make the call from a consumer, workflow or timer"
          : "Break the cycle: let one of these entities call the others, or move the call into a consumer, workflow or timer"),
      Code.FailedPrecondition,
    );
  }
  if (entries.length >= MAX_CALL_DEPTH) {
    return new ConnectError(
      `${describeCall(method, entityType, entityId)}: the call is the ${entries.length + 1}th in a chain of calls between entities (${entries.map(describeEntry).join(" → ")}); ` +
        `at most ${MAX_CALL_DEPTH} may wait on each other. Look for runaway recursion`,
      Code.FailedPrecondition,
    );
  }
  return undefined;
}

function describeEntry(entry: string): string {
  const [type = "", id = ""] = entry.split(":");
  return `${safeDecode(type)} ${JSON.stringify(safeDecode(id))}`;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
