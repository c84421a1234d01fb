import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { pino } from "pino";
import { desiredOwner } from "../../src/cluster/placement.js";
import { shardOf } from "../../src/cluster/shard-hash.js";
import { createService, signCallsAs } from "../../src/index.js";
import type { OrreryService } from "../../src/index.js";
import "../support/postgres.js"; // its root hook stops the embedded server after the run
import { freshStorageOn } from "../support/sample-storage.js";
import type { TestStorage } from "../support/sample-storage.js";
import { Note } from "../gen/authtest/v1/notes_orrery.js";
import { NoteSchema, NoteService } from "../gen/authtest/v1/notes_pb.js";
import { create } from "@bufbuild/protobuf";

const seen = (note: { text: string }, id: string, ctx: { principal: { source: string; subject?: string | undefined } }) =>
  create(NoteSchema, { id, text: note.text, source: ctx.principal.source, subject: ctx.principal.subject ?? "" });
const notes = Note.implement({
  read: (note, cmd, ctx) => ctx.reply(seen(note, cmd.id, ctx)),
  write: (_note, cmd, ctx) => ctx.updateState(create(NoteSchema, { id: cmd.id, text: cmd.text })).thenReply(() => seen({ text: cmd.text }, cmd.id, ctx)),
  purge: (note, cmd, ctx) => ctx.reply(seen(note, cmd.id, ctx)),
  audit: (note, cmd, ctx) => ctx.reply(seen(note, cmd.id, ctx)),
  mine: (note, cmd, ctx) => ctx.reply(seen(note, cmd.id, ctx)),
  limited: (note, cmd, ctx) => ctx.reply(seen(note, cmd.id, ctx)),
});

describe("a call forwarded to its entity's owner", function () {
  this.timeout(60_000);
  const services: OrreryService[] = [];
  let storage: TestStorage | undefined;
  after(async () => {
    await Promise.allSettled(services.map((s) => s.stop()));
    await storage?.cleanup();
  });

  it("is checked on the node it reached, and its handler on the owner sees the principal that node verified", async () => {
    storage = await freshStorageOn("PostgreSQL");
    const issuer = "https://issuer.test/";
    const pair = await generateKeyPair("ES256");
    const secret = "a-test-secret-of-the-cluster";
    const settings = {
      components: [notes], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false, shutdownGraceMs: 500,
      heartbeatMs: 50, selfFenceAfterMs: 200, deadAfterMs: 300, rebalanceStableMs: 200, clusterSecret: secret,
      databaseUrl: storage.databaseUrl, jwtIssuers: [issuer], jwtPublicKey: await exportSPKI(pair.publicKey),
    };
    for (let i = 0; i < 2; i++) {
      const service = createService(settings);
      await service.start();
      services.push(service);
    }
    const [a, b] = services as [OrreryService, OrreryService];
    const ready = async (s: OrreryService) => (await fetch(`${s.url}/readyz`)).status === 200;
    const until = performance.now() + 30_000;
    while (!(a.cluster!.ownedShards().length + b.cluster!.ownedShards().length === 1024 && b.cluster!.ownedShards().length > 0 && (await ready(a)) && (await ready(b)))) {
      if (performance.now() > until) assert.fail("the two nodes were not both ready with their shares within 30 s");
      await sleep(20);
    }
    // A note whose shard b holds and keeps (placement wants it there): shards still move while the two settle.
    const placement = [a, b].map((s) => ({ name: s.cluster!.name!, weight: 100 }));
    const held = (note: string) => b.cluster!.epochOf(shardOf("note", note, 1024)) !== undefined && desiredOwner(shardOf("note", note, 1024), placement) === b.cluster!.name;
    let id = "";
    for (let i = 0; id === ""; i++) if (held(`n-${i}`)) id = `n-${i}`;
    assert.equal(a.cluster!.epochOf(shardOf("note", id, 1024)), undefined, "a does not own the note");

    const viaA = createClient(NoteService, createConnectTransport({ baseUrl: a.url, httpVersion: "2" }));
    const token = await new SignJWT({ scope: "notes:write" }).setProtectedHeader({ alg: "ES256" }).setIssuer(issuer).setSubject("carol").setExpirationTime("5m").sign(pair.privateKey);
    const written = await viaA.write({ id, text: "t" }, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual([written.source, written.subject], ["internet", "carol"]);
    assert.deepEqual([(await viaA.read({ id })).source, (await viaA.read({ id })).subject], ["internet", ""]);
    const asAuditor = createClient(NoteService, createConnectTransport({ baseUrl: a.url, httpVersion: "2", interceptors: [signCallsAs("service:auditor", secret)] }));
    assert.equal((await asAuditor.audit({ id })).source, "service:auditor");
    // In-process, from a's components: forwarded as a component's call.
    assert.equal((await a.components.forService(NoteService).purge({ id })).source, "component");
  });
});
