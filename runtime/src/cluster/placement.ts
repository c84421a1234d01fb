import { createHash } from "node:crypto";

/** A node as placement sees it: its stable name and its weight. */
export interface PlacementNode {
  readonly name: string;
  /** Relative share of shards; 100 is the default. */
  readonly weight: number;
}

/**
 * The node that should own `shard`, by weighted rendezvous hashing over the
 * nodes' stable names: every node computes the same answer alone, and when a
 * node joins or leaves only the shards it wins or held move (about 1/n of
 * them), never the rest. The score of a node is `-weight / ln(u)`, where `u`
 * in (0, 1) comes from SHA-256 of `name NUL shard`; the highest score wins,
 * ties (practically impossible) to the smaller name.
 */
export function desiredOwner(shard: number, nodes: readonly PlacementNode[]): string | undefined {
  let best: { name: string; score: number } | undefined;
  for (const node of nodes) {
    const score = node.weight * inverseLog(node.name, shard);
    if (best === undefined || score > best.score || (score === best.score && node.name < best.name)) best = { name: node.name, score };
  }
  return best?.name;
}

/** Every shard in `0..shardCount-1` that `nodes` place on `name`. */
export function desiredShards(name: string, shardCount: number, nodes: readonly PlacementNode[]): number[] {
  const mine: number[] = [];
  for (let shard = 0; shard < shardCount; shard++) if (desiredOwner(shard, nodes) === name) mine.push(shard);
  return mine;
}

// -1 / ln(u) of (name, shard), remembered: every view change places every
// shard over every node, and the SHA-256s would cost ~0.3 s at 100 nodes.
const remembered = new Map<string, number[]>();
function inverseLog(name: string, shard: number): number {
  let values = remembered.get(name);
  if (values === undefined) {
    if (remembered.size >= 1_000) remembered.clear(); // names of long-gone nodes
    remembered.set(name, (values = []));
  }
  return (values[shard] ??= -1 / Math.log(unitInterval(name, shard)));
}

// A number in (0, 1) from 52 bits of SHA-256(name NUL shard): never 0 or 1, so the logarithm is finite and negative.
function unitInterval(name: string, shard: number): number {
  const digest = createHash("sha256").update(name).update("\0").update(String(shard)).digest();
  const bits = digest.readUInt32BE(0) * 2 ** 20 + (digest.readUInt32BE(4) >>> 12);
  return (bits + 0.5) / 2 ** 52;
}
