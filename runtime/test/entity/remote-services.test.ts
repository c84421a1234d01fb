// Calls from a handler to a component of another service of the project, found
// through ORRERY_SERVICE_<NAME>_URL: two real services on their own ports and
// databases, a real HTTP/2 client.
import assert from "node:assert/strict";
import type { Message } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { exportSPKI, generateKeyPair } from "jose";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createService } from "../../src/index.js";
import type { OrreryService } from "../../src/index.js";
import { loadConfig } from "../../src/config.js";
import { failure } from "../support/call-failure.js";
import { Note } from "../gen/authtest/v1/notes_orrery.js";
import { NoteSchema, NoteService } from "../gen/authtest/v1/notes_pb.js";
import { Counter, counterHandlers, CounterService, field } from "../../../sdk/test/fixtures.js";
import type { CounterHandlers } from "../../../sdk/test/fixtures.js";
import { cart } from "../../../samples/shopping-cart/src/cart.js";
import { ShoppingCartService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";
import { ProductPopularityService } from "../../../samples/shopping-cart/src/gen/shop/cart/v1/popularity_pb.js";

type CallOptions = { headers?: Record<string, string>; timeoutMs?: number };
interface CounterClient {
  add(request: { counterId: string; amount: number }, options?: CallOptions): Promise<Message>;
}

describe("calls to another service of the project", function () {
  this.timeout(30_000);
  let shop: OrreryService | undefined;
  let counters: OrreryService;
  let client: CounterClient;

  /** Counter "cart-<id>" adds `amount` pens to cart <id> of the shop service, "pop" asks a service no one serves. */
  const handlers: CounterHandlers = {
    ...counterHandlers,
    async add(state, command, ctx) {
      const amount = field(command, "amount") as number;
      if (ctx.entityId.startsWith("cart-")) {
        const reply = await ctx.components.forService(ShoppingCartService).addItem({ cartId: ctx.entityId.slice(5), productId: "pen", name: "Pen", quantity: amount });
        return ctx.reply({ ...state, value: reply.items.reduce((n, i) => n + i.quantity, 0) } as never);
      }
      if (ctx.entityId === "pop") {
        await ctx.components.forService(ProductPopularityService).getPopularity({ productId: "pen" });
      }
      return counterHandlers.add(state, command, ctx);
    },
  };

  before(async () => {
    shop = createService({ components: [cart], serviceName: "shop", port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent", handleSignals: false });
    const { url: shopUrl } = await shop.start();
    counters = createService({
      components: [Counter.implement(handlers)], serviceName: "counters", serviceUrls: new Map([["shop", shopUrl]]),
      port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent", handleSignals: false,
    });
    const { url } = await counters.start();
    client = createClient(CounterService, createConnectTransport({ baseUrl: url, httpVersion: "2" })) as unknown as CounterClient;
  });
  after(async () => {
    await counters?.stop();
    await shop?.stop();
  });

  it("says what it serves at GET /orrery/services", async () => {
    const answer = await (await fetch(`${shop!.url}/orrery/services`)).json();
    assert.deepEqual(answer, { name: "shop", services: ["shop.cart.v1.ShoppingCartService"] });
  });

  it("calls the component in the service that serves it and gets its reply", async () => {
    assert.equal(field(await client.add({ counterId: "cart-c1", amount: 2 }), "value"), 2);
    assert.equal(field(await client.add({ counterId: "cart-c1", amount: 3 }), "value"), 5);
    const shopClient = createClient(ShoppingCartService, createConnectTransport({ baseUrl: shop!.url, httpVersion: "2" }));
    assert.equal((await shopClient.getCart({ cartId: "c1" })).items[0]?.quantity, 5, "the shop service applied both");
  });

  it("passes the other service's error on with its code", async () => {
    const error = await failure(client.add({ counterId: "cart-c2", amount: 0 }));
    assert.equal(error.code, Code.InvalidArgument, error.message);
    // The cart's validation rules reject quantity 0, and their message comes through unchanged.
    assert.match(error.rawMessage, /^CounterService\.Add for counter "cart-c2": ShoppingCartService\.AddItem: the request breaks its validation rules: quantity: must be greater than 0 \[int32\.gt\]$/);
  });

  it("answers UNIMPLEMENTED, naming the proto service and the fix, when no service of the project serves it", async () => {
    const error = await failure(client.add({ counterId: "pop", amount: 1 }));
    assert.equal(error.code, Code.Unimplemented, error.message);
    assert.match(error.rawMessage, /no service of the project serves shop\.cart\.v1\.ProductPopularityService: "shop" does not; add it to a service, or set ORRERY_SERVICE_<NAME>_URL/);
  });

  it("answers UNAVAILABLE without the other service's address when it is down", async () => {
    const port = new URL(shop!.url).port;
    await shop!.stop();
    shop = undefined;
    const error = await failure(client.add({ counterId: "cart-c3", amount: 1 }));
    assert.equal(error.code, Code.Unavailable, error.message);
    assert.match(error.rawMessage, /the service "shop" could not be reached; retry later/);
    assert.doesNotMatch(error.rawMessage, new RegExp(`127\\.0\\.0\\.1|:${port}`));
  });

  it("reads ORRERY_SERVICE_<NAME>_URL settings, and refuses one that is not a URL in one line", () => {
    const config = loadConfig({ ORRERY_SERVICE_WALLET_URL: "http://localhost:9001", ORRERY_SERVICE_FUNDS_TRANSFER_URL: "http://10.0.0.7:9002", ORRERY_SERVICE_NAME: "shop" });
    assert.deepEqual([...config.serviceUrls], [["wallet", "http://localhost:9001"], ["funds-transfer", "http://10.0.0.7:9002"]]);
    assert.equal(config.serviceName, "shop");
    assert.throws(() => loadConfig({ ORRERY_SERVICE_WALLET_URL: "localhost:9001" }), /ORRERY_SERVICE_WALLET_URL="localhost:9001" is not an http:\/\/ or https:\/\/ URL/);
  });
});

describe("calls to another service whose methods admit only services of the project", function () {
  this.timeout(30_000);
  const secret = "a-secret-of-the-project-of-32-chars";
  const services: OrreryService[] = [];
  /** Notes, whose Audit admits only "service:auditor" and the cluster, and whose Purge denies the internet. */
  const notes = Note.implement({
    read: (note, cmd, ctx) => ctx.reply(create(NoteSchema, { id: cmd.id, text: note.text })),
    write: (_note, cmd, ctx) => ctx.updateState(create(NoteSchema, { id: cmd.id, text: cmd.text })).thenReply((n) => n),
    purge: (_note, cmd, ctx) => ctx.deleteEntity().thenReply(() => create(NoteSchema, { id: cmd.id, source: ctx.principal.source })),
    audit: (note, cmd, ctx) => ctx.reply(create(NoteSchema, { id: cmd.id, text: note.text, source: ctx.principal.source, subject: ctx.principal.subject ?? "" })),
    mine: (note, cmd, ctx) => ctx.reply(create(NoteSchema, { id: cmd.id })),
    limited: (_note, cmd, ctx) => ctx.reply(create(NoteSchema, { id: cmd.id })),
  });
  /** Counter "audit" audits note n1 in the notes service and replies with the length of what the audit saw as its caller. */
  const auditing: CounterHandlers = {
    ...counterHandlers,
    async add(state, command, ctx) {
      const seen = await ctx.components.forService(NoteService).audit({ id: "n1" });
      return ctx.reply({ ...state, value: seen.subject === "" ? seen.source.length : -1 } as never);
    },
  };

  async function start(options: Parameters<typeof createService>[0]): Promise<OrreryService> {
    const service = createService({ port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent", handleSignals: false, ...options });
    await service.start();
    services.push(service);
    return service;
  }
  after(async () => void (await Promise.allSettled(services.map((s) => s.stop()))));

  it("signs them as service:<ORRERY_SERVICE_NAME> with the cluster secret, so the other service admits them; unsigned ones are the internet", async () => {
    // Its Write rpc requires a token, so it needs a key to check them with, unused here.
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    const notesService = await start({ components: [notes], serviceName: "notes", clusterSecret: secret, jwtIssuers: ["https://issuer.test/"], jwtPublicKey: await exportSPKI(publicKey) });
    const urls = new Map([["notes", notesService.url]]);
    const auditor = await start({ components: [Counter.implement(auditing)], serviceName: "auditor", clusterSecret: secret, serviceUrls: urls });
    const stranger = await start({ components: [Counter.implement(auditing)], serviceName: "stranger", serviceUrls: urls });
    const clientOf = (s: OrreryService) => createClient(CounterService, createConnectTransport({ baseUrl: s.url, httpVersion: "2" })) as unknown as CounterClient;
    // The audit's handler saw the signed service as its caller: "service:auditor" is 15 characters.
    assert.equal(field(await clientOf(auditor).add({ counterId: "a", amount: 1 }), "value"), "service:auditor".length);
    const refused = await failure(clientOf(stranger).add({ counterId: "a", amount: 1 }));
    assert.equal(refused.code, Code.PermissionDenied, refused.message);
  });
});
