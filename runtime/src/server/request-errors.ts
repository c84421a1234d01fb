import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey } from "@connectrpc/connect";
import type { ContextValues, HandlerContext, Interceptor } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { errorResponse, type RpcProtocol } from "./error-response.js";

/**
 * What one call got through before it failed. connect-es reads, limits and
 * parses a unary request before the first interceptor runs, so its errors
 * (`parse binary: premature EOF`) never pass through code of ours; the probe
 * lets us recognise them afterwards and name the method in them.
 */
export interface CallProbe {
  /** The request body (or the GET query message) has started to be read. */
  bodyRead: boolean;
  /** The request message comes from the Connect GET `message` query parameter. */
  fromQuery: boolean;
  /** The first interceptor ran: the request message was accepted. */
  accepted: boolean;
  /** Captured by the request gate, whose context connect aborts with the error. */
  context: HandlerContext | undefined;
  /** The error we answered instead of connect's (a renamed early failure, an unsupported content type). */
  answered?: ConnectError;
}

/** Where a call's {@link CallProbe} lives in its context values. */
export const callProbeKey = createContextKey<CallProbe | undefined>(undefined, { description: "orrery call probe" });

/** Starts a probe for one call and stores it in `values`. */
export function startCallProbe(values: ContextValues, isGet: boolean): CallProbe {
  const probe: CallProbe = { bodyRead: isGet, fromQuery: isGet, accepted: false, context: undefined };
  values.set(callProbeKey, probe);
  return probe;
}

/** Passes `body` through, noting in `probe` when it is first read. */
export function watchBody(body: AsyncIterable<Uint8Array>, probe: CallProbe): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const it = body[Symbol.asyncIterator]();
      return {
        next: () => {
          probe.bodyRead = true;
          return it.next();
        },
        return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
      };
    },
  };
}

/**
 * The outermost interceptor: marks the request accepted, and for streaming
 * requests (parsed lazily, while user code iterates them) names the method in
 * errors the request stream raises.
 */
export const probeInterceptor: Interceptor = (next) => async (req) => {
  const probe = req.contextValues.get(callProbeKey);
  if (probe !== undefined) probe.accepted = true;
  if (!req.stream) return next(req);
  return next({ ...req, message: nameErrors(req.message, req.method, probe) });
};

async function* nameErrors<T>(messages: AsyncIterable<T>, method: DescMethod, probe?: CallProbe): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (e) {
    throw e instanceof ConnectError ? nameError(e, method, probe?.bodyRead ?? true, false) : e;
  }
}

/**
 * If the call failed before it was accepted, replaces connect's response with
 * one that names the method; otherwise returns the response unchanged.
 */
export function nameEarlyFailure(response: UniversalServerResponse, method: DescMethod, probe: CallProbe): UniversalServerResponse {
  const context = probe.context;
  if (probe.accepted || context === undefined) return response;
  let reason: unknown = context.signal.reason;
  if (!(reason instanceof ConnectError)) {
    // connect-es decodes the GET `message` with base64Decode, which throws a plain Error
    // ("invalid base64 string") that it answers as "internal error".
    if (!probe.fromQuery || !(reason instanceof Error)) return response;
    reason = new ConnectError(reason.message, Code.InvalidArgument);
  }
  const error = nameError(reason as ConnectError, method, probe.bodyRead, probe.fromQuery);
  probe.answered = error;
  return errorResponse(context.protocolName as RpcProtocol, error, context.requestHeader.get("content-type"));
}

// Codes connect-es uses for bytes it cannot decode (binary parse errors are INTERNAL).
const malformed = new Set([Code.InvalidArgument, Code.Internal, Code.Unimplemented, Code.Unknown]);

/**
 * Prefixes `procedure: ` and, for a bad body, says so: undecodable bytes,
 * JSON or envelopes become INVALID_ARGUMENT, an oversize message stays
 * RESOURCE_EXHAUSTED, and anything else (deadline, cancel) keeps its code.
 */
function nameError(error: ConnectError, method: DescMethod, bodyRead: boolean, fromQuery: boolean): ConnectError {
  let what = "";
  let code = error.code;
  const body = fromQuery ? "message query parameter" : "request body";
  if (bodyRead && code === Code.ResourceExhausted) {
    what = `${body} too large: `;
  } else if (bodyRead && malformed.has(code)) {
    what = `invalid ${body}: `;
    code = Code.InvalidArgument;
  }
  const message = `${method.parent.typeName}/${method.name}: ${what}${error.rawMessage}`;
  return new ConnectError(message, code, error.metadata, undefined, error);
}
