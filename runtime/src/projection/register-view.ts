import type { Message } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { View } from "@orrery/sdk";
import { CompiledQuery } from "kysely";
import type { Database } from "../storage/index.js";
import { requestCheck } from "../validation/index.js";
import { toStorageError, StorageUnavailableError } from "../storage/index.js";
import type { RunSql } from "./view-query-executor.js";
import { InvalidQueryArgument, runStreamQuery, runUnaryQuery } from "./view-query-executor.js";

/**
 * Serves a view's query methods: each runs its plan (compiled by `buf
 * generate`) with the request's values bound as parameters, once the request passed
 * its buf.validate rules. A unary query
 * with no row is NOT_FOUND; a bad page token or a negative page size is
 * INVALID_ARGUMENT; an unreachable database is UNAVAILABLE. Update methods
 * are fed by their source and answer UNIMPLEMENTED when called.
 */
export function registerView(router: ConnectRouter, view: View, database: () => Database): void {
  const { spec } = view;
  const run: RunSql = async (sql, parameters) => (await database().db.executeQuery(CompiledQuery.raw(sql, [...parameters]))).rows as never;
  const impl: Record<string, unknown> = {};
  const updates = new Set(spec.tables.flatMap((t) => Object.values(t.updates)));
  for (const method of spec.service.methods) {
    const where = `${spec.service.name}.${method.name}`;
    const plan = spec.queries[method.localName];
    if (plan === undefined) {
      impl[method.localName] = () => {
        throw new ConnectError(`${where} updates the view from ${updates.has(method.localName) ? "its source" : "nothing"}; it cannot be called, call a query method`, Code.Unimplemented);
      };
      continue;
    }
    const validate = requestCheck(method);
    if (method.methodKind === "server_streaming") {
      impl[method.localName] = async function* (req: Message, ctx: HandlerContext) {
        validate?.(req);
        const rows = await guarded(where, () => runStreamQuery(run, plan, req, method.output));
        for (const row of rows) {
          if (ctx.signal.aborted) return;
          yield row;
        }
      };
    } else {
      impl[method.localName] = async (req: Message) => {
        validate?.(req);
        const reply = await guarded(where, () => runUnaryQuery(run, plan, req, method.output));
        if (reply === undefined) throw new ConnectError(`${where}: no row of table ${plan.tables[0]?.name ?? "?"} matches the query`, Code.NotFound);
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
