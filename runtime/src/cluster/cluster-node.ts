import type { Database } from "../storage/database.js";
import { describeError } from "../storage/storage-errors.js";
import { defaultMembershipTiming, joinMembership } from "./membership.js";
import type { Member, Membership, MembershipTiming, NodeIdentity } from "./membership.js";
import { desiredOwner } from "./placement.js";
import { shardOf } from "./shard-hash.js";
import { claimFreeShards, handOffShards, releaseShards, shardOwners } from "./shard-leases.js";
import type { ShardLease, ShardOwner } from "./shard-leases.js";

/** The subset of a pino logger the cluster node writes to. */
export interface ClusterLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Options for {@link createClusterNode}. */
export interface ClusterNodeOptions {
  /** An open, migrated database whose shard layout is set up (`ensureShardLayout`). */
  readonly database: Database;
  /** The layout's shard count. */
  readonly shardCount: number;
  readonly timing?: MembershipTiming;
  /**
   * Shards move between live nodes only once the membership view (the nodes
   * that are up, and their weights) has been unchanged this long, so a node
   * that flaps moves nothing (default 3,000 ms). Free shards are claimed at once.
   */
  readonly stableAfterMs?: number;
  /** Shards handed off to another live node per round at most (default 10% of the shards, at least 1). */
  readonly maxMovesPerRound?: number;
  /**
   * Called with shards this node is about to hand off or release, after it
   * stopped accepting commands for them: finish their entities' queued
   * commands and drop them from memory. Waited for at most `handOffWaitMs`.
   */
  readonly beforeHandOff?: (shards: ReadonlySet<number>) => Promise<void>;
  /** How long a hand-off waits for `beforeHandOff` (default 5,000 ms); the epoch fences whatever is still running after. */
  readonly handOffWaitMs?: number;
  /**
   * Whether this node can forward calls to its peers (it has the cluster
   * secret). A node that cannot is not ready while other nodes are members:
   * it would turn away every call for their shards. Default true.
   */
  readonly canForward?: boolean;
  readonly logger?: ClusterLogger;
}

/** Why this node stopped serving a shard. */
export type ShardLossReason =
  | "handed-off" // moved to its desired owner by this node
  | "released" // this node is leaving
  | "fenced" // a write carried a stale epoch: someone else owns it
  | "taken" // the shard table names another owner
  | "self-fenced" // no successful heartbeat within selfFenceAfterMs
  | "declared-dead"; // a peer declared this incarnation dead

/** What changed on this node. */
export type ClusterChange =
  | { readonly kind: "gained"; readonly shards: readonly number[] }
  | { readonly kind: "lost"; readonly shards: ReadonlySet<number>; readonly reason: ShardLossReason }
  | { readonly kind: "ready"; readonly ready: boolean }
  /** Members that were live and are not any more (dead or gone), with the addresses they advertised. */
  | { readonly kind: "left"; readonly members: ReadonlyArray<{ readonly name: string; readonly address: string }> };

/** Who owns a shard, as this node last read it. */
export interface ShardOwnerAddress {
  readonly name: string;
  readonly incarnation: number;
  /** The URL the owner advertised; undefined when it is no longer a member. */
  readonly address: string | undefined;
  /** Whether the owner is a live member (up or draining) in this node's last view. */
  readonly live: boolean;
  readonly epoch: number;
}

/** The cluster as one node sees it, for the status endpoint. */
export interface ClusterStatus {
  readonly node: { readonly name: string | undefined; readonly incarnation: number | undefined; readonly ready: boolean; readonly notReadyReason: string | undefined };
  readonly shardCount: number;
  readonly members: ReadonlyArray<Member & { readonly shards: number }>;
  /** Shards with no live owner in this node's last view: moving, or free to claim. */
  readonly unowned: number;
}

