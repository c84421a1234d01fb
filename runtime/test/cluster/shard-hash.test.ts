import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { defaultShardCount, shardOf } from "../../src/cluster/shard-hash.js";

describe("shardOf", () => {
  it("is the documented function: SHA-256 of type NUL id, first 4 bytes big-endian, modulo the count", () => {
    // Pinned values: changing the hash would move every stored entity to another shard.
    assert.deepEqual(
      ["c1", "c2", "cart-42", "ünïcødé"].map((id) => shardOf("shopping-cart", id, defaultShardCount)),
      [11, 735, 794, 109],
    );
    // The same, spelled out the way another language would compute it.
    assert.equal(createHash("sha256").update(Buffer.from("shopping-cart\u0000c2", "utf8")).digest().readUInt32BE(0) % 1024, 735);
  });

  it("keeps type and id apart: the same id of two types may land on different shards", () => {
    const differ = Array.from({ length: 50 }, (_, i) => `k${i}`).some((id) => shardOf("a", id, 1024) !== shardOf("b", id, 1024));
    assert.ok(differ);
  });

  it("spreads 100,000 ids over 1024 shards like a uniform random function (chi-square within 4 standard deviations)", () => {
    const counts = new Array<number>(1024).fill(0);
    for (let i = 0; i < 100_000; i++) counts[shardOf("shopping-cart", `cart-${i}`, 1024)]!++;
    const mean = 100_000 / 1024;
    const chiSquare = counts.reduce((sum, n) => sum + (n - mean) ** 2 / mean, 0);
    const dof = 1023;
    assert.ok(Math.abs(chiSquare - dof) < 4 * Math.sqrt(2 * dof), `chi-square ${chiSquare.toFixed(0)} for ${dof} degrees of freedom`);
    assert.ok(Math.min(...counts) > 0);
  });
});
