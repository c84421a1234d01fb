import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { trace } from "@opentelemetry/api";
import pino from "pino";
import { createService } from "../../src/index.js";
import { createObservability } from "../../src/observability/index.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { ExportTraceServiceRequestSchema, Span_SpanKind, Status_StatusCode } from "../gen/otlp/v1/trace_pb.js";
import type { KeyValue, Span } from "../gen/otlp/v1/trace_pb.js";

/** An OTLP/HTTP collector in the test process: decodes every request's body into its spans. */
async function startCollector() {
  const requests: { path: string | undefined; contentType: string | undefined }[] = [];
  const spans: Span[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ path: req.url, contentType: req.headers["content-type"] });
      const body = fromBinary(ExportTraceServiceRequestSchema, Buffer.concat(chunks));
      for (const resource of body.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  return { endpoint, requests, spans, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function attributes(span: Span): Record<string, string | number | boolean | undefined> {
  const entries = span.attributes.map((kv: KeyValue) => {
    const v = kv.value?.value;
    return [kv.key, v?.case === "intValue" ? Number(v.value) : v?.case === "bytesValue" ? hex(v.value) : v?.value] as const;
  });
  return Object.fromEntries(entries);
}

const addItem = "shop.cart.v1.ShoppingCartService/AddItem";
const callerTraceId = "0af7651916cd43dd8448eb211c80319c";
const callerSpanId = "b7ad6b7169203331";

/** POSTs an AddItem over the Connect protocol (JSON) as a caller in trace `callerTraceId`. */
async function postAddItem(url: string, body: string, callerSpan = callerSpanId): Promise<number> {
  const reply = await fetch(`${url}/${addItem}`, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: `00-${callerTraceId}-${callerSpan}-01` },
    body,
  });
  await reply.text();
  return reply.status;
}

