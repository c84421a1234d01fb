import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ContextValues } from "@connectrpc/connect";
import type { IncomingHttpHeaders } from "node:http";
import { codeFromHttpStatus } from "@connectrpc/connect/protocol-connect";
import type { RpcProtocol } from "./error-response.js";
import type { CallProbe } from "./request-errors.js";

/** How a call arrived: one of the RPC protocols, or a REST route (google.api.http). */
export type CallProtocol = RpcProtocol | "rest";

/** What the server knows when a call to one of its procedures arrives. */
export interface CallStart {
  readonly method: DescMethod;
  readonly protocol: CallProtocol;
  readonly headers: IncomingHttpHeaders;
  /** The call's context values, which handlers see as `ctx.values`. */
  readonly values: ContextValues;
}

/** One call being followed: see {@link CallObserver}. */
export interface ObservedCall {
  /** Runs the call's handler, e.g. inside a trace context; called once. */
  run?<T>(handle: () => T): T;
  /** The reply is written or the client went away; `code` is undefined for OK, `reason` what failed. */
  end(code: Code | undefined, reason: unknown): void;
}

/**
 * Told about every call to a served procedure (access log, metrics,
 * traces). Left out, the server does no work for it at all.
 */
export interface CallObserver {
  /** Returns undefined to leave the call alone. */
  begin(call: CallStart): ObservedCall | undefined;
}

/**
 * The code a finished call was answered with. connect-es aborts the call's
 * context with the error it answers (or with no reason once the reply is
 * done), and we rename errors raised before the handler ran; a reply the
 * client did not wait for is CANCELED.
 */
export function callOutcome(probe: CallProbe, status: number, written: boolean): { code: Code | undefined; reason: unknown } {
  if (probe.answered !== undefined) return { code: probe.answered.code, reason: probe.answered };
  if (!written) return { code: Code.Canceled, reason: probe.context?.signal.reason };
  // No handler context: connect-es refused the request before it (a GET of a method without it, …).
  if (probe.context === undefined) return status === 200 ? { code: undefined, reason: undefined } : { code: codeFromHttpStatus(status), reason: undefined };
  const reason: unknown = probe.context.signal.reason;
  if (reason instanceof ConnectError) return { code: reason.code, reason };
  if (reason === undefined || (reason instanceof Error && reason.name === "AbortError")) return { code: undefined, reason: undefined };
  return { code: Code.Internal, reason };
}