/** This node in the cluster; see {@link createClusterNode}. */
export interface ClusterNode {
  readonly shardCount: number;
  /** This node's name and current incarnation; undefined incarnation before {@link join}. */
  readonly name: string | undefined;
  readonly incarnation: number | undefined;
  /** The shard of an entity. */
  shardOf(entityType: string, entityId: string): number;
  /**
   * The epoch this node serves `shard` at, or undefined when it does not
   * serve it now (not owned, moving, or its lease on the database lapsed).
   * Synchronous and cheap: the hot path asks it per command.
   */
  epochOf(shard: number): number | undefined;
  /** The owner of `shard` as last read (this node included), for forwarding. */
  ownerOf(shard: number): ShardOwnerAddress | undefined;
  /** Why this node does not serve `shard`, in words a caller can act on. */
  whyNotServed(shard: number): string;
  /** The shards this node serves, with their epochs. */
  ownedShards(): ShardLease[];
  /** True while the node holds its lease and every shard that placement gives it. */
  readonly ready: boolean;
  /** Why the node is not ready; undefined when it is. */
  notReadyReason(): string | undefined;
  /** Calls `listener` on every gain, loss and readiness change; returns a function that stops it. */
  onChange(listener: (change: ClusterChange) => void): () => void;
  /** Joins membership as `identity` and claims the free shards placement gives it, then keeps it so on a timer. */
  join(identity: NodeIdentity): Promise<void>;
  /** A write for `shard` at `epoch` was fenced: stop serving the shard now and re-read the shard table. */
  fenced(shard: number, epoch: number): void;
  /** Runs one round now (heartbeat, reap, view, claims, hand-offs), after the one in progress. */
  refresh(): Promise<void>;
  /** Re-reads the shard table soon, at most once per `ownersRereadMs`, whoever asks how often: a call found its owners stale. */
  rereadOwners(): void;
  /** The members and shard counts as this node last read them. */
  status(): ClusterStatus;
  /** Leaves gracefully: draining, entities flushed, every shard released, marked dead. Idempotent. */
  leave(): Promise<void>;
}

/**
 * Creates this node's membership loop; it does nothing until {@link ClusterNode.join}.
 * Every `heartbeatMs` a round heartbeats (in the database's clock), declares
 * dead the peers that stopped heartbeating, reads the view of live nodes and
 * keeps this node's shards right: free shards that weighted rendezvous
 * placement gives it are claimed by compare-and-set, all in one statement;
 * shards placement gives to another live node are handed off to it, at most
 * `maxMovesPerRound` a round and only once the view has been stable for
 * `stableAfterMs`. A node whose heartbeat has not succeeded for
 * `selfFenceAfterMs` stops serving every shard at once (before a peer may
 * declare it dead) and rejoins as a new incarnation once the database
 * answers; so does a node that learns it was declared dead.
 *
 * One node alone is the same code: it claims every shard in its first round.
 *
 * @example
 * const node = createClusterNode({ database, shardCount: 1024 });
 * await node.join({ name: "a", address: "http://10.0.0.5:8080", version: "1.2.0", components: ["shopping-cart"] });
 * node.epochOf(node.shardOf("shopping-cart", "c1")); // the fence for its appends, or undefined
 */
