import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import type { CryptoKey, JWK } from "jose";
import { createService, signCallsAs } from "../../src/index.js";
import type { OrreryService, ServiceOptions } from "../../src/index.js";
import { failure } from "../support/call-failure.js";
import { Note } from "../gen/authtest/v1/notes_orrery.js";
import { NoteSchema, NoteService } from "../gen/authtest/v1/notes_pb.js";

const issuer = "https://issuer.test/";
const audience = "notes";
const secret = "s".repeat(32);

/** The fixture's handlers: each replies with who the handler saw. */
const notes = Note.implement({
  read: (note, cmd, ctx) => ctx.reply(create(NoteSchema, { id: cmd.id, text: note.text, source: ctx.principal.source, subject: ctx.principal.subject ?? "" })),
  write: (_note, cmd, ctx) => ctx.updateState(create(NoteSchema, { id: cmd.id, text: cmd.text })).thenReply(() => create(NoteSchema, { id: cmd.id, text: cmd.text, source: ctx.principal.source, subject: ctx.principal.subject ?? "" })),
  purge: (_note, cmd, ctx) => ctx.deleteEntity().thenReply(() => create(NoteSchema, { id: cmd.id, source: ctx.principal.source })),
  audit: (note, cmd, ctx) => ctx.reply(create(NoteSchema, { id: cmd.id, text: note.text, source: ctx.principal.source })),
  mine: (note, cmd, ctx) => ctx.reply(create(NoteSchema, { id: cmd.id, text: note.text, source: ctx.principal.source, subject: ctx.principal.subject ?? "" })),
  limited: (_note, cmd, ctx) => ctx.reply(create(NoteSchema, { id: cmd.id, source: ctx.principal.source })),
});

