import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import type { CryptoKey } from "jose";
import { callPrincipal, principalFrom } from "../../src/cluster/forwarded-principal.js";
import { createService } from "../../src/index.js";
import type { OrreryService } from "../../src/index.js";
import { failure } from "../support/call-failure.js";
import { Account } from "../gen/authtest/v1/profiles_orrery.js";
import { AccountService, ProfileClaimsSchema, ProfileSchema } from "../gen/authtest/v1/profiles_pb.js";

const issuer = "https://issuer.test/";

/** Replies with what the handler saw; the claims are typed as ProfileClaims (tsc checks these reads). */
const accounts = Account.implement({
  whoami(_state, cmd, ctx) {
    const claims = ctx.principal.claims;
    const verified: boolean | undefined = claims?.emailVerified;
    const expires: bigint | undefined = claims?.exp;
    return ctx.reply(create(ProfileSchema, {
      id: cmd.id, subject: claims?.sub ?? "", emailVerified: verified ?? false, roles: claims?.roles ?? [], tenant: claims?.tenant?.id ?? "",
      otherClaim: String(ctx.principal.token?.["department"] ?? ""), expires: (expires ?? 0n) > 0n,
    }));
  },
});

describe("claims typed by (orrery.v1.service).claims", function () {
  this.timeout(30_000);
  let service: OrreryService;
  let key: CryptoKey;
  const token = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "ES256" }).setIssuer(issuer).setSubject("alice").setIssuedAt().setExpirationTime("5m").sign(key);
  const client = () => createClient(AccountService, createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }));
  const bearer = (jwt: string) => ({ headers: { authorization: `Bearer ${jwt}` } });

  before(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    key = pair.privateKey;
    service = createService({
      components: [accounts], handleSignals: false, port: 0, host: "127.0.0.1", dataDir: "memory:", databaseUrl: undefined, logLevel: "silent", shutdownGraceMs: 500,
      jwtIssuers: [issuer], jwtPublicKey: await exportSPKI(pair.publicKey),
    });
    await service.start();
  });
  after(() => service.stop());

  it("reads the token's claims into the message: snake_case or camelCase names, nested objects, lists, int64; other claims stay in the token", async () => {
    const jwt = await token({ email_verified: true, roles: ["admin", "buyer"], tenant: { id: "t-1" }, department: "sales" });
    const reply = await client().whoami({ id: "a1" }, bearer(jwt));
    assert.deepEqual([reply.subject, reply.emailVerified, reply.roles, reply.tenant, reply.otherClaim, reply.expires], ["alice", true, ["admin", "buyer"], "t-1", "sales", true]);
    const camel = await client().whoami({ id: "a1" }, bearer(await token({ emailVerified: true })));
    assert.equal(camel.emailVerified, true);
  });

  it("leaves the claims undefined on a call without a token", async () => {
    const reply = await client().whoami({ id: "a1" });
    assert.deepEqual([reply.subject, reply.emailVerified], ["", false]);
  });

  const wrong: [string, Record<string, unknown>, RegExp][] = [
    ["a string for a boolean claim", { email_verified: "yes" }, /claim "email_verified" is not a boolean, as authtest\.v1\.ProfileClaims\.email_verified declares it/],
    ["a single value for a list claim", { roles: "admin" }, /claim "roles" is not a list \(each a string\)/],
    ["a string for an object claim", { tenant: "t-1" }, /claim "tenant" is not an object \(authtest\.v1\.Tenant\)/],
  ];
  for (const [what, claims, reason] of wrong) {
    it(`refuses a token with ${what} with UNAUTHENTICATED naming the claim, on Connect and REST`, async () => {
      const jwt = await token(claims);
      const error = await failure(client().whoami({ id: "a1" }, bearer(jwt)));
      assert.equal(error.code, Code.Unauthenticated);
      assert.match(error.rawMessage, /^authtest\.v1\.AccountService\/Whoami: the bearer token's /);
      assert.match(error.rawMessage, reason);
      const response = await fetch(`${service.url}/accounts/a1/whoami`, { headers: { authorization: `Bearer ${jwt}` } });
      assert.equal(response.status, 401);
      assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
      assert.match(((await response.json()) as { message: string }).message, reason);
    });
  }

  it("forwards the token's payload to the owner node, which reads it into the message again", () => {
    const payload = { sub: "alice", email_verified: true, exp: 1_900_000_000 };
    const typed = create(ProfileClaimsSchema, { sub: "alice", emailVerified: true, exp: 1_900_000_000n });
    const carried = callPrincipal({ source: "internet", claims: typed, token: payload, subject: "alice" });
    assert.deepEqual(JSON.parse(carried.claimsJson), payload);
    const received = principalFrom(carried, ProfileClaimsSchema);
    assert.deepEqual([received.claims, received.token, received.subject], [typed, payload, "alice"]);
    assert.deepEqual(principalFrom(carried).claims, payload, "a component without a claims message sees the JSON");
  });
});
