import type { CompiledViewQuery, View, ViewTableSpec } from "@orrery/sdk";
import { type Kysely, sql } from "kysely";
import type { Database, OrreryTables } from "../storage/index.js";

/** How long a replaced table is kept (queries in flight on other nodes may still read it) before it is dropped. */
const RETIRED_KEPT_SECONDS = 60;

/** Logs what happens to the tables. */
interface DirectoryLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * Which physical table each table of a view answers from. A view whose
 * definition changed gets new tables, built from the journal while the
 * tables of the previous definition keep answering queries (as they were when
 * the new definition started: their projection no longer runs); once every
 * new table of the view has caught up, queries switch to them on every node,
 * and the old tables are dropped a minute later. See migration 0006.
 */
export interface ViewTableDirectory {
  /** Creates the view's tables and indexes if missing and registers them, under a lock (nodes start together). */
  prepare(view: View): Promise<void>;
  /** The plan with its SQL reading the tables that serve now (the plan's own, unless they are still being built). */
  current(plan: CompiledViewQuery): CompiledViewQuery;
  /** The projection of `table` read everything committed: once all of the view's tables have, they serve. */
  caughtUp(view: View, table: ViewTableSpec): Promise<void>;
  /** Calls `listener` with a table of this definition when queries switch to it. */
  onSwitch(listener: (sqlName: string) => void): void;
  close(): void;
}

