import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { ScenarioResult, StorageRun } from "../bench/bench-report.js";
import { BENCH_ISSUER, createBenchIssuer } from "../bench/bench-token.js";
import { openH1Client } from "../bench/load-generator-h1.js";
import type { UnaryCall } from "../bench/load-generator.js";
import { scenarios } from "../bench/scenarios.js";
import { sideBySide } from "../bench/side-by-side.js";
import { verifierFor } from "../bench/token-verification-cost.js";

describe("the bench's REST and JWT rows", () => {
  it("sends a REST call as its route's method and path, a JSON body only when there is one, and the call's headers", async () => {
    const seen: Array<{ method?: string; url?: string; type?: string; authorization?: string; body: string }> = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, type: req.headers["content-type"], authorization: req.headers.authorization, body });
        const reply = JSON.stringify({ cartId: "c-1" });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(reply) }).end(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const call: UnaryCall = {
      path: "route",
      bodies: [Buffer.from('{"quantity":1}'), new Uint8Array()],
      headers: { authorization: "Bearer abc" },
      rest: { method: "POST", paths: ["/carts/c-1/items", "/carts/c-1"] },
      check: (reply) => (JSON.parse(Buffer.from(reply).toString()) as { cartId: string }).cartId === "c-1",
    };
    const client = await openH1Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 1);
    const send = (index: number) => new Promise((resolve) => client.send(call, index, resolve));
    assert.equal(await send(0), undefined);
    assert.equal(await send(1), undefined);
    client.close();
    await new Promise((resolve) => server.close(resolve));
    assert.deepEqual(seen, [
      { method: "POST", url: "/carts/c-1/items", type: "application/json", authorization: "Bearer abc", body: '{"quantity":1}' },
      { method: "POST", url: "/carts/c-1", type: undefined, authorization: "Bearer abc", body: "" },
    ]);
  });

  it("uses the Connect rows' carts on the REST routes", () => {
    const all = scenarios(3);
    const rest = all.find((s) => s.id === "rest-getcart-3carts-c64")!;
    assert.equal(rest.protocol, "rest");
    assert.deepEqual(rest.call.rest, { method: "GET", paths: ["/carts/bench-cart-0", "/carts/bench-cart-1", "/carts/bench-cart-2"] });
    assert.equal(all.find((s) => s.id === "getcart-3carts-c64")!.protocol, "connect");
    assert.equal(all.some((s) => s.id.startsWith("getcart-jwt-")), false, "no JWT row without an issuer");
  });

  for (const algorithm of ["RS256", "ES256", "EdDSA"] as const) {
    it(`signs ${algorithm} tokens that the runtime's verifier accepts with the settings the bench gives the server`, async () => {
      const issuer = createBenchIssuer(algorithm);
      const verifier = verifierFor(issuer);
      const claims = await verifier.verify(issuer.token("bench-user"));
      assert.equal(claims.iss, BENCH_ISSUER);
      assert.equal(claims.sub, "bench-user");
      await assert.rejects(verifier.verify(issuer.token("late", -60)), /expired/); // beyond the 30 s clock skew
    });
  }

  it("puts each REST and JWT row beside the Connect row of the same shape, and the difference of their server CPU per call", () => {
    const row = (id: string, client: string, rps: number, serverCores: number) =>
      ({ id, client, rps, cpu: { server: serverCores }, latencyMs: { p99: 1 }, errors: 0 }) as unknown as ScenarioResult;
    const run = {
      storage: "pglite",
      results: [
        row("getcart-5carts-c64", "h2×1", 2000, 1), row("getcart-5carts-c64", "h1×64", 1000, 0.5),
        row("getcart-jwt-5carts-c64", "h1×64", 800, 0.5), row("rest-getcart-5carts-c64", "h1×64", 1000, 0.6),
        row("rest-additem-5carts-c64", "h1×64", 100, 0.5),
      ],
    } as unknown as StorageRun;
    const compared = sideBySide([run], 5).map((s) => [s.row.id, s.client, s.reference?.id, s.rpsRatio, s.extraMicrosPerCall?.toFixed(0)]);
    assert.deepEqual(compared, [
      ["rest-additem-5carts-c64", "h1×64", undefined, undefined, undefined],
      ["rest-getcart-5carts-c64", "h1×64", "getcart-5carts-c64", 1, "100"],
      ["getcart-jwt-5carts-c64", "h1×64", "getcart-5carts-c64", 0.8, "125"],
    ]);
  });
});
