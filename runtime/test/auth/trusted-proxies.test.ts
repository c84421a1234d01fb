import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { ConfigError, loadConfig } from "../../src/config.js";
import { createService } from "../../src/index.js";
import type { OrreryService } from "../../src/index.js";
import { createLogger } from "../../src/observability/index.js";
import { Note } from "../gen/authtest/v1/notes_orrery.js";
import { NoteSchema } from "../gen/authtest/v1/notes_pb.js";

// The fixture's Write method requires a token, so the service needs a key to start; no call here sends one.
const jwt = { jwtIssuers: ["https://issuer.test/"], jwtPublicKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString() };
const reply = (id: string) => create(NoteSchema, { id });
const notes = Note.implement({
  read: (_n, cmd, ctx) => ctx.reply(reply(cmd.id)),
  write: (_n, cmd, ctx) => ctx.reply(reply(cmd.id)),
  purge: (_n, cmd, ctx) => ctx.reply(reply(cmd.id)),
  audit: (_n, cmd, ctx) => ctx.reply(reply(cmd.id)),
  mine: (_n, cmd, ctx) => ctx.reply(reply(cmd.id)),
  limited: (_n, cmd, ctx) => ctx.reply(reply(cmd.id)), // two calls per minute per client address
});

/** A service whose access lines (debug, JSON) land in `clients`: the client address of each call, in order. */
async function start(trustedProxies: string[] | undefined): Promise<{ service: OrreryService; clients: string[] }> {
  const clients: string[] = [];
  const destination = new Writable({
    write: (chunk, _e, cb) => {
      const line = JSON.parse(String(chunk)) as { call?: { client?: string } };
      if (line.call !== undefined) clients.push(line.call.client ?? "(none)");
      cb();
    },
  });
  const logger = createLogger({ level: "debug", format: "json", destination: { write: (s: string) => destination.write(s) } });
  const service = createService({ components: [notes], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logger, ...jwt, ...(trustedProxies && { trustedProxies }) });
  await service.start();
  return { service, clients };
}

describe("the client address of rate limits and access lines behind a proxy", function () {
  this.timeout(30_000);
  // One service at a time: two alive on one DATABASE_URL would form a cluster and split the shards between them.
  let running: OrreryService | undefined;
  afterEach(() => running?.stop());
  const limited = async (service: OrreryService, forwardedFor?: string): Promise<number> => {
    const response = await fetch(`${service.url}/notes/n1/limited`, { headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor } });
    await response.text();
    return response.status;
  };
  const settle = () => new Promise((r) => setTimeout(r, 50));

  it("ignores X-Forwarded-For by default: every call from one peer shares its bucket, whatever the header says", async () => {
    const { service, clients } = await start(undefined);
    running = service;
    assert.deepEqual([await limited(service, "203.0.113.1"), await limited(service, "203.0.113.2"), await limited(service, "203.0.113.3")], [200, 200, 429]);
    await settle();
    assert.deepEqual(clients, ["127.0.0.1", "127.0.0.1", "127.0.0.1"]);
  });

  it("counts and logs a trusted proxy's call by the right-most address in X-Forwarded-For that is not a trusted proxy", async () => {
    const { service, clients } = await start(["127.0.0.1", "10.0.0.0/8"]);
    running = service;
    assert.equal(await limited(service, "203.0.113.7"), 200);
    assert.equal(await limited(service, "203.0.113.7:51234"), 200, "a port is not a new client");
    // A client that writes an address of its own in front gains no fresh bucket: the proxy appended its real address.
    assert.equal(await limited(service, "198.51.100.1, 203.0.113.7"), 429);
    // Hops through other trusted proxies are skipped.
    assert.equal(await limited(service, "203.0.113.8, 10.1.2.3"), 200);
    assert.equal(await limited(service, "garbage, 203.0.113.9"), 200);
    // Nothing but trusted hops: the left-most is the client; an entry that is not an address stops the walk at the hop before it.
    assert.equal(await limited(service, "10.9.9.9"), 200);
    assert.equal(await limited(service, "10.1.1.1, not-an-ip"), 200);
    assert.equal(await limited(service), 200, "no header: the peer");
    await settle();
    assert.deepEqual(clients, ["203.0.113.7", "203.0.113.7", "203.0.113.7", "203.0.113.8", "203.0.113.9", "10.9.9.9", "127.0.0.1", "127.0.0.1"]);
  });

  it("reads ORRERY_TRUSTED_PROXIES as IPs and CIDRs, none by default, and rejects an entry that is neither, naming it", () => {
    assert.deepEqual(loadConfig({}).trustedProxies, []);
    assert.deepEqual(loadConfig({ ORRERY_TRUSTED_PROXIES: "10.0.0.7, 10.0.0.0/8,fd00::/8" }).trustedProxies, ["10.0.0.7", "10.0.0.0/8", "fd00::/8"]);
    assert.throws(() => loadConfig({ ORRERY_TRUSTED_PROXIES: "10.0.0.0/33,proxy.internal" }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /ORRERY_TRUSTED_PROXIES lists "10\.0\.0\.0\/33", which is not an IP address or a CIDR range/);
      assert.match(error.message, /ORRERY_TRUSTED_PROXIES lists "proxy\.internal"/);
      return true;
    });
  });

  it("refuses to start with a trustedProxies entry that is not an address, instead of trusting nothing silently", async () => {
    const service = createService({ components: [notes], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent", ...jwt, trustedProxies: ["10.0.0.0/99"] });
    await assert.rejects(service.start(), /trustedProxies lists "10\.0\.0\.0\/99"/);
  });
});
