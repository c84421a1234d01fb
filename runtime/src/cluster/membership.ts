import { sql } from "kysely";
import type { Database } from "../storage/database.js";

/** What a node says about itself when it joins. */
export interface NodeIdentity {
  /** Stable across restarts. */
  readonly name: string;
  /** The URL other nodes reach it at. */
  readonly address: string;
  /** The software version it runs. */
  readonly version: string;
  /** The component types it serves. */
  readonly components: readonly string[];
  /** Weight in shard placement; 100 by default. */
  readonly weight?: number;
}

/** Timing of membership; see {@link checkMembershipTiming}. */
export interface MembershipTiming {
  /** How often a node heartbeats. */
  readonly heartbeatMs: number;
  /** A node whose last heartbeat is older than this, in the database's clock, is declared dead by any peer. */
  readonly deadAfterMs: number;
  /**
   * A node stops serving its shards when its last successful heartbeat was
   * sent longer ago than this, by its own monotonic clock: before any peer can
   * declare it dead and take its shards over.
   */
  readonly selfFenceAfterMs: number;
}

/**
 * 500 ms heartbeats; self-fenced after 2.5 s without one; dead (and its shards
 * free) after 3.5 s: a crashed node's shards are served again about 4 s after
 * the crash, and an event-loop stall under 2.5 s costs a node nothing.
 */
export const defaultMembershipTiming: MembershipTiming = { heartbeatMs: 500, deadAfterMs: 3_500, selfFenceAfterMs: 2_500 };

/**
 * Checks that a node fences itself before its peers can take its shards:
 * the node measures from when it *sent* its last successful heartbeat (which
 * the database stamped no earlier), so after `selfFenceAfterMs` of its own
 * time it has stopped; peers wait `deadAfterMs` of the database's time from
 * the stamp. The margin `deadAfterMs - selfFenceAfterMs` covers a write that
 * was in flight when the node stopped and the two clocks' drift; it must be at
 * least one heartbeat interval.
 */
export function checkMembershipTiming(timing: MembershipTiming): void {
  const { heartbeatMs, deadAfterMs, selfFenceAfterMs } = timing;
  if (!(heartbeatMs > 0)) throw new RangeError(`heartbeat interval must be positive, got ${heartbeatMs} ms`);
  if (selfFenceAfterMs < 2 * heartbeatMs) {
    throw new RangeError(`self-fencing after ${selfFenceAfterMs} ms would trip on one late heartbeat: make it at least twice the ${heartbeatMs} ms heartbeat`);
  }
  if (deadAfterMs - selfFenceAfterMs < heartbeatMs) {
    throw new RangeError(
      `a node declared dead after ${deadAfterMs} ms may still be serving until ${selfFenceAfterMs} ms: the margin must be at least one heartbeat (${heartbeatMs} ms)`,
    );
  }
}

/** A row of the membership view. */
export interface Member {
  readonly name: string;
  readonly incarnation: number;
  readonly address: string;
  readonly version: string;
  readonly components: readonly string[];
  readonly weight: number;
  readonly state: "up" | "draining" | "dead";
  /** How long ago its last heartbeat was, in the database's clock. */
  readonly heartbeatAgeMs: number;
}

/** What a heartbeat found. */
export type HeartbeatOutcome = "ok" | "declared-dead";

/** One incarnation of this node in the membership table. */
export interface Membership {
  /** This incarnation. */
  readonly name: string;
  readonly incarnation: number;
  /** Stamps this incarnation's heartbeat with the database's `now()`; "declared-dead" once a peer (or it) declared it dead. */
  heartbeat(): Promise<HeartbeatOutcome>;
  /** Whether the last successful heartbeat was sent less than `selfFenceAfterMs` ago (monotonic clock). */
  holdsLease(): boolean;
  /** Declares dead every node whose heartbeat is older than `deadAfterMs` (database clock), and deletes those dead for ten times that; returns the newly dead. */
  reap(): Promise<Array<{ name: string; incarnation: number }>>;
  /** Every incarnation not dead, plus the dead ones of the last `deadAfterMs * 10`. */
  members(): Promise<Member[]>;
  /** Marks this incarnation as handing its shards off. */
  drain(): Promise<void>;
  /** Marks this incarnation dead: it has stopped serving. */
  leave(): Promise<void>;
}

