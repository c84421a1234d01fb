import assert from "node:assert/strict";
import { desiredOwner, desiredShards } from "../../src/cluster/placement.js";

const nodes = (...names: string[]) => names.map((name) => ({ name, weight: 100 }));

describe("shard placement (weighted rendezvous hashing)", () => {
  it("gives each of 3 equal nodes about a third of 1024 shards, and every shard exactly one owner", () => {
    const three = nodes("node-a", "node-b", "node-c");
    const shares = three.map((n) => desiredShards(n.name, 1024, three).length);
    assert.equal(shares.reduce((a, b) => a + b), 1024);
    for (const share of shares) assert.ok(share > 1024 / 3 - 60 && share < 1024 / 3 + 60, `shares ${shares}`);
  });

  it("moves only the shards the new node wins when a node joins, and only the leaver's when one leaves", () => {
    const before = nodes("node-a", "node-b", "node-c");
    const after = nodes("node-a", "node-b", "node-c", "node-d");
    let moved = 0;
    for (let shard = 0; shard < 1024; shard++) {
      const was = desiredOwner(shard, before);
      const now = desiredOwner(shard, after);
      if (was !== now) {
        moved++;
        assert.equal(now, "node-d", `shard ${shard} moved from ${was} to ${now}, not to the new node`);
      }
    }
    assert.ok(moved > 1024 / 4 - 60 && moved < 1024 / 4 + 60, `${moved} shards moved`);
    for (let shard = 0; shard < 1024; shard++) {
      const owner = desiredOwner(shard, after);
      if (owner !== "node-d") assert.equal(desiredOwner(shard, before), owner);
    }
  });

  it("does not depend on the order the members are listed in", () => {
    const a = nodes("x", "y", "z");
    const b = nodes("z", "x", "y");
    for (let shard = 0; shard < 256; shard++) assert.equal(desiredOwner(shard, a), desiredOwner(shard, b));
  });

  it("places by weight: a node of weight 300 gets about three times the shards of one of weight 100", () => {
    const weighted = [{ name: "big", weight: 300 }, { name: "small", weight: 100 }];
    const big = desiredShards("big", 1024, weighted).length;
    assert.ok(big > 768 - 50 && big < 768 + 50, `big got ${big} of 1024`);
  });

  it("has no owner without nodes", () => {
    assert.equal(desiredOwner(0, []), undefined);
  });
});
