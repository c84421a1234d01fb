import { type Kysely, sql } from "kysely";
import type { OrreryTables, ShardFence } from "../storage/index.js";
import { FencedWriteError } from "../storage/index.js";

/** A timer as stored: what to call, when, and how often it failed. */
export interface TimerRow {
  readonly name: string;
  readonly shard: number;
  readonly generation: string;
  readonly dueAt: Date;
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
  readonly attempts: number;
}

/** A timer to store: a new generation of its name. */
export type NewTimer = Omit<TimerRow, "attempts">;

/**
 * Stores the final outcome of a list of changes in ONE statement, so they
 * commit together: `schedule` rows replace the timers of their names (attempts
 * start again at 0), `cancel` names are deleted. A name appears once (the
 * caller keeps each name's last change).
 */
export async function writeTimers(db: Kysely<OrreryTables>, schedule: readonly NewTimer[], cancel: readonly string[]): Promise<void> {
  await sql`
    with cancelled as (
      delete from orrery_timers where name = any(${cancel}::text[])
    )
    insert into orrery_timers as t (name, shard, generation, due_at, service, method, payload)
    select * from unnest(${schedule.map((t) => t.name)}::text[], ${schedule.map((t) => t.shard)}::int[], ${schedule.map((t) => t.generation)}::text[],
                         ${schedule.map((t) => t.dueAt.toISOString())}::timestamptz[], ${schedule.map((t) => t.service)}::text[],
                         ${schedule.map((t) => t.method)}::text[], ${schedule.map((t) => t.payload)}::bytea[])
    on conflict (name) do update
       set shard = excluded.shard, generation = excluded.generation, due_at = excluded.due_at, service = excluded.service,
           method = excluded.method, payload = excluded.payload, attempts = 0, last_error = null, scheduled_at = now()`.execute(db);
}

/** The earliest timers of `shards`, due or not, leaving out `exclude` (the ones being fired). */
export async function earliestTimers(db: Kysely<OrreryTables>, shards: readonly number[], exclude: readonly string[], limit: number): Promise<TimerRow[]> {
  const { rows } = await sql<{ name: string; shard: number; generation: string; due_at: Date | string; service: string; method: string; payload: Uint8Array; attempts: number | string }>`
    select name, shard, generation, due_at, service, method, payload, attempts from orrery_timers
     where shard = any(${shards}::int[]) and not (name = any(${exclude}::text[]))
     order by due_at limit ${limit}`.execute(db);
  return rows.map((r) => ({
    name: r.name, shard: r.shard, generation: r.generation, dueAt: new Date(r.due_at), service: r.service, method: r.method,
    payload: r.payload, attempts: Number(r.attempts),
  }));
}

/**
 * The firing node's writes: deletes the timer it fired (`retryAt` undefined)
 * or moves it to `retryAt` after a failure, only if the row is still the
 * generation it fired (a reschedule replaced it otherwise, and the new one
 * stays) and, with a fence, only while the shard is at the fence's epoch
 * (its row read FOR SHARE in the same statement). Throws `FencedWriteError`
 * when fenced.
 */
export async function settleTimer(
  db: Kysely<OrreryTables>,
  timer: Pick<TimerRow, "name" | "generation">,
  fence: ShardFence | undefined,
  retry?: { readonly at: Date; readonly attempts: number; readonly error: string },
): Promise<void> {
  const holds = sql`(${fence?.shard ?? null}::int is null or exists (select 1 from fence where epoch = ${fence?.epoch ?? null}::int8))`;
  const change = retry === undefined
    ? sql`delete from orrery_timers where name = ${timer.name} and generation = ${timer.generation} and ${holds} returning 1`
    : sql`update orrery_timers set due_at = ${retry.at.toISOString()}::timestamptz, attempts = ${retry.attempts}, last_error = ${retry.error.slice(0, 2000)}
           where name = ${timer.name} and generation = ${timer.generation} and ${holds} returning 1`;
  const { rows } = await sql<{ epoch: string | number | null }>`
    with fence as (select epoch from orrery_shards where shard = ${fence?.shard ?? null}::int for share),
         changed as (${change})
    select (select epoch from fence) as epoch, (select count(*) from changed) as changed`.execute(db);
  if (fence === undefined) return;
  const current = rows[0]?.epoch === null || rows[0]?.epoch === undefined ? undefined : Number(rows[0].epoch);
  if (current !== fence.epoch) throw new FencedWriteError("timer", timer.name, fence.shard, fence.epoch, current, "the firing node's write");
}