async function start(options: Partial<ServiceOptions>): Promise<OrreryService> {
  const service = createService({ components: [notes], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent", shutdownGraceMs: 500, ...options });
  await service.start();
  return service;
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("access checks", function () {
  this.timeout(30_000);
  let service: OrreryService;
  let key: CryptoKey;
  let otherKey: CryptoKey;
  let transports: Record<string, Transport>;
  const token = (claims: Record<string, unknown> = { scope: "notes:write" }, edit: (jwt: SignJWT) => SignJWT = (j) => j, signWith?: CryptoKey) =>
    edit(new SignJWT(claims).setProtectedHeader({ alg: "ES256" }).setIssuer(issuer).setAudience(audience).setSubject("alice").setIssuedAt().setExpirationTime("5m")).sign(signWith ?? key);

  before(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    key = pair.privateKey;
    otherKey = (await generateKeyPair("ES256")).privateKey;
    service = await start({ jwtIssuers: [issuer], jwtAudiences: [audience], jwtPublicKey: await exportSPKI(pair.publicKey), clusterSecret: secret, jwtClockSkewS: 5 });
    transports = {
      Connect: createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }),
      gRPC: createGrpcTransport({ baseUrl: service.url }),
      "gRPC-Web": createGrpcWebTransport({ baseUrl: service.url, httpVersion: "1.1" }),
    };
  });
  after(() => service.stop());

  const rest = (path: string, init: RequestInit = {}) => fetch(`${service.url}${path}`, init);

  describe("bearer tokens", () => {
    const badTokens: [string, () => Promise<string>, RegExp][] = [
      ["an expired token", () => token(undefined, (j) => j.setIssuedAt(Math.floor(Date.now() / 1000) - 600).setExpirationTime(Math.floor(Date.now() / 1000) - 60)), /has expired/],
      ["a token not valid yet", () => token(undefined, (j) => j.setNotBefore(Math.floor(Date.now() / 1000) + 120)), /not valid yet/],
      ["a token of another issuer", () => token(undefined, (j) => j.setIssuer("https://evil.test/")), /issuer is not accepted/],
      ["a token for another audience", () => token(undefined, (j) => j.setAudience("billing")), /not for this audience/],
      ["an unsigned token (alg none)", async () => new UnsecuredJWT({ scope: "notes:write" }).setIssuer(issuer).setAudience(audience).setSubject("alice").setExpirationTime("5m").encode(), /algorithm is not accepted|malformed/],
      ["a token signed with another key", () => token(undefined, undefined, otherKey), /signature does not verify/],
      ["a token that is not a JWT", async () => "abc.def", /malformed/],
    ];
    for (const [what, make, reason] of badTokens) {
      it(`refuses ${what} with UNAUTHENTICATED on every protocol, and 401 with WWW-Authenticate on REST`, async () => {
        const jwt = await make();
        for (const [name, transport] of Object.entries(transports)) {
          const error = await failure(createClient(NoteService, transport).write({ id: "n1", text: "x" }, bearer(jwt)));
          assert.equal(error.code, Code.Unauthenticated, name);
          assert.match(error.rawMessage, reason, name);
          assert.match(error.rawMessage, /^authtest\.v1\.NoteService\/Write: /, name);
          assert.match(error.metadata.get("www-authenticate") ?? "", /^Bearer realm="orrery", error="invalid_token", error_description="/, name);
        }
        const response = await rest("/notes/n1", { method: "POST", headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" }, body: JSON.stringify({ text: "x" }) });
        assert.equal(response.status, 401);
        assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer realm="orrery", error="invalid_token"/);
        const body = (await response.json()) as { code: number; message: string };
        assert.equal(body.code, Code.Unauthenticated);
        assert.match(body.message, reason);
      });
    }

    it("refuses a call without a token, with a challenge that names no error", async () => {
      for (const transport of Object.values(transports)) {
        const error = await failure(createClient(NoteService, transport).write({ id: "n1", text: "x" }));
        assert.equal(error.code, Code.Unauthenticated);
        assert.equal(error.rawMessage, "authtest.v1.NoteService/Write: this method requires a bearer token; send Authorization: Bearer <token>");
        assert.equal(error.metadata.get("www-authenticate"), 'Bearer realm="orrery"');
      }
      const response = await rest("/notes/n1", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="orrery"');
    });

    for (const header of ["Basic YWxpY2U6cHc=", "Bearer", "Bearer a b c"]) {
      it(`refuses a malformed Authorization header (${header})`, async () => {
        const error = await failure(createClient(NoteService, transports["Connect"]!).write({ id: "n1", text: "x" }, { headers: { authorization: header } }));
        assert.equal(error.code, Code.Unauthenticated);
        assert.match(error.metadata.get("www-authenticate") ?? "", /error="invalid_request"/);
        const response = await rest("/notes/n1", { method: "POST", headers: { authorization: header, "content-type": "application/json" }, body: "{}" });
        assert.equal(response.status, 401);
        assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_request"/);
      });
    }

    it("refuses a valid token without the required claim value with PERMISSION_DENIED", async () => {
      const jwt = await token({ scope: "notes:read" });
      const error = await failure(createClient(NoteService, transports["gRPC"]!).write({ id: "n1", text: "x" }, bearer(jwt)));
      assert.equal(error.code, Code.PermissionDenied);
      assert.match(error.rawMessage, /lacks the claim "scope"/);
      const response = await rest("/notes/n1", { method: "POST", headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" }, body: "{}" });
      assert.equal(response.status, 403);
      assert.match(response.headers.get("www-authenticate") ?? "", /error="insufficient_scope"/);
    });

    it("serves a valid token within the clock skew, and the handler sees its claims", async () => {
      const jwt = await token(undefined, (j) => j.setNotBefore(Math.floor(Date.now() / 1000) + 3));
      for (const transport of Object.values(transports)) {
        const reply = await createClient(NoteService, transport).write({ id: "n1", text: "hello" }, bearer(jwt));
        assert.deepEqual([reply.text, reply.source, reply.subject], ["hello", "internet", "alice"]);
      }
      const response = await rest("/notes/n1", { method: "POST", headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" }, body: JSON.stringify({ text: "via rest" }) });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { id: "n1", text: "via rest", source: "internet", subject: "alice" });
    });

    it("checks a token sent to a method that does not require one, and serves a call without one", async () => {
      const client = createClient(NoteService, transports["Connect"]!);
      assert.equal((await client.read({ id: "n1" })).subject, "");
      assert.equal((await client.read({ id: "n1" }, bearer(await token()))).subject, "alice");
      assert.equal((await failure(client.read({ id: "n1" }, bearer(await token(undefined, undefined, otherKey))))).code, Code.Unauthenticated);
    });
  });

  describe("ACLs", () => {
    it("refuses an internal-only method to the internet, with or without a token, whether the entity exists or not", async () => {
      const client = createClient(NoteService, transports["Connect"]!);
      await client.write({ id: "exists", text: "x" }, bearer(await token()));
      const errors = [await failure(client.purge({ id: "exists" })), await failure(client.purge({ id: "never-written" })), await failure(client.purge({ id: "exists" }, bearer(await token())))];
      for (const error of errors) assert.equal(error.code, Code.PermissionDenied);
      assert.equal(errors[0]!.rawMessage, errors[1]!.rawMessage);
      assert.equal(errors[0]!.rawMessage, "authtest.v1.NoteService/Purge: calls from the internet are not allowed by its acl");
      const response = await rest("/notes/exists:purge", { method: "POST" });
      assert.equal(response.status, 403);
      assert.equal(((await response.json()) as { code: number }).code, Code.PermissionDenied);
    });

    it("lets components of the service call an internal-only method in-process", async () => {
      const reply = await service.components.forService(NoteService).purge({ id: "exists" });
      assert.equal(reply.source, "component");
    });

    it("lets another service of the project and a node of the cluster in, when they sign their calls", async () => {
      const signedBy = (caller: string, key = secret) => createClient(NoteService, createConnectTransport({ baseUrl: service.url, httpVersion: "1.1", interceptors: [signCallsAs(caller, key)] }));
      assert.equal((await signedBy("service:auditor").purge({ id: "p1" })).source, "service:auditor");
      assert.equal((await signedBy("service:auditor").audit({ id: "p1" })).source, "service:auditor");
      assert.equal((await signedBy("cluster:node-2").audit({ id: "p1" })).source, "cluster");
      const other = await failure(signedBy("service:billing").audit({ id: "p1" }));
      assert.equal(other.code, Code.PermissionDenied);
      assert.equal(other.rawMessage, "authtest.v1.NoteService/Audit: calls from service:billing are not allowed by its acl");
      assert.equal((await failure(createClient(NoteService, transports["gRPC"]!).audit({ id: "p1" }))).code, Code.PermissionDenied);
      const forged = await failure(signedBy("service:auditor", "f".repeat(32)).audit({ id: "p1" }));
      assert.equal(forged.code, Code.Unauthenticated);
      assert.match(forged.rawMessage, /orrery-caller header is refused: its signature does not match/);
    });

    it("lets only callers with a valid token call a method that allows authenticated callers", async () => {
      const client = createClient(NoteService, transports["gRPC-Web"]!);
      assert.equal((await failure(client.mine({ id: "n1" }))).code, Code.PermissionDenied);
      assert.equal((await client.mine({ id: "n1" }, bearer(await token()))).subject, "alice");
    });
  });

  describe("rate limits", () => {
    it("answers RESOURCE_EXHAUSTED with Retry-After past a method's limit, on Connect and REST", async () => {
      const client = createClient(NoteService, transports["Connect"]!);
      await client.limited({ id: "r1" });
      await client.limited({ id: "r2" });
      const error = await failure(client.limited({ id: "r3" }));
      assert.equal(error.code, Code.ResourceExhausted);
      assert.match(error.rawMessage, /^authtest\.v1\.NoteService\/Limited: rate limit exceeded \(2 calls at once/);
      const retryAfter = Number(error.metadata.get("retry-after"));
      assert.ok(retryAfter >= 29 && retryAfter <= 30, `retry-after ${retryAfter}`);
      const response = await rest("/notes/r1/limited");
      assert.equal(response.status, 429);
      assert.ok(Number(response.headers.get("retry-after")) >= 29);
      // Other methods have no limit.
      for (let i = 0; i < 5; i++) await client.read({ id: "r1" });
    });
  });
});

describe("access checks with a JWKS", function () {
  this.timeout(30_000);
  it("fetches the issuer's keys, caches them, and follows a key rotation", async () => {
    const first = await generateKeyPair("RS256", { extractable: true });
    const second = await generateKeyPair("RS256", { extractable: true });
    const jwk = async (pair: typeof first, kid: string): Promise<JWK> => ({ ...(await exportJWK(pair.publicKey)), kid, alg: "RS256", use: "sig" });
    let published = [await jwk(first, "k1")];
    let fetches = 0;
    const jwks = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    const service = await start({ jwtIssuers: [issuer], jwtAudiences: [audience], jwtJwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`, jwtJwksCooldownMs: 0, jwtAlgorithms: ["RS256"] });
    try {
      const sign = (pair: typeof first, kid: string) => new SignJWT({ scope: "notes:write" }).setProtectedHeader({ alg: "RS256", kid }).setIssuer(issuer).setAudience(audience).setSubject("bob").setExpirationTime("5m").sign(pair.privateKey);
      const client: Client<typeof NoteService> = createClient(NoteService, createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }));
      assert.equal((await client.write({ id: "j1", text: "a" }, bearer(await sign(first, "k1")))).subject, "bob");
      assert.equal((await client.write({ id: "j1", text: "b" }, bearer(await sign(first, "k1")))).subject, "bob");
      assert.equal(fetches, 1, "the keys are cached");
      // The issuer rotates: k2 replaces k1. A token naming k2 makes the service fetch the keys again.
      published = [await jwk(second, "k2")];
      assert.equal((await client.write({ id: "j1", text: "c" }, bearer(await sign(second, "k2")))).subject, "bob");
      assert.equal(fetches, 2);
      const retired = await failure(client.write({ id: "j1", text: "d" }, bearer(await sign(first, "k1"))));
      assert.equal(retired.code, Code.Unauthenticated);
      assert.match(retired.rawMessage, /signed with a key the issuer does not publish/);
      // Keys that cannot be fetched are not the caller's fault.
      await new Promise<void>((resolve) => jwks.close(() => resolve()));
      jwks.closeAllConnections();
      const unreachable = await failure(client.write({ id: "j1", text: "e" }, bearer(await sign(first, "k3"))));
      assert.equal(unreachable.code, Code.Unavailable);
      assert.match(unreachable.rawMessage, /could not be fetched from ORRERY_JWT_JWKS_URL/);
    } finally {
      await service.stop();
      jwks.close();
    }
  });
});

describe("interceptors", function () {
  this.timeout(30_000);
  it("run user interceptors on Connect, gRPC and REST calls, around the built-in checks", async () => {
    const seen: string[] = [];
    const audit: Interceptor = (next) => async (req) => {
      try {
        const res = await next(req);
        seen.push(`${req.method.name} ok`);
        return res;
      } catch (error) {
        seen.push(`${req.method.name} ${Code[ConnectError.from(error).code]}`);
        throw error;
      }
    };
    const apiKey: Interceptor = (next) => (req) => {
      if (req.method.name === "Read" && req.header.get("x-api-key") !== "k") throw new ConnectError("authtest.v1.NoteService/Read: send x-api-key", Code.Unauthenticated);
      return next(req);
    };
    const pair = await generateKeyPair("ES256");
    const service = await start({ interceptors: [audit, apiKey], jwtIssuers: [issuer], jwtPublicKey: await exportSPKI(pair.publicKey) });
    try {
      const connect = createClient(NoteService, createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }));
      const grpc = createClient(NoteService, createGrpcTransport({ baseUrl: service.url }));
      assert.equal((await failure(connect.read({ id: "i1" }))).code, Code.Unauthenticated);
      await grpc.read({ id: "i1" }, { headers: { "x-api-key": "k" } });
      assert.equal((await fetch(`${service.url}/notes/i1`)).status, 401);
      assert.equal((await fetch(`${service.url}/notes/i1`, { headers: { "x-api-key": "k" } })).status, 200);
      assert.equal((await failure(grpc.purge({ id: "i1" }))).code, Code.PermissionDenied);
      assert.deepEqual(seen, ["Read Unauthenticated", "Read ok", "Read Unauthenticated", "Read ok", "Purge PermissionDenied"]);
    } finally {
      await service.stop();
    }
  });

  it("refuses to start a service whose jwt option has no key to check tokens with, naming the method", async () => {
    const service = createService({ components: [notes], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent" });
    await assert.rejects(service.start(), /authtest\.v1\.NoteService\/Write: its jwt option needs the issuer's key to check tokens with; set ORRERY_JWT_ISSUER and ORRERY_JWT_PUBLIC_KEY or ORRERY_JWT_JWKS_URL/);
  });
});
