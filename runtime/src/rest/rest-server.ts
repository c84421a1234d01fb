// Serves the REST routes: matches a request to its google.api.http binding,
// builds the request message (path variables, query parameters, JSON body),
// runs the method through the same handler as a Connect call, and answers
// with the reply (or its response_body field) in protobuf JSON, or with the
// error in the google.rpc.Status shape. A server-streaming method answers
// newline-delimited JSON, one {"result": …} line per message (grpc-gateway's
// framing), and {"error": {code, message, details}} if it fails midway.
import { fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import type { DescMethod, JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MethodDispatch, NodeHandler, StreamReply } from "../server/index.js";
import { httpRequestMessage } from "./request-message.js";
import { openApiDocument, openApiPath } from "./openapi-document.js";
import { restErrorResponse } from "./rest-error.js";
import type { RestRoutes } from "./rest-routes.js";

/** Options for {@link createRestHandler}. */
export interface RestHandlerOptions {
  readonly routes: RestRoutes<DescMethod>;
  /** Runs a method's call; from the Connect handler (`methodRoutes`). */
  readonly dispatch: MethodDispatch;
  /** The largest request body accepted, in bytes (the Connect side's `maxMessageBytes`). */
  readonly maxBodyBytes: number;
}

type Req = Parameters<NodeHandler>[0];
type Res = Parameters<NodeHandler>[1];

// Errors whose HTTP status is not the one their code maps to (404 for no route, 405, 413, 415), with
// extra headers. (Not a subclass: ConnectError's Symbol.hasInstance makes every ConnectError one.)
const httpAnswers = new WeakMap<ConnectError, { status: number; headers: Record<string, string> }>();

function httpError(message: string, code: Code, status: number, headers: Record<string, string> = {}): ConnectError {
  const error = new ConnectError(message, code);
  httpAnswers.set(error, { status, headers });
  return error;
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Creates the route for `otherRoutes`: serves the OpenAPI document of the
 * routes at /openapi.json (unless a route of the services claims that path),
 * and takes (returns true for) every request
 * a REST route matches, or whose path matches with another HTTP method (405),
 * and answers 404 in the Google shape for paths that are not `/pkg.Service/Method`
 * procedures and are not sent by an RPC client; leaves the rest to the
 * unknown-procedure answer.
 */
export function createRestHandler(options: RestHandlerOptions): (req: Req, res: Res) => boolean {
  const { routes, dispatch, maxBodyBytes } = options;
  const served = routes.list();
  const openApi = JSON.stringify(openApiDocument(served, [...new Set(served.map((r) => r.target.parent.typeName))].join(", ")));
  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const httpMethod = req.method ?? "GET";
    const rpcRequest = /^\/[^/]+\.[^/]+\/[^/]+$/.test(path) || /^application\/(grpc|connect)/i.test(req.headers["content-type"] ?? "");
    const badPath = rpcRequest ? undefined : pathProblem(path);
    if (badPath !== undefined) {
      void answerError(res, new ConnectError(`${httpMethod} ${path.slice(0, 200)}: ${badPath}`, Code.InvalidArgument));
      return true;
    }
    const found = routes.match(httpMethod, path);
    if (path === openApiPath && found.kind !== "matched" && (httpMethod === "GET" || httpMethod === "HEAD")) {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(openApi)) });
      res.end(httpMethod === "HEAD" ? "" : openApi);
      return true;
    }
    if (found.kind === "no-route") {
      if (rpcRequest) return false;
      void answerError(res, httpError(`no REST route matches ${httpMethod} ${path.slice(0, 200)}`, Code.NotFound, 404));
      return true;
    }
    if (found.kind === "method-not-allowed") {
      const allow = found.allowed.join(", ");
      void answerError(res, httpError(`${httpMethod} is not served at ${path.slice(0, 200)}; it accepts ${allow}`, Code.Unimplemented, 405, { allow }));
      return true;
    }
    const { route, bindings } = found;
    const method = route.target;
    const build = async (): Promise<Uint8Array> => {
      const body = await readJsonBody(req, res, maxBodyBytes, route.rpc);
      const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
      const message = httpRequestMessage(method.input, route.body, { bindings, query, body });
      return toBinary(method.input, message);
    };
    if (method.methodKind === "server_streaming") {
      void answerStream(res, dispatch.serverStream(method, build, req, res), (message) => replyJson(method, message, route.responseBody));
      return true;
    }
    dispatch.unary(method, build, req, res).then(
      (reply) => {
        const text = JSON.stringify(replyJson(method, reply.message, route.responseBody));
        res.writeHead(200, { ...passedOn(reply.header), "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
        res.end(text);
      },
      (error: unknown) => answerError(res, error),
    );
    return true;
  };
}

/**
 * What makes a request path unfit for a route, or undefined: a "." or ".."
 * segment (also percent-encoded), which a client or proxy in front may
 * resolve differently from the literal match here (path confusion), and a
 * "%" that does not start a percent-encoded byte.
 */
function pathProblem(path: string): string | undefined {
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) return 'the path has a "%" that is not followed by two hex digits; percent-encode it as %25';
  for (const segment of path.split("/")) {
    if (/^(\.|%2e){1,2}$/i.test(segment)) return 'the path has a "." or ".." segment; REST paths are matched as sent, so resolve it before sending (ids cannot be "." or "..")';
  }
  return undefined;
}

/** A reply message (binary) in JSON: the whole message, or its `responseBody` field. */
function replyJson(method: DescMethod, message: Uint8Array, responseBody: string): JsonValue {
  const json = toJson(method.output, fromBinary(method.output, message));
  return responseBody === "" ? json : responseField(method, json, responseBody);
}