/** Creates the directory of this process's views. */
export function createViewTableDirectory(database: () => Database, logger: DirectoryLogger): ViewTableDirectory {
  /** Per table of this definition (quoted SQL name): the one queries read now. */
  const serving = new Map<string, string>();
  const views = new Map<string, View>();
  const rewritten = new WeakMap<CompiledViewQuery, { key: string; plan: CompiledViewQuery }>();
  const switchListeners: Array<(sqlName: string) => void> = [];
  let poll: NodeJS.Timeout | undefined;
  let closed = false;

  const building = () => [...serving].filter(([own, now]) => own !== now);

  /** Reads which tables serve, for the views whose new tables are still being built; stops once none are. */
  async function refresh(): Promise<void> {
    for (const view of views.values()) {
      for (const table of view.spec.tables) {
        if (serving.get(table.sqlName) === table.sqlName) continue;
        const row = await database().db.selectFrom("orrery_view_tables").select("sql_name")
          .where("view", "=", view.spec.service.typeName).where("table_name", "=", table.name).where("state", "=", "serving")
          .executeTakeFirst();
        if (row !== undefined) switched(table.sqlName, row.sql_name);
      }
    }
  }

  function switched(own: string, now: string): void {
    const before = serving.get(own);
    serving.set(own, now);
    if (before !== now && now === own) for (const listener of switchListeners) listener(own);
  }

  function schedule(): void {
    if (closed || poll !== undefined || building().length === 0) return;
    poll = setTimeout(() => {
      poll = undefined;
      refresh().catch(() => undefined).finally(schedule);
    }, 1_000);
    poll.unref();
  }

  return {
    async prepare(view) {
      views.set(view.spec.service.typeName, view);
      const name = view.spec.service.typeName;
      await database().db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext('orrery view tables'))`.execute(trx);
        await dropRetired(trx, logger);
        for (const table of view.spec.tables) {
          assertQuoted(table.sqlName);
          const { rows: existing } = await sql<{ found: boolean }>`select to_regclass(${table.sqlName}) is not null as found`.execute(trx);
          if (existing[0]?.found !== true) {
            // A new table starts from the journal's beginning, even if an earlier life of this definition got further.
            await trx.deleteFrom("orrery_projection_offsets").where("projection", "=", `${view.spec.name}/${table.name}`).execute();
          }
          await sql.raw(`create table if not exists ${table.sqlName} (key text primary key, row jsonb not null)`).execute(trx);
          for (const index of table.indexes) await sql.raw(index).execute(trx);
          const rows = await trx.selectFrom("orrery_view_tables").select(["sql_name", "state"])
            .where("view", "=", name).where("table_name", "=", table.name).execute();
          const own = rows.find((r) => r.sql_name === table.sqlName);
          const current = rows.find((r) => r.state === "serving" && r.sql_name !== table.sqlName);
          // Tables of definitions that were being built and are not this one: abandoned.
          const abandoned = rows.filter((r) => r.sql_name !== table.sqlName && (r.state === "building" || r.state === "caught-up")).map((r) => r.sql_name);
          if (abandoned.length > 0) {
            await trx.updateTable("orrery_view_tables").set({ state: "retired" }).where("sql_name", "in", abandoned).execute();
            await sql`update orrery_view_tables set changed_at = now() where sql_name = any(${abandoned}::text[])`.execute(trx);
          }
          if (own === undefined || own.state === "retired") {
            const state = current === undefined ? "serving" : "building";
            await sql`insert into orrery_view_tables (sql_name, view, table_name, state) values (${table.sqlName}, ${name}, ${table.name}, ${state})
                      on conflict (sql_name) do update set state = excluded.state, changed_at = now()`.execute(trx);
            if (state === "building") {
              logger.info({ view: name, table: table.name, building: table.sqlName, serving: current!.sql_name },
                `${name} table ${table.name}: its definition changed; building ${table.sqlName} from the journal while ${current!.sql_name} keeps answering queries`);
            }
          }
          serving.set(table.sqlName, own?.state === "serving" || current === undefined ? table.sqlName : current.sql_name);
        }
      });
      schedule();
    },

    current(plan) {
      const names = plan.tables.map((t) => [t.sqlName, serving.get(t.sqlName) ?? t.sqlName] as const).filter(([own, now]) => own !== now);
      if (names.length === 0) return plan;
      const key = names.map(([, now]) => now).join(",");
      const cached = rewritten.get(plan);
      if (cached?.key === key) return cached.plan;
      // Table names are quoted identifiers hashed from the definition: each occurs in the SQL only as that table.
      const swap = (text: string) => names.reduce((out, [own, now]) => out.replaceAll(own, now), text);
      const result = plan.result.kind === "stream"
        ? { ...plan.result, byKey: { ...plan.result.byKey, sql: swap(plan.result.byKey.sql) } }
        : plan.result.kind === "many" && plan.result.countQuery !== undefined
          ? { ...plan.result, countQuery: { ...plan.result.countQuery, sql: swap(plan.result.countQuery.sql) } }
          : plan.result;
      const swapped: CompiledViewQuery = { ...plan, sql: swap(plan.sql), result };
      rewritten.set(plan, { key, plan: swapped });
      return swapped;
    },

    async caughtUp(view, table) {
      if (serving.get(table.sqlName) === table.sqlName) return;
      const name = view.spec.service.typeName;
      const own = view.spec.tables.map((t) => t.sqlName);
      const done = await database().db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext('orrery view tables'))`.execute(trx);
        await trx.updateTable("orrery_view_tables").set({ state: "caught-up" }).where("sql_name", "=", table.sqlName).where("state", "=", "building").execute();
        const states = await trx.selectFrom("orrery_view_tables").select(["sql_name", "state"]).where("sql_name", "in", own).execute();
        if (states.length < own.length || states.some((s) => s.state === "building" || s.state === "retired")) return false;
        if (!states.some((s) => s.state === "caught-up")) return true;
        const replaced = await trx.updateTable("orrery_view_tables").set({ state: "retired" })
          .where("view", "=", name).where("state", "=", "serving").where("sql_name", "not in", own).returning("sql_name").execute();
        await sql`update orrery_view_tables set changed_at = now() where sql_name = any(${replaced.map((r) => r.sql_name)}::text[])`.execute(trx);
        await trx.updateTable("orrery_view_tables").set({ state: "serving" }).where("sql_name", "in", own).where("state", "=", "caught-up").execute();
        logger.info({ view: name, serving: own, retired: replaced.map((r) => r.sql_name) },
          `${name}: the rebuilt tables caught up and answer queries now (${own.join(", ")}); the ones they replace are dropped in ${RETIRED_KEPT_SECONDS} s`);
        return true;
      });
      if (done) for (const t of view.spec.tables) switched(t.sqlName, t.sqlName);
    },

    onSwitch(listener) {
      switchListeners.push(listener);
    },

    close() {
      closed = true;
      clearTimeout(poll);
    },
  };
}

/** Drops the tables retired more than a minute ago. */
async function dropRetired(trx: Kysely<OrreryTables>, logger: DirectoryLogger): Promise<void> {
  const { rows } = await sql<{ sql_name: string }>`select sql_name from orrery_view_tables
    where state = 'retired' and changed_at < now() - make_interval(secs => ${RETIRED_KEPT_SECONDS})`.execute(trx);
  for (const { sql_name } of rows) {
    assertQuoted(sql_name);
    await sql.raw(`drop table if exists ${sql_name}`).execute(trx);
    await trx.deleteFrom("orrery_view_tables").where("sql_name", "=", sql_name).execute();
    logger.info({ table: sql_name }, `dropped the view table ${sql_name}: a newer definition of its view replaced it`);
  }
}

// Table names are generated, never user input; still, only a quoted identifier is ever spliced into SQL.
function assertQuoted(name: string): void {
  if (!/^"[a-z0-9_]+"$/.test(name)) throw new Error(`view table name ${name} is not a quoted lower-case identifier`);
}