describe("traces", () => {
  describe("with an OTLP endpoint", () => {
    let collector: Awaited<ReturnType<typeof startCollector>>;
    let spans: Span[];
    // Caller span ids of the successful calls, one per cart.
    const carts = Array.from({ length: 8 }, (_, i) => ({ cartId: `t${i}`, callerSpan: `00000000000000${(i + 16).toString(16)}` }));

    before(async () => {
      collector = await startCollector();
      const service = createService({ components: [cart], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "warn", tracesEndpoint: collector.endpoint });
      try {
        const { url } = await service.start();
        const connect = createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
        // The carts in memory first (reads commit nothing), then concurrent calls on one HTTP/2 connection:
        // their commands reach the journal in one turn of the loop and share a commit.
        await Promise.all(carts.map(({ cartId }) => connect.getCart({ cartId })));
        await Promise.all(carts.map(({ cartId, callerSpan }) =>
          connect.addItem({ cartId, productId: "p", name: "P", quantity: 1 }, { headers: { traceparent: `00-${callerTraceId}-${callerSpan}-01` } })));
        // Its validation rules reject it (a user error); then one the server cannot even decode.
        assert.equal(await postAddItem(url, JSON.stringify({ cartId: "bad", productId: "p", name: "P", quantity: 0 }), "00000000000000b1"), 400);
        assert.equal(await postAddItem(url, "{not json", "00000000000000b2"), 400);
        // The same user error over gRPC, whose conventions leave the status of a caller's mistake unset.
        const client = createClient(ShoppingCartService, createGrpcTransport({ baseUrl: url }));
        await assert.rejects(
          client.addItem({ cartId: "bad", productId: "p", name: "P", quantity: 0 }, { headers: { traceparent: `00-${callerTraceId}-00000000000000b3-01` } }),
          (e: unknown) => ConnectError.from(e).code === Code.InvalidArgument,
        );
      } finally {
        await service.stop(); // exports what is buffered
      }
      ({ spans } = collector);
    });

    after(() => collector.close());

    const byId = (id: Uint8Array) => spans.find((s) => hex(s.spanId) === hex(id));
    const serverSpanOf = (callerSpan: string) => {
      const found = spans.filter((s) => hex(s.parentSpanId) === callerSpan);
      assert.equal(found.length, 1, `one span has the caller's span ${callerSpan} as its parent`);
      return found[0]!;
    };
    const childrenOf = (span: Span) => spans.filter((s) => hex(s.parentSpanId) === hex(span.spanId));

    it("posts http/protobuf to the configured path", () => {
      assert.ok(collector.requests.length >= 1);
      for (const r of collector.requests) {
        assert.equal(r.path, "/v1/traces");
        assert.equal(r.contentType, "application/x-protobuf");
      }
    });

    it("continues the caller's trace in a SERVER span with the rpc attributes", () => {
      for (const { callerSpan } of carts) {
        const server = serverSpanOf(callerSpan);
        assert.equal(hex(server.traceId), callerTraceId);
        assert.equal(server.name, addItem);
        assert.equal(server.kind, Span_SpanKind.SERVER);
        assert.deepEqual(
          { ...attributes(server) },
          { "rpc.system": "connect_rpc", "rpc.service": "shop.cart.v1.ShoppingCartService", "rpc.method": "AddItem", "orrery.protocol": "connect" },
        );
        assert.equal(server.status?.code ?? Status_StatusCode.UNSET, Status_StatusCode.UNSET);
        assert.ok(server.endTimeUnixNano >= server.startTimeUnixNano);
      }
    });

    it("handles the command in an INTERNAL span, a child of the server span", () => {
      for (const { cartId, callerSpan } of carts) {
        const children = childrenOf(serverSpanOf(callerSpan));
        assert.equal(children.length, 1);
        const command = children[0]!;
        assert.equal(command.name, "shopping-cart AddItem");
        assert.equal(command.kind, Span_SpanKind.INTERNAL);
        assert.equal(hex(command.traceId), callerTraceId);
        assert.deepEqual(attributes(command), { "orrery.entity.type": "shopping-cart", "orrery.entity.id": cartId, "rpc.method": "AddItem" });
      }
    });

    it("leads every command to the journal commit that made its events durable, and each commit to every command it served", () => {
      const commands = carts.map(({ callerSpan }) => childrenOf(serverSpanOf(callerSpan))[0]!);
      const commits = spans.filter((s) => s.name === "orrery.journal.commit" && hex(s.traceId) === callerTraceId);
      assert.ok(commits.length >= 1 && commits.length <= commands.length);
      let served = 0;
      for (const commit of commits) {
        assert.equal(commit.kind, Span_SpanKind.CLIENT);
        const parent = byId(commit.parentSpanId);
        assert.ok(parent !== undefined && commands.includes(parent), "a commit is the child of the first command of its batch");
        assert.equal(hex(commit.traceId), hex(parent.traceId));
        const linked = commit.links.map((link) => byId(link.spanId));
        for (const [i, other] of linked.entries()) {
          assert.ok(other !== undefined && commands.includes(other), "a commit links to the other commands of its batch");
          assert.equal(hex(commit.links[i]!.traceId), hex(other.traceId));
          assert.ok(other.links.some((back) => hex(back.spanId) === hex(commit.spanId)), "and each of them links back");
        }
        const appends = attributes(commit)["orrery.journal.appends"];
        assert.equal(appends, 1 + linked.length);
        assert.equal(attributes(commit)["orrery.journal.events"], appends);
        served += 1 + linked.length;
      }
      assert.equal(served, commands.length, "every command is served by exactly one commit");
      assert.ok(commits.some((c) => c.links.length > 0), "the concurrent calls share a group commit");
    });

    it("marks a Connect call answered with an error as failed, with the Connect code, and runs no command for an invalid request", () => {
      for (const callerSpan of ["00000000000000b1", "00000000000000b2"]) {
        const server = serverSpanOf(callerSpan);
        assert.equal(server.kind, Span_SpanKind.SERVER);
        assert.equal(attributes(server)["rpc.connect_rpc.error_code"], "invalid_argument");
        assert.equal(server.status?.code, Status_StatusCode.ERROR);
      }
      assert.match(serverSpanOf("00000000000000b1").status!.message, /quantity: must be greater than 0 \[int32\.gt\]/);
      // Its validation rules rejected it before the entity saw it: no command span, no commit.
      assert.deepEqual(childrenOf(serverSpanOf("00000000000000b1")), []);
    });

    it("records a gRPC call's status code, and leaves a caller's mistake unset as gRPC's conventions say", () => {
      const server = serverSpanOf("00000000000000b3");
      assert.equal(hex(server.traceId), callerTraceId);
      assert.equal(attributes(server)["rpc.system"], "grpc");
      assert.equal(attributes(server)["rpc.grpc.status_code"], Code.InvalidArgument);
      assert.equal(server.status?.code ?? Status_StatusCode.UNSET, Status_StatusCode.UNSET);
    });
  });

  describe("without an endpoint", () => {
    it("exports nothing and sets no tracer provider, even when the caller sends a traceparent", async () => {
      const collector = await startCollector();
      const service = createService({ components: [cart], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "warn" });
      try {
        const { url } = await service.start();
        assert.equal(await postAddItem(url, JSON.stringify({ cartId: "n1", productId: "p", name: "P", quantity: 1 })), 200);
        // The API's global provider still delegates to its no-op: the SDK was never started.
        const provider = trace.getTracerProvider() as { getDelegate?: () => object };
        assert.equal(provider.getDelegate?.().constructor.name, "NoopTracerProvider");
      } finally {
        await service.stop();
        await collector.close();
      }
      assert.equal(collector.requests.length, 0);
    });

    it("gives the hot path no tracing hook at all", async () => {
      const logger = pino({ level: "warn" });
      const activeEntities = () => new Map<string, number>();
      const off = await createObservability({ config: { metrics: false, tracesEndpoint: undefined }, logger, serviceName: "t", activeEntities });
      assert.deepEqual([off.calls, off.entities, off.journal, off.routes], [undefined, undefined, undefined, undefined]);
      const metricsOnly = await createObservability({ config: { metrics: true, tracesEndpoint: undefined }, logger, serviceName: "t", activeEntities });
      assert.equal(metricsOnly.entities?.command, undefined);
    });
  });
});
