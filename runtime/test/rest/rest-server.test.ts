import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { ConnectRouter } from "@connectrpc/connect";
import { createRestHandler, createRestRoutes } from "../../src/rest/index.js";
import { createConnectHandler, createHttpServer, createReadiness } from "../../src/server/index.js";
import type { HttpServer } from "../../src/server/index.js";
import { LibraryService } from "../gen/resttest/v1/resttest_pb.js";

const echo = <T>(req: T) => req;
function registerLibrary(router: ConnectRouter): void {
  router.service(LibraryService, {
    echo, getBook: echo, getFile: echo, cancel: echo, updateBook: echo, getShelf: echo, getTags: echo,
    fail(req) {
      throw new ConnectError(`failing with code ${req.count} as asked`, req.count as Code);
    },
    async *listBooks(req) {
      for (let i = 0; i < req.count; i++) yield { bookId: `${req.name}-${i}`, title: `T${i}` };
      if (req.flag) throw new ConnectError(`shelf ${req.name} fell over after ${req.count} books`, Code.Aborted);
    },
  });
}

/** A request and what the REST route answers: status and JSON body (or a part of it). */
interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** The whole JSON answer, or a function that checks it. */
  readonly json?: unknown;
  readonly check?: (json: Record<string, unknown>, headers: Headers) => void;
}

const json = { "content-type": "application/json" };
const googleError = (code: Code, message: RegExp) => (body: Record<string, unknown>) => {
  assert.equal(body["code"], code);
  assert.match(String(body["message"]), message);
  assert.deepEqual(body["details"], []);
};

