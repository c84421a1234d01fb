import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../src/config.js";

const pem = "-----BEGIN PUBLIC KEY-----\\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\\n-----END PUBLIC KEY-----";

describe("loadConfig's token and rate-limit settings", () => {
  it("are off by default: no key, no issuer, no limit", () => {
    const config = loadConfig({});
    assert.deepEqual(
      [config.jwtPublicKey, config.jwtJwksUrl, config.jwtIssuers, config.jwtAudiences, config.jwtAlgorithms, config.jwtClockSkewS, config.rateLimit, config.rateLimitBy],
      [undefined, undefined, [], [], ["RS256", "ES256", "EdDSA"], 30, 0, "address"],
    );
  });

  it("reads lists, a PEM key with \\n escapes, the skew and the limits", () => {
    const config = loadConfig({
      ORRERY_JWT_ISSUER: "https://a.test/, https://b.test/", ORRERY_JWT_AUDIENCE: "shop", ORRERY_JWT_PUBLIC_KEY: pem,
      ORRERY_JWT_ALGORITHMS: "ES256", ORRERY_JWT_CLOCK_SKEW_S: "5", ORRERY_RATE_LIMIT: "20", ORRERY_RATE_LIMIT_BY: "principal",
    });
    assert.deepEqual(config.jwtIssuers, ["https://a.test/", "https://b.test/"]);
    assert.deepEqual([config.jwtAudiences, config.jwtAlgorithms, config.jwtClockSkewS, config.rateLimit, config.rateLimitBy], [["shop"], ["ES256"], 5, 20, "principal"]);
    assert.match(config.jwtPublicKey ?? "", /^-----BEGIN PUBLIC KEY-----\nMFkw/);
  });

  it("refuses alg none, HMAC, both key sources, a key without an issuer and an issuer without a key, naming each variable", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.message;
      }
      assert.fail("the configuration was accepted");
    };
    assert.match(problems({ ORRERY_JWT_ALGORITHMS: "none", ORRERY_JWT_ISSUER: "i", ORRERY_JWT_PUBLIC_KEY: pem }), /ORRERY_JWT_ALGORITHMS lists "none": unsigned tokens are never accepted/);
    assert.match(problems({ ORRERY_JWT_ALGORITHMS: "HS256", ORRERY_JWT_ISSUER: "i", ORRERY_JWT_PUBLIC_KEY: pem }), /"HS256": HMAC needs a shared secret/);
    assert.match(problems({ ORRERY_JWT_ISSUER: "i", ORRERY_JWT_PUBLIC_KEY: pem, ORRERY_JWT_JWKS_URL: "https://a.test/jwks" }), /set one of ORRERY_JWT_PUBLIC_KEY and ORRERY_JWT_JWKS_URL, not both/);
    assert.match(problems({ ORRERY_JWT_JWKS_URL: "https://a.test/jwks" }), /ORRERY_JWT_ISSUER is required with a token key/);
    assert.match(problems({ ORRERY_JWT_ISSUER: "i" }), /ORRERY_JWT_ISSUER is set but no key is/);
    assert.match(problems({ ORRERY_JWT_ISSUER: "i", ORRERY_JWT_PUBLIC_KEY: "not a key" }), /ORRERY_JWT_PUBLIC_KEY is not a PEM public key/);
    assert.match(problems({ ORRERY_JWT_ISSUER: "i", ORRERY_JWT_JWKS_URL: "ftp://a" }), /ORRERY_JWT_JWKS_URL="ftp:\/\/a" is not an http:\/\/ or https:\/\/ URL/);
    assert.match(problems({ ORRERY_RATE_LIMIT: "-1", ORRERY_RATE_LIMIT_BY: "ip" }), /ORRERY_RATE_LIMIT_BY="ip" is not one of address, principal\n  ORRERY_RATE_LIMIT="-1" is not an integer/);
  });
});