export function createClusterNode(options: ClusterNodeOptions): ClusterNode {
  const { database, shardCount, logger } = options;
  const timing = options.timing ?? defaultMembershipTiming;
  const stableAfterMs = options.stableAfterMs ?? 3_000;
  const maxMoves = Math.max(1, options.maxMovesPerRound ?? Math.ceil(shardCount / 10));
  const handOffWaitMs = options.handOffWaitMs ?? 5_000;
  const canForward = options.canForward ?? true;
  const ownersRereadMs = Math.min(100, timing.heartbeatMs);
  const listeners = new Set<(change: ClusterChange) => void>();
  // epochs[shard] > 0: served at that epoch (claims start epochs at 1, so 0 means "not served").
  const epochs = new Float64Array(shardCount);
  let owned = 0;
  let identity: NodeIdentity | undefined;
  let membership: Membership | undefined;
  let owners: ShardOwner[] = [];
  let addresses = new Map<string, string>();
  let members: Member[] = [];
  let liveMembers = new Set<string>();
  let rereadAt = -Infinity;
  let rereading: Promise<void> | undefined;
  let up: Member[] = [];
  // Draining members still own their shards until they release them: those are not free.
  let draining: string[] = [];
  let viewKey = "";
  let viewSince = 0;
  let desired: { key: string; shards: number[]; owners: Array<string | undefined> } = { key: "", shards: [], owners: [] };
  let ownersStale = true;
  let roundsSinceOwners = 0;
  let selfFenced = false;
  let lastError: string | undefined;
  let ready = false;
  let leaving: Promise<void> | undefined;
  let round: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let watchdog: NodeJS.Timeout | undefined;

  const me = () => ({ name: membership!.name, incarnation: membership!.incarnation });
  const emit = (change: ClusterChange) => {
    for (const listener of [...listeners]) listener(change);
  };

  function serving(): boolean {
    return membership !== undefined && !selfFenced && leaving === undefined && membership.holdsLease();
  }

  function gain(leases: readonly ShardLease[]): void {
    const gained: number[] = [];
    for (const { shard, epoch } of leases) {
      if (epochs[shard] === epoch) continue;
      if (epochs[shard] !== 0) lose([shard], "taken"); // the epoch moved under us: whatever is in memory is stale
      epochs[shard] = epoch;
      owned++;
      gained.push(shard);
    }
    if (gained.length > 0) emit({ kind: "gained", shards: gained });
  }

  function lose(shards: Iterable<number>, reason: ShardLossReason): void {
    const lost = new Set<number>();
    for (const shard of shards) {
      if (epochs[shard] === 0) continue;
      epochs[shard] = 0;
      owned--;
      lost.add(shard);
    }
    if (lost.size === 0) return;
    const log = reason === "handed-off" || reason === "released" ? logger?.info : logger?.warn;
    log?.call(logger, { shards: lost.size, reason, incarnation: membership?.incarnation }, `stopped serving ${lost.size} shards (${reason})`);
    emit({ kind: "lost", shards: lost, reason });
  }

  function loseAll(reason: ShardLossReason): void {
    const all: number[] = [];
    for (let shard = 0; shard < shardCount; shard++) if (epochs[shard] !== 0) all.push(shard);
    lose(all, reason);
  }

  /** The shards placement gives this node over the current view, cached per view. */
  function desiredNow(): number[] {
    if (desired.key !== viewKey) {
      const nodes = up.map((m) => ({ name: m.name, weight: m.weight }));
      const placed = Array.from({ length: shardCount }, (_, shard) => desiredOwner(shard, nodes));
      const mine = membership !== undefined && up.some((m) => m.name === membership!.name && m.incarnation === membership!.incarnation);
      desired = { key: viewKey, owners: placed, shards: mine ? placed.flatMap((name, shard) => (name === membership!.name ? [shard] : [])) : [] };
    }
    return desired.shards;
  }

  function updateReady(): void {
    const now = notReadyReason() === undefined;
    if (now === ready) return;
    ready = now;
    logger?.info({ ready, shards: owned }, ready ? `ready: serving ${owned} shards` : `not ready: ${notReadyReason()}`);
    emit({ kind: "ready", ready });
  }

  function notReadyReason(): string | undefined {
    if (membership === undefined) return "joining the cluster";
    if (leaving !== undefined) return "leaving the cluster";
    if (selfFenced || !membership.holdsLease()) {
      // The driver's message (lastError) is in the log, never in what callers read: it names hosts and ports.
      return `no successful heartbeat to the database within ${timing.selfFenceAfterMs} ms; serving no shards until it rejoins`;
    }
    if (!canForward) {
      const others = up.filter((m) => m.name !== membership!.name).map((m) => m.name);
      if (others.length > 0) {
        return `ORRERY_CLUSTER_SECRET is not set, so this node cannot forward calls to the other members (${others.join(", ")}); set the same secret on every node`;
      }
    }
    const mine = desiredNow();
    const missing = mine.filter((shard) => epochs[shard] === 0).length;
    if (mine.length === 0) return "placement gives this node no shards yet (it is not in its own view of live nodes)";
    return missing === 0 ? undefined : `holds ${mine.length - missing} of the ${mine.length} shards placement gives it`;
  }

  function adopt(rows: ShardOwner[]): void {
    owners = rows;
    ownersStale = false;
    roundsSinceOwners = 0;
    const { name, incarnation } = me();
    const gained: ShardLease[] = [];
    const taken: number[] = [];
    for (const row of rows) {
      if (row.shard >= shardCount) continue;
      const ours = row.ownerName === name && row.ownerIncarnation === incarnation;
      if (ours && epochs[row.shard] !== row.epoch && serving()) gained.push({ shard: row.shard, epoch: row.epoch });
      else if (!ours && epochs[row.shard] !== 0) taken.push(row.shard);
    }
    lose(taken, "taken");
    gain(gained);
  }

  async function rejoin(why: "declared-dead" | "self-fenced"): Promise<void> {
    loseAll(why);
    const old = membership!.incarnation;
    membership = await joinMembership(database, identity!, timing);
    selfFenced = false;
    ownersStale = true;
    logger?.warn({ incarnation: membership.incarnation, previous: old, why }, `rejoined the cluster as incarnation ${membership.incarnation} (${why === "declared-dead" ? "a peer declared the previous one dead" : "after fencing itself"})`);
  }

  async function runRound(heartbeat: boolean): Promise<void> {
    if (membership === undefined || leaving !== undefined) return;
    try {
      if (heartbeat) {
        const outcome = await membership.heartbeat();
        if (outcome === "declared-dead") await rejoin("declared-dead");
        else if (selfFenced) await rejoin("self-fenced");
      }
      if (lastError !== undefined) {
        logger?.info({}, "the database answers heartbeats again");
        lastError = undefined;
      }
      for (const dead of await membership.reap()) logger?.warn(dead, `declared node ${dead.name} (incarnation ${dead.incarnation}) dead: no heartbeat for ${timing.deadAfterMs} ms`);
      members = await membership.members();
      const previousAddresses = addresses;
      addresses = new Map(members.map((m) => [`${m.name}\u0000${m.incarnation}`, m.address]));
      up = members.filter((m) => m.state === "up");
      const wasLive = liveMembers;
      liveMembers = new Set(members.filter((m) => m.state !== "dead").map((m) => `${m.name}\u0000${m.incarnation}`));
      // A restarted node that took its old address back is not gone.
      const liveAddresses = new Set(members.filter((m) => m.state !== "dead").map((m) => m.address));
      const left = [...wasLive].filter((key) => !liveMembers.has(key)).flatMap((key) => {
        const address = addresses.get(key) ?? previousAddresses.get(key);
        return address === undefined || liveAddresses.has(address) ? [] : [{ name: key.split("\u0000")[0]!, address }];
      });
      if (left.length > 0) emit({ kind: "left", members: left });
      draining = members.filter((m) => m.state === "draining").map((m) => `${m.name}\u0000${m.incarnation}`);
      const key = up.map((m) => `${m.name}/${m.incarnation}*${m.weight}`).join(",");
      if (key !== viewKey) {
        if (viewKey !== "") logger?.info({ members: up.map((m) => m.name) }, `membership view: ${up.map((m) => m.name).join(", ") || "(none)"}`);
        viewKey = key;
        viewSince = performance.now();
        ownersStale = true;
      }
      if (ownersStale || !ready || ++roundsSinceOwners >= 10) adopt(await shardOwners(database));
      if (!serving()) return;
      await claimFree();
      if (performance.now() - viewSince >= stableAfterMs) await rebalance();
    } catch (error) {
      const message = describeError(error);
      if (lastError !== message) logger?.warn({ err: error }, `cluster round failed: ${message}`);
      lastError = message;
    } finally {
      updateReady();
    }
  }

  /** Claims, in one statement, every shard placement gives this node whose owner is not a live member. */
  async function claimFree(): Promise<void> {
    const live = new Set(up.map((m) => `${m.name}\u0000${m.incarnation}`));
    for (const m of draining) live.add(m);
    const free = desiredNow().filter((shard) => {
      if (epochs[shard] !== 0) return false;
      const row = owners[shard];
      return row === undefined || row.ownerName === null || !live.has(`${row.ownerName}\u0000${row.ownerIncarnation}`);
    });
    if (free.length === 0) return;
    const won = await claimFreeShards(database, me(), free);
    for (const lease of won) owners[lease.shard] = { shard: lease.shard, ownerName: me().name, ownerIncarnation: me().incarnation, epoch: lease.epoch };
    if (won.length > 0) logger?.info({ claimed: won.length, wanted: free.length }, `claimed ${won.length} free shards`);
    if (won.length < free.length) ownersStale = true; // someone else holds some after all: re-read
    gain(won);
  }
  /** Hands off, to their desired live owner, up to `maxMoves` shards placement no longer gives this node. */
  async function rebalance(): Promise<void> {
    desiredNow();
    const targets = new Map(up.map((m) => [m.name, m]));
    const moves: Array<{ lease: ShardLease; to: Member }> = [];
    for (let shard = 0; shard < shardCount && moves.length < maxMoves; shard++) {
      const epoch = epochs[shard]!;
      const to = epoch === 0 ? undefined : targets.get(desired.owners[shard] ?? "");
      if (to !== undefined && to.name !== membership!.name) moves.push({ lease: { shard, epoch }, to });
    }
    if (moves.length === 0) return;
    const shards = new Set(moves.map((m) => m.lease.shard));
    await stopServing(shards, "handed-off");
    const handed = await handOffShards(database, me(), moves.map(({ lease, to }) => ({ lease, to: { name: to.name, incarnation: to.incarnation } })));
    for (const m of handed) owners[m.shard] = { shard: m.shard, ownerName: m.to.name, ownerIncarnation: m.to.incarnation, epoch: m.epoch };
    const moved = handed.length;
    ownersStale = true;
    logger?.info({ moved, to: [...new Set(moves.map((m) => m.to.name))] }, `handed off ${moved} shards`);
  }

  /** Stops accepting commands for `shards`, lets their entities finish (bounded), and reports them lost. */
  async function stopServing(shards: ReadonlySet<number>, reason: ShardLossReason): Promise<void> {
    const leases = [...shards].filter((shard) => epochs[shard] !== 0);
    for (const shard of leases) epochs[shard] = -epochs[shard]!; // not served, remembered for lose()
    let bound: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        options.beforeHandOff?.(shards),
        new Promise<void>((resolve) => (bound = setTimeout(resolve, handOffWaitMs))),
      ]);
    } catch (error) {
      logger?.warn({ err: error }, `flushing the entities of ${shards.size} shards before handing them off failed: ${describeError(error)}`);
    } finally {
      clearTimeout(bound);
    }
    for (const shard of leases) epochs[shard] = -epochs[shard]!;
    lose(leases, reason);
  }

  /** The next round starts `heartbeatMs` after the previous one started (or at once, if that one took longer). */
  function schedule(delayMs: number): void {
    if (leaving !== undefined) return;
    timer = setTimeout(() => {
      const started = performance.now();
      round = round.then(() => runRound(true));
      void round.finally(() => schedule(Math.max(0, timing.heartbeatMs - (performance.now() - started))));
    }, delayMs);
    timer.unref();
  }

  function checkLease(): void {
    if (membership === undefined || selfFenced || leaving !== undefined || membership.holdsLease()) return;
    selfFenced = true;
    logger?.warn({ incarnation: membership.incarnation, lastError }, `fenced itself: no successful heartbeat within ${timing.selfFenceAfterMs} ms; it serves no shard until it rejoins`);
    loseAll("self-fenced");
    updateReady();
  }

  function ownerOf(shard: number): ShardOwnerAddress | undefined {
    const row = owners[shard];
    if (row === undefined || row.ownerName === null || row.ownerIncarnation === null) return undefined;
    const key = `${row.ownerName}\u0000${row.ownerIncarnation}`;
    const live = liveMembers.has(key);
    return { name: row.ownerName, incarnation: row.ownerIncarnation, address: addresses.get(key), live, epoch: row.epoch };
  }

  function ownedShards(): ShardLease[] {
    const leases: ShardLease[] = [];
    for (let shard = 0; shard < shardCount; shard++) if (epochs[shard]! > 0) leases.push({ shard, epoch: epochs[shard]! });
    return leases;
  }

  return {
    shardCount,
    get name() {
      return membership?.name ?? identity?.name;
    },
    get incarnation() {
      return membership?.incarnation;
    },
    shardOf: (entityType, entityId) => shardOf(entityType, entityId, shardCount),
    epochOf(shard) {
      const epoch = epochs[shard];
      return epoch !== undefined && epoch > 0 && membership!.holdsLease() ? epoch : undefined;
    },
    ownerOf,
    whyNotServed(shard) {
      if (membership === undefined || selfFenced || leaving !== undefined || !membership.holdsLease()) {
        return `this node serves no shards right now: ${notReadyReason() ?? "it is not serving"}`;
      }
      const owner = ownerOf(shard);
      // An earlier incarnation of this node (before a rejoin) is as good as no owner: this node claims it next round.
      const mine = owner !== undefined && owner.name === membership.name;
      if (owner === undefined || mine) return `shard ${shard} has no owner right now (it is moving); retry shortly`;
      return `shard ${shard} is owned by node ${owner.name}${owner.address ? ` at ${owner.address}` : ""}, not by this node (${membership.name}); send the call there`;
    },
    ownedShards,
    get ready() {
      return ready && notReadyReason() === undefined;
    },
    notReadyReason,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async join(who) {
      if (membership !== undefined) throw new Error("this cluster node has joined already");
      identity = who;
      membership = await joinMembership(database, who, timing);
      logger?.info({ name: who.name, incarnation: membership.incarnation, address: who.address }, `joined the cluster as ${who.name} (incarnation ${membership.incarnation}) at ${who.address}`);
      round = runRound(false); // it just wrote its heartbeat
      await round;
      watchdog = setInterval(checkLease, Math.max(5, Math.min(timing.heartbeatMs, timing.selfFenceAfterMs / 4)));
      watchdog.unref();
      schedule(timing.heartbeatMs);
    },
    fenced(shard, epoch) {
      if (epochs[shard] !== epoch) return;
      ownersStale = true;
      lose([shard], "fenced");
      updateReady();
    },
    refresh() {
      round = round.then(() => runRound(true));
      return round;
    },
    rereadOwners() {
      if (rereading !== undefined || membership === undefined) return;
      const wait = Math.max(0, rereadAt + ownersRereadMs - performance.now());
      // In the round chain, so that an older read is never adopted after a newer claim.
      rereading = round = round.then(async () => {
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        rereadAt = performance.now();
        try {
          adopt(await shardOwners(database));
        } catch {
          // The next round reads again, and logs what is wrong with the database.
        } finally {
          rereading = undefined;
          updateReady();
        }
      });
    },
    status() {
      const counts = new Map<string, number>();
      let unowned = owners.length === 0 ? shardCount : 0;
      for (const row of owners) {
        const key = `${row.ownerName}\u0000${row.ownerIncarnation}`;
        if (row.ownerName !== null && liveMembers.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
        else unowned++;
      }
      return {
        node: { name: membership?.name ?? identity?.name, incarnation: membership?.incarnation, ready: ready && notReadyReason() === undefined, notReadyReason: notReadyReason() },
        shardCount,
        members: members.map((m) => ({ ...m, shards: counts.get(`${m.name}\u0000${m.incarnation}`) ?? 0 })),
        unowned,
      };
    },
    leave() {
      leaving ??= (async () => {
        clearTimeout(timer);
        clearInterval(watchdog);
        await round;
        if (membership === undefined) return;
        updateReady();
        const leases = ownedShards();
        try {
          await membership.drain();
          await stopServing(new Set(leases.map((lease) => lease.shard)), "handed-off");
          // Each shard goes straight to the node placement gives it without this one; the rest are released.
          const self = me();
          const others = up.filter((m) => !(m.name === self.name && m.incarnation === self.incarnation));
          const targets = new Map(others.map((m) => [m.name, m]));
          const placing = others.map((m) => ({ name: m.name, weight: m.weight }));
          const moves = leases.flatMap((lease) => {
            const to = targets.get(desiredOwner(lease.shard, placing) ?? "");
            return to === undefined ? [] : [{ lease, to: { name: to.name, incarnation: to.incarnation } }];
          });
          const moved = await handOffShards(database, self, moves);
          for (const m of moved) owners[m.shard] = { shard: m.shard, ownerName: m.to.name, ownerIncarnation: m.to.incarnation, epoch: m.epoch };
          const released = await releaseShards(database, self);
          await membership.leave();
          logger?.info({ handedOff: moved.length, released }, `left the cluster, handing ${moved.length} shards to ${new Set(moved.map((m) => m.to.name)).size} nodes and releasing ${released}`);
        } catch (error) {
          loseAll("released");
          logger?.warn({ err: error }, `leaving the cluster failed (its shards free up once peers declare it dead): ${describeError(error)}`);
        }
      })();
      return leaving;
    },
  };
}
