import { create, equals } from "@bufbuild/protobuf";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CompiledViewQuery, View } from "@orrery/sdk";
import { CompiledQuery } from "kysely";
import type { Database } from "../storage/index.js";
import { requestCheck } from "../validation/index.js";
import { toStorageError, StorageUnavailableError } from "../storage/index.js";
import type { RunSql } from "./view-query-executor.js";
import type { ViewChange, ViewChanges } from "./view-changes.js";
import type { ViewTableDirectory } from "./view-tables.js";
import { InvalidQueryArgument, runByKeyQuery, runStreamQuery, runUnaryQuery } from "./view-query-executor.js";

/** What a view's queries need besides the database. */
export interface ViewServing {
  /** Which tables answer now (the previous definition's while a changed one is rebuilt). */
  readonly tables: ViewTableDirectory;
  /** For streaming queries with `stream_updates`. */
  readonly changes: ViewChanges;
  /** Aborted when the service stops: open streams end with UNAVAILABLE, so clients reopen them elsewhere. */
  readonly stopping: AbortSignal;
}

/**
 * Serves a view's query methods: each runs its plan (compiled by `buf
 * generate`) with the request's values bound as parameters, once the request passed
 * its buf.validate rules. A unary query
 * with no row is NOT_FOUND; a bad page token or a negative page size is
 * INVALID_ARGUMENT; an unreachable database is UNAVAILABLE. Update methods
 * are fed by their source and answer UNIMPLEMENTED when called.
 */
export function registerView(router: ConnectRouter, view: View, database: () => Database, serving: ViewServing): void {
  const { spec } = view;
  const run: RunSql = async (sql, parameters) => (await database().db.executeQuery(CompiledQuery.raw(sql, [...parameters]))).rows as never;
  const impl: Record<string, unknown> = {};
  const updates = new Set(spec.tables.flatMap((t) => Object.values(t.updates)));
  for (const method of spec.service.methods) {
    const where = `${spec.service.name}.${method.name}`;
    const own = spec.queries[method.localName];
    if (own === undefined) {
      impl[method.localName] = () => {
        throw new ConnectError(`${where} updates the view from ${updates.has(method.localName) ? "its source" : "nothing"}; it cannot be called, call a query method`, Code.Unimplemented);
      };
      continue;
    }
    const plan = () => serving.tables.current(own);
    const validate = requestCheck(method);
    if (method.methodKind === "server_streaming" && own.streamUpdates !== undefined) {
      impl[method.localName] = async function* (req: Message, ctx: HandlerContext) {
        validate?.(req);
        yield* streamWithUpdates(where, own, plan, method, req, ctx, run, serving);
      };
    } else if (method.methodKind === "server_streaming") {
      impl[method.localName] = async function* (req: Message, ctx: HandlerContext) {
        validate?.(req);
        const rows = await guarded(where, () => runStreamQuery(run, plan(), req, method.output));
        for (const row of rows) {
          if (ctx.signal.aborted) return;
          yield row;
        }
      };
    } else {
      impl[method.localName] = async (req: Message) => {
        validate?.(req);
        const reply = await guarded(where, () => runUnaryQuery(run, plan(), req, method.output));
        if (reply === undefined) throw new ConnectError(`${where}: no row of table ${own.tables[0]?.name ?? "?"} matches the query`, Code.NotFound);
        return reply;
      };
    }
  }
  router.service(spec.service, impl as unknown as ServiceImpl<typeof spec.service>);
}

async function guarded<T>(where: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof InvalidQueryArgument) throw new ConnectError(`${where}: ${error.message}`, Code.InvalidArgument);
    const storage = toStorageError(error, `${where}: querying the view`);
    if (storage instanceof StorageUnavailableError) throw new ConnectError(`${where}: the database is unreachable; the query is safe to retry`, Code.Unavailable, undefined, undefined, error);
    throw new ConnectError(`${where}: the query failed`, Code.Internal, undefined, undefined, error);
  }
}

/**
 * A streaming query with `stream_updates`: the rows matching now, then each
 * matching row again whenever it changes (a change that leaves it as it was
 * sends nothing), and a row that stops matching as a deletion marker — the
 * response with only its key field set. Changes are learnt per key from the
 * view's batches (`ViewChanges`), subscribed to before the first read so
 * that nothing committed meanwhile is missed; rapid changes of one row may
 * arrive as its latest version only.
 */
async function* streamWithUpdates(
  where: string, own: CompiledViewQuery, plan: () => CompiledViewQuery, method: DescMethod, req: Message, ctx: HandlerContext, run: RunSql, streaming: ViewServing,
): AsyncGenerator<Message> {
  const keyField = own.streamUpdates!.keyField;
  // Changes are announced under the definition's own table; while it is rebuilt, the table read is the previous one.
  const table = own.tables[0]!.sqlName;
  const keyOf = (row: Message) => String((row as unknown as Record<string, unknown>)[keyField] ?? "");
  const marker = (key: string) => create(method.output, { [keyField]: key } as never) as Message;
  const pending = new Set<string>();
  let resync = false;
  let wake: (() => void) | undefined;
  const unsubscribe = streaming.changes.subscribe(table, (change: ViewChange) => {
    if (change.kind === "resync") resync = true;
    else for (const key of change.keys) pending.add(key);
    wake?.();
  });
  const stop = () => wake?.();
  ctx.signal.addEventListener("abort", stop);
  streaming.stopping.addEventListener("abort", stop);
  /** What was last sent per key, so an unchanged row is not sent again. */
  const sent = new Map<string, Message>();
  function* changed(key: string, now: Message | undefined): Generator<Message> {
    if (now === undefined) {
      if (sent.delete(key)) yield marker(key);
      return;
    }
    const before = sent.get(key);
    if (before !== undefined && equals(method.output, before, now)) return;
    sent.set(key, now);
    yield now;
  }
  try {
    for (const row of await guarded(where, () => runStreamQuery(run, plan(), req, method.output))) {
      sent.set(keyOf(row), row);
      yield row;
    }
    while (!ctx.signal.aborted) {
      if (streaming.stopping.aborted) {
        throw new ConnectError(`${where}: the node is shutting down; open the stream again to go on receiving updates`, Code.Unavailable);
      }
      if (resync) {
        // Notifications may have been lost: compare everything that matches now with what was sent.
        resync = false;
        pending.clear();
        const rows = await guarded(where, () => runStreamQuery(run, plan(), req, method.output));
        const now = new Map(rows.map((row) => [keyOf(row), row]));
        for (const key of [...sent.keys()]) if (!now.has(key)) yield* changed(key, undefined);
        for (const [key, row] of now) yield* changed(key, row);
        continue;
      }
      if (pending.size === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      const keys = [...pending];
      pending.clear();
      for (const key of keys) {
        if (ctx.signal.aborted) return;
        yield* changed(key, await guarded(where, () => runByKeyQuery(run, plan(), req, key, method.output)));
      }
    }
  } finally {
    unsubscribe();
    ctx.signal.removeEventListener("abort", stop);
    streaming.stopping.removeEventListener("abort", stop);
  }
}