const cases: Case[] = [
  // Path variables.
  { name: "a single-segment variable", method: "GET", path: "/v1/echo/hello", status: 200, json: { name: "hello" } },
  { name: "a percent-encoded single-segment variable, fully decoded", method: "GET", path: "/v1/echo/a%2Fb%20c", status: 200, json: { name: "a/b c" } },
  { name: "nested fields in an additional binding, converted to their types", method: "GET", path: "/v1/shelves/s1/floors/3/echo", status: 200, json: { shelf: { name: "s1", floor: 3 } } },
  { name: "{name=shelves/*/books/*}", method: "GET", path: "/v1/shelves/s1/books/b2", status: 200, json: { name: "shelves/s1/books/b2" } },
  { name: "{name=shelves/*/books/*} with too few segments is no route", method: "GET", path: "/v1/shelves/s1/books", status: 404, check: googleError(Code.NotFound, /no REST route matches GET \/v1\/shelves\/s1\/books/) },
  { name: "** over several segments, keeping an encoded slash", method: "GET", path: "/v1/files/a/b%2Fc/d.txt", status: 200, json: { name: "a/b%2Fc/d.txt" } },
  { name: "a custom verb and a nested path variable", method: "POST", path: "/v1/books/b7:cancel", status: 200, json: { book: { bookId: "b7" } } },
  { name: "a custom verb with query parameters (no body rule)", method: "POST", path: "/v1/books/b7:cancel?count=2", status: 200, json: { count: 2, book: { bookId: "b7" } } },
  // Bodies.
  { name: 'body "*": every field but the path\'s', method: "POST", path: "/v1/echo", headers: json, body: '{"name":"n","big":"9007199254740993","color":"COLOR_RED","labels":{"a":"b"}}', status: 200, json: { name: "n", big: "9007199254740993", color: "COLOR_RED", labels: { a: "b" } } },
  { name: 'body "*" with an empty body', method: "POST", path: "/v1/echo", status: 200, json: {} },
  { name: 'body "*" refuses query parameters', method: "POST", path: "/v1/echo?count=1", headers: json, body: "{}", status: 400, check: googleError(Code.InvalidArgument, /query parameter count: this route takes every field from the body/) },
  { name: "a named body field, with the rest from path and query", method: "PATCH", path: "/v1/shelves/s1/book?count=4", headers: json, body: '{"bookId":"b1","title":"T","tags":["x"]}', status: 200, json: { name: "s1", count: 4, book: { bookId: "b1", title: "T", tags: ["x"] } } },
  { name: "a body on a route without a body rule", method: "POST", path: "/v1/books/b1:cancel", headers: json, body: '{"name":"x"}', status: 400, check: googleError(Code.InvalidArgument, /this route takes no body/) },
  // Query parameters.
  {
    name: "query parameters: nested, repeated, enums by name, int64 as string, well-known types",
    method: "GET",
    path: "/v1/echo/q?shelf.floor=2&tags=a&tags=b&numbers=1&numbers=2&color=COLOR_GREEN&colors=COLOR_RED&colors=2&big=-9007199254740993&ubig=18446744073709551615&flag=true&ratio=0.5&blob=aGk&at=2024-01-02T03:04:05Z&wait=1.5s&mask=name,shelf.floor&maybe=7&nickname=nick",
    status: 200,
    json: {
      name: "q", big: "-9007199254740993", ubig: "18446744073709551615", flag: true, ratio: 0.5, blob: "aGk=", color: "COLOR_GREEN",
      tags: ["a", "b"], numbers: [1, 2], colors: ["COLOR_RED", "COLOR_GREEN"], shelf: { floor: 2 },
      at: "2024-01-02T03:04:05Z", wait: "1.500s", mask: "name,shelf.floor", maybe: 7, nickname: "nick",
    },
  },
  { name: "an unknown enum name, naming the parameter", method: "GET", path: "/v1/echo/q?color=PURPLE", status: 400, check: googleError(Code.InvalidArgument, /query parameter color: resttest\.v1\.Color has no value "PURPLE"/) },
  { name: "an unknown query parameter", method: "GET", path: "/v1/echo/q?nope=1", status: 400, check: googleError(Code.InvalidArgument, /query parameter nope: resttest\.v1\.EverythingRequest has no field "nope"/) },
  { name: "a query parameter that the path already sets", method: "GET", path: "/v1/echo/q?name=other", status: 400, check: googleError(Code.InvalidArgument, /name is already set by the path/) },
  { name: "a non-number for an int32", method: "GET", path: "/v1/echo/q?count=ten", status: 400, check: googleError(Code.InvalidArgument, /cannot read the request as resttest\.v1\.EverythingRequest/) },
  // Replies.
  { name: "response_body: one field of the reply", method: "GET", path: "/v1/shelves/s9/shelf?shelf.name=inner&shelf.floor=1", status: 200, json: { name: "inner", floor: 1 } },
  { name: "response_body of an unset message field", method: "GET", path: "/v1/shelves/s9/shelf", status: 200, json: {} },
  { name: "response_body of a repeated field", method: "GET", path: "/v1/tags/t?tags=x&tags=y", status: 200, json: ["x", "y"] },
  { name: "response_body of an empty repeated field", method: "GET", path: "/v1/tags/t", status: 200, json: [] },
  // Errors.
  { name: "a handler's NOT_FOUND as 404 in the Google status shape", method: "GET", path: "/v1/fail/5", status: 404, json: { code: 5, message: "failing with code 5 as asked", details: [] } },
  { name: "FAILED_PRECONDITION as 400", method: "GET", path: "/v1/fail/9", status: 400, check: googleError(Code.FailedPrecondition, /code 9/) },
  { name: "UNAVAILABLE as 503", method: "GET", path: "/v1/fail/14", status: 503, check: googleError(Code.Unavailable, /code 14/) },
  { name: "PERMISSION_DENIED as 403", method: "GET", path: "/v1/fail/7", status: 403, check: googleError(Code.PermissionDenied, /code 7/) },
  { name: "a path with another method: 405 with Allow", method: "DELETE", path: "/v1/echo/x", status: 405, check: (body, headers) => { googleError(Code.Unimplemented, /DELETE is not served at \/v1\/echo\/x; it accepts GET/)(body); assert.equal(headers.get("allow"), "GET"); } },
  { name: "no route: 404 in JSON", method: "GET", path: "/v2/nothing", status: 404, check: googleError(Code.NotFound, /no REST route matches GET \/v2\/nothing/) },
  { name: "a singular query parameter given twice", method: "GET", path: "/v1/echo/x?count=1&count=2", status: 400, check: googleError(Code.InvalidArgument, /query parameter count is given more than once, but count is not a repeated field/) },
  { name: "malformed JSON", method: "POST", path: "/v1/echo", headers: json, body: '{"name":', status: 400, check: googleError(Code.InvalidArgument, /resttest\.v1\.LibraryService\.Echo: the request body is not valid JSON/) },
  { name: "JSON of the wrong type", method: "POST", path: "/v1/echo", headers: json, body: '{"count":"many"}', status: 400, check: googleError(Code.InvalidArgument, /cannot read the request as resttest\.v1\.EverythingRequest/) },
  { name: "a body that is not an object", method: "POST", path: "/v1/echo", headers: json, body: "[1]", status: 400, check: googleError(Code.InvalidArgument, /the body must be a JSON object/) },
  { name: "invalid UTF-8", method: "POST", path: "/v1/echo", headers: json, body: '{"name":"\xff"}', status: 400, check: googleError(Code.InvalidArgument, /not valid UTF-8/) },
  { name: "a body that is not JSON: 415", method: "POST", path: "/v1/echo", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=b", status: 415, check: googleError(Code.InvalidArgument, /unsupported content-type "application\/x-www-form-urlencoded"; send the body as application\/json/) },
  { name: "a body over the size limit: 413", method: "POST", path: "/v1/echo", headers: json, body: JSON.stringify({ name: "x".repeat(2048) }), status: 413, check: googleError(Code.ResourceExhausted, /larger than 1024 bytes/) },
];

describe("REST server", () => {
  let server: HttpServer;
  let base: string;
  before(async () => {
    const readiness = createReadiness("serving");
    const routes = createRestRoutes([LibraryService]);
    const handler = createConnectHandler({
      routes: registerLibrary,
      readiness,
      otherRoutes: (req, res) => {
        if (req.url !== "/metrics") return false;
        res.writeHead(200).end("metrics");
        return true;
      },
      methodRoutes: (dispatch) => createRestHandler({ routes, dispatch, maxBodyBytes: 1024 }),
    });
    server = createHttpServer({ handler });
    base = (await server.listen(0)).url;
  });
  after(() => server.close({ graceMs: 100 }));

  for (const c of cases) {
    it(`answers ${c.name}`, async () => {
      const body = c.body === undefined ? undefined : Buffer.from(c.body, "latin1");
      const res = await fetch(`${base}${c.path}`, { method: c.method, headers: c.headers, body });
      const text = await res.text();
      assert.equal(res.status, c.status, text);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (c.json !== undefined) assert.deepEqual(parsed, c.json);
      c.check?.(parsed, res.headers);
    });
  }

  /** A streamed answer: status, content type and its lines parsed. */
  async function streamed(path: string): Promise<{ status: number; type: string | null; lines: unknown[] }> {
    const res = await fetch(`${base}${path}`);
    const text = await res.text();
    return { status: res.status, type: res.headers.get("content-type"), lines: text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as unknown) };
  }

  it("streams a server-streaming rpc as newline-delimited JSON, one {result} per message", async () => {
    assert.deepEqual(await streamed("/v1/shelves/s1/books:stream?count=3"), {
      status: 200, type: "application/x-ndjson",
      lines: [{ result: { bookId: "s1-0", title: "T0" } }, { result: { bookId: "s1-1", title: "T1" } }, { result: { bookId: "s1-2", title: "T2" } }],
    });
    assert.deepEqual(await streamed("/v1/shelves/s1/books:stream"), { status: 200, type: "application/x-ndjson", lines: [] });
  });

  it("applies response_body to each streamed message", async () => {
    assert.deepEqual((await streamed("/v1/shelves/s1/titles:stream?count=2")).lines, [{ result: "T0" }, { result: "T1" }]);
  });

  it("ends a stream that fails midway with an {error} line in the Google status shape", async () => {
    assert.deepEqual(await streamed("/v1/shelves/s2/books:stream?count=2&flag=true"), {
      status: 200, type: "application/x-ndjson",
      lines: [
        { result: { bookId: "s2-0", title: "T0" } }, { result: { bookId: "s2-1", title: "T1" } },
        { error: { code: Code.Aborted, message: "shelf s2 fell over after 2 books", details: [] } },
      ],
    });
  });

  it("answers a stream that fails before its first message like a unary call: its HTTP status and a JSON error", async () => {
    const res = await fetch(`${base}/v1/shelves/s3/books:stream?flag=true`);
    assert.equal(res.status, 409);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await res.json(), { code: Code.Aborted, message: "shelf s3 fell over after 0 books", details: [] });
    const bad = await fetch(`${base}/v1/shelves/s3/books:stream?count=many`);
    assert.equal(bad.status, 400);
  });

  it("serves a valid OpenAPI document: templates with patterns as path parameters, nested fields, named bodies, response_body, streams", async () => {
    type Operation = { operationId: string; parameters?: Array<{ name: string; in: string; description?: string }>; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, { content: Record<string, { schema: unknown }> }> };
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, Operation>> };
    assert.deepEqual(await new Validator().validate(structuredClone(doc)), { valid: true });
    const getBook = doc.paths["/v1/{name}"]!["get"]!;
    assert.equal(getBook.operationId, "resttest.v1.LibraryService.GetBook");
    assert.deepEqual(getBook.parameters?.[0], { name: "name", in: "path", required: true, schema: { type: "string" }, description: "matches shelves/*/books/*" });
    assert.ok(getBook.parameters?.some((p) => p.name === "shelf.floor" && p.in === "query"), "nested query parameters");
    assert.equal(doc.paths["/v1/files/{name}"]!["get"]!.parameters?.[0]?.description, "matches **");
    assert.deepEqual(doc.paths["/v1/books/{book.book_id}:cancel"]!["post"]!.parameters?.[0]?.name, "book.book_id");
    assert.deepEqual(doc.paths["/v1/shelves/{name}/book"]!["patch"]!.requestBody?.content["application/json"]?.schema, { $ref: "#/components/schemas/resttest.v1.Book" });
    assert.deepEqual(doc.paths["/v1/tags/{name}"]!["get"]!.responses["200"]?.content["application/json"]?.schema, { type: "array", items: { type: "string" } });
    assert.deepEqual(Object.keys(doc.paths["/v1/shelves/{name}/books:stream"]!["get"]!.responses["200"]!.content), ["application/x-ndjson"]);
    assert.deepEqual(["/v1/echo", "/v1/echo/{name}"].map((p) => Object.values(doc.paths[p]!)[0]!.operationId), ["resttest.v1.LibraryService.Echo_2", "resttest.v1.LibraryService.Echo"]);
  });

  it("serves the same routes over h2c", async () => {
    const session = http2.connect(base);
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": "/v1/echo", "content-type": "application/json" });
        let status = 0;
        let body = "";
        stream.on("response", (headers) => (status = Number(headers[":status"])));
        stream.on("data", (chunk: Buffer) => (body += chunk.toString()));
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
        stream.end('{"name":"over h2"}');
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(JSON.parse(answer.body), { name: "over h2" });
    } finally {
      session.close();
    }
  });

  it("leaves /healthz, /readyz, /metrics and Connect procedures to their own handlers", async () => {
    assert.equal(await (await fetch(`${base}/healthz`)).text(), "ok\n");
    assert.equal(await (await fetch(`${base}/readyz`)).text(), "serving\n");
    assert.equal(await (await fetch(`${base}/metrics`)).text(), "metrics");
    const connect = await fetch(`${base}/resttest.v1.LibraryService/Echo`, { method: "POST", headers: json, body: '{"name":"rpc"}' });
    assert.deepEqual(await connect.json(), { name: "rpc" });
    const unknown = await fetch(`${base}/resttest.v1.LibraryService/Nope`, { method: "POST", headers: json, body: "{}" });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, "unimplemented");
  });

  it("takes a connect-timeout-ms deadline, as a Connect call does", async () => {
    const res = await fetch(`${base}/v1/echo/x`, { headers: { "connect-timeout-ms": "abc" } });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /timeout/i);
  });

  // fetch resolves dot segments (even %2E) before sending, as a proxy may: so the path confusion is shown over a raw connection.
  it("refuses a \".\" or \"..\" segment, raw or percent-encoded, instead of binding it to a variable", async () => {
    for (const segment of ["..", "%2e%2E", "."]) {
      const answer = await rawExchange(base, [`GET /v1/echo/${segment} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`]);
      assert.match(answer, /^HTTP\/1\.1 400 /, segment);
      assert.match(answer, /the path has a \\?"\.\\?" or \\?"\.\.\\?" segment/, segment);
    }
  });

  it("keeps serving on the same connection after malformed JSON, and closes one whose body was too large", async () => {
    const answers = await rawExchange(base, [
      'POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\n{"n',
      "GET /v1/echo/after HTTP/1.1\r\nhost: x\r\n\r\n",
    ]);
    assert.match(answers, /^HTTP\/1\.1 400 /);
    assert.match(answers, /HTTP\/1\.1 200 [\s\S]*\{"name":"after"\}/);
    const big = await rawExchange(base, [`POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n${"x".repeat(100)}`]);
    assert.match(big, /^HTTP\/1\.1 413 [\s\S]*connection: close/i);
  });
});

/** Writes `requests` on one HTTP/1.1 connection and returns everything read until the server closes or goes quiet. */
function rawExchange(base: string, requests: string[]): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let out = "";
    let quiet: NodeJS.Timeout | undefined;
    const done = () => {
      socket.destroy();
      resolve(out);
    };
    socket.on("data", (chunk) => {
      out += chunk.toString("latin1");
      clearTimeout(quiet);
      quiet = setTimeout(done, 300);
    });
    socket.on("end", done);
    socket.on("error", reject);
    socket.write(requests.join(""));
  });
}