/**
 * Joins as a new incarnation of `identity.name`: incarnations come from a
 * database sequence, so a restarted node never reuses its old leases. Older
 * incarnations of the same name that are still marked up are declared dead
 * at once (the process that held them is gone: this one has its name).
 */
export async function joinMembership(database: Database, identity: NodeIdentity, timing: MembershipTiming = defaultMembershipTiming): Promise<Membership> {
  checkMembershipTiming(timing);
  const { db } = database;
  const sent = performance.now();
  const row = await db.transaction().execute(async (tx) => {
    await tx.updateTable("orrery_nodes").set({ state: "dead" }).where("name", "=", identity.name).where("state", "<>", "dead").execute();
    return tx
      .insertInto("orrery_nodes")
      .values({
        name: identity.name,
        incarnation: sql<number>`nextval('orrery_node_incarnation_seq')`,
        address: identity.address,
        version: identity.version,
        components: JSON.stringify(identity.components),
        weight: identity.weight ?? 100,
        state: "up",
      })
      .returning("incarnation")
      .executeTakeFirstOrThrow();
  });
  const incarnation = Number(row.incarnation);
  let leaseFrom: number | undefined = sent;

  return {
    name: identity.name,
    incarnation,
    async heartbeat() {
      const sentAt = performance.now();
      const result = await db
        .updateTable("orrery_nodes")
        .set({ heartbeat_at: sql`now()` })
        .where("name", "=", identity.name)
        .where("incarnation", "=", incarnation)
        .where("state", "<>", "dead")
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) {
        leaseFrom = undefined;
        return "declared-dead";
      }
      leaseFrom = sentAt;
      return "ok";
    },
    holdsLease() {
      return leaseFrom !== undefined && performance.now() - leaseFrom < timing.selfFenceAfterMs;
    },
    async reap() {
      // Incarnations dead for ten times the detection time are history: forget them, so the table stays small.
      await db
        .deleteFrom("orrery_nodes")
        .where("state", "=", "dead")
        .where("heartbeat_at", "<", sql<Date>`now() - make_interval(secs => ${(timing.deadAfterMs * 10) / 1000})`)
        .execute();
      const rows = await db
        .updateTable("orrery_nodes")
        .set({ state: "dead" })
        .where("state", "<>", "dead")
        .where("heartbeat_at", "<", sql<Date>`now() - make_interval(secs => ${timing.deadAfterMs / 1000})`)
        .returning(["name", "incarnation"])
        .execute();
      return rows.map((r) => ({ name: r.name, incarnation: Number(r.incarnation) }));
    },
    async members() {
      const rows = await db
        .selectFrom("orrery_nodes")
        .select(["name", "incarnation", "address", "version", "components", "weight", "state"])
        .select(sql<number>`(extract(epoch from now() - heartbeat_at) * 1000)::float8`.as("age_ms"))
        .where((eb) =>
          eb.or([eb("state", "<>", "dead"), eb("heartbeat_at", ">", sql<Date>`now() - make_interval(secs => ${(timing.deadAfterMs * 10) / 1000})`)]),
        )
        .orderBy("name")
        .orderBy("incarnation")
        .execute();
      return rows.map((r) => ({
        name: r.name,
        incarnation: Number(r.incarnation),
        address: r.address,
        version: r.version,
        components: r.components,
        weight: r.weight,
        state: r.state,
        heartbeatAgeMs: Math.max(0, Number(r.age_ms)),
      }));
    },
    async drain() {
      await db.updateTable("orrery_nodes").set({ state: "draining" }).where("name", "=", identity.name).where("incarnation", "=", incarnation).where("state", "=", "up").execute();
    },
    async leave() {
      leaseFrom = undefined;
      await db.updateTable("orrery_nodes").set({ state: "dead" }).where("name", "=", identity.name).where("incarnation", "=", incarnation).execute();
    },
  };
}