// How long a stream's answer waits for its first message before it sends its headers: long enough
// for a failure before any user code (validation, a bad argument) to get its own HTTP status, short
// enough that a stream with nothing to send yet (a view streaming its updates) shows it is open.
const firstMessageWaitMs = 250;

/**
 * Answers a server-streaming call as newline-delimited JSON. An error before
 * the first message (within its first moments) is answered like a unary
 * call's (its HTTP status, the Google status body); after it, as a last
 * `{"error": …}` line.
 */
async function answerStream(res: Res, started: Promise<StreamReply>, toJsonLine: (message: Uint8Array) => JsonValue): Promise<void> {
  // The handler answers (`started`) only once its first message or its end is there (connect-es waits for it).
  const firstStep = (async () => {
    const reply = await started;
    const messages = reply.messages[Symbol.asyncIterator]();
    return { reply, messages, first: await messages.next() };
  })();
  let early: Awaited<typeof firstStep> | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    early = await Promise.race([firstStep, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), firstMessageWaitMs)))]);
  } catch (error) {
    return answerError(res, error);
  } finally {
    clearTimeout(timer);
  }
  // Headers the handler set reach the client when its first message came in time; a later one's are too late.
  res.writeHead(200, { ...(early === undefined ? {} : passedOn(early.reply.header)), "content-type": "application/x-ndjson" });
  (res as { flushHeaders?: () => void }).flushHeaders?.();
  let messages: AsyncIterator<Uint8Array> | undefined;
  try {
    const step = early ?? (await firstStep);
    messages = step.messages;
    for (let next = step.first; !next.done; next = await messages.next()) {
      if (res.destroyed) return void messages.return?.(); // the client went away
      if (!writeLine(res, { result: toJsonLine(next.value) })) await drained(res);
    }
  } catch (error) {
    if (res.destroyed) return;
    writeLine(res, { error: restErrorResponse(error).body });
  }
  res.end();
}

/** Writes one line of newline-delimited JSON; false when `res` wants a drain first. */
function writeLine(res: Res, line: object): boolean {
  return (res as { write(chunk: string): boolean }).write(`${JSON.stringify(line)}\n`);
}

/** Resolves when `res` can take more, or is gone. */
function drained(res: Res): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** The reply's `response_body` field in JSON; an unset field is its default (an empty object, list or the zero value). */
function responseField(method: DescMethod, json: JsonValue, name: string): JsonValue {
  const field = method.output.fields.find((f) => f.name === name)!;
  const value = (json as JsonObject)[field.jsonName];
  if (value !== undefined) return value;
  if (field.fieldKind === "list") return [];
  if (field.fieldKind === "map" || field.fieldKind === "message") return field.fieldKind === "message" && field.message.typeName.startsWith("google.protobuf.") ? null : {};
  const defaults = toJson(method.output, fromBinary(method.output, new Uint8Array()), { alwaysEmitImplicit: true }) as JsonObject;
  return defaults[field.jsonName] ?? null;
}

/** Response headers the handler set (custom ones), without Connect's own. */
function passedOn(header: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  header.forEach((value, name) => {
    if (name.startsWith("content-") || name === "accept-encoding" || name.startsWith("connect-")) return;
    out[name.startsWith("trailer-") ? name.slice("trailer-".length) : name] = value;
  });
  return out;
}

/**
 * The JSON body, or undefined when there is none; 415 for a body that is
 * not JSON, 413 past `maxBytes`, 400 for text that is not JSON or not UTF-8.
 */
async function readJsonBody(req: Req, res: Res, maxBytes: number, rpc: string): Promise<JsonValue | undefined> {
  const declared = req.headers["content-length"];
  const type = req.headers["content-type"];
  const encoding = req.headers["content-encoding"];
  const tooLarge = () => httpError(`${rpc}: the request body is larger than ${maxBytes} bytes (ORRERY_MAX_MESSAGE_BYTES)`, Code.ResourceExhausted, 413);
  if (declared !== undefined && Number(declared) > maxBytes) {
    closeAfterAnswer(req, res);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      closeAfterAnswer(req, res);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined; // no body: a POST without one is fine where the rule's fields are optional
  if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
    throw httpError(`${rpc}: unsupported content-type ${JSON.stringify(type.slice(0, 100))}; send the body as application/json`, Code.InvalidArgument, 415, { "accept-post": "application/json" });
  }
  if (encoding !== undefined && encoding !== "identity") {
    throw httpError(`${rpc}: unsupported content-encoding ${JSON.stringify(encoding.slice(0, 100))}; send the body uncompressed`, Code.InvalidArgument, 415);
  }
  let text: string;
  try {
    text = fatalUtf8.decode(Buffer.concat(chunks));
  } catch {
    throw new ConnectError(`${rpc}: the request body is not valid UTF-8`, Code.InvalidArgument);
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new ConnectError(`${rpc}: the request body is not valid JSON: ${(error as Error).message}`, Code.InvalidArgument);
  }
}

/** After answering early, an HTTP/1.1 connection with unread body bytes cannot carry another request. */
function closeAfterAnswer(req: Req, res: Res): void {
  if (!("stream" in req) && !res.headersSent) res.setHeader("connection", "close");
}

function answerError(res: Res, error: unknown): void {
  if (res.headersSent || res.destroyed) return void res.destroy();
  const { status, body } = restErrorResponse(error);
  const own = error instanceof ConnectError ? httpAnswers.get(error) : undefined;
  const metadata: Record<string, string> = {};
  if (error instanceof ConnectError && own === undefined) {
    error.metadata.forEach((value, name) => {
      if (!name.startsWith("content-") && !name.startsWith("connect-") && name !== "accept-encoding") metadata[name] = value;
    });
  }
  const text = JSON.stringify(body);
  res.writeHead(own?.status ?? status, {
    ...metadata, ...own?.headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}
