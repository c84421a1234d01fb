// Who wrote each journal row, and who owned its shard at that moment: a
// trigger the test installs in the cluster's database (the journal itself
// does not say which node wrote a row).
import { sql } from "kysely";
import type { Database } from "../../../src/storage/index.js";

/** One audited journal row. */
export interface AuditedWrite {
  readonly entityId: string;
  readonly seqNr: number;
  /** The writer's `application_name`: `orrery <pid>.<hex>/<n>`. */
  readonly session: string;
  /** The writer's pid, parsed from `session`. */
  readonly pid: number;
  /** The entity's shard, computed in SQL like `shardOf`. */
  readonly shard: number;
  /** The shard's owner and epoch as the writing statement saw them (it holds the row FOR SHARE). */
  readonly owner: string | null;
  readonly incarnation: number | null;
  readonly epoch: number;
  /** clock_timestamp() of the insert, in ms since the epoch. */
  readonly at: number;
}

/**
 * Adds `test_writes` and an AFTER INSERT trigger on `orrery_events` that
 * records, per row, the writing session and the owner of the row's shard as
 * the same statement sees it. Call after the migrations, before any node writes.
 */
export async function installWriteAudit(database: Database): Promise<void> {
  await sql`create table test_writes (
      entity_id text not null, seq_nr bigint not null, session text not null, shard int not null,
      owner_name text, owner_incarnation bigint, epoch bigint, at timestamptz not null default clock_timestamp())`.execute(database.db);
  // The shard: the first 4 bytes of sha256(type NUL id), big-endian unsigned, modulo the layout's shard count.
  await sql.raw(`create function test_audit_write() returns trigger language plpgsql as $$
    declare
      s int;
      o record;
    begin
      s := (('x' || encode(substring(sha256(convert_to(new.entity_type, 'UTF8') || '\\x00'::bytea || convert_to(new.entity_id, 'UTF8')) from 1 for 4), 'hex'))::bit(32)::bigint
            % (select shard_count from orrery_cluster where id = 1))::int;
      select owner_name, owner_incarnation, epoch into o from orrery_shards where shard = s;
      insert into test_writes (entity_id, seq_nr, session, shard, owner_name, owner_incarnation, epoch)
        values (new.entity_id, new.seq_nr, current_setting('application_name'), s, o.owner_name, o.owner_incarnation, o.epoch);
      return null;
    end $$`).execute(database.db);
  await sql`create trigger test_audit after insert on orrery_events for each row execute function test_audit_write()`.execute(database.db);
}

/** Every audited write, in insert order. */
export async function auditedWrites(database: Database): Promise<AuditedWrite[]> {
  const { rows } = await sql<{ entity_id: string; seq_nr: string; session: string; shard: number; owner_name: string | null; owner_incarnation: string | null; epoch: string; at: Date }>`
    select entity_id, seq_nr, session, shard, owner_name, owner_incarnation, epoch, at from test_writes order by at`.execute(database.db);
  return rows.map((r) => ({
    entityId: r.entity_id,
    seqNr: Number(r.seq_nr),
    session: r.session,
    pid: Number(/^orrery (\d+)\./.exec(r.session)?.[1] ?? NaN),
    shard: r.shard,
    owner: r.owner_name,
    incarnation: r.owner_incarnation === null ? null : Number(r.owner_incarnation),
    epoch: Number(r.epoch),
    at: new Date(r.at).getTime(),
  }));
}
