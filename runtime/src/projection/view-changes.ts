import { sql } from "kysely";
import type { Kysely } from "kysely";
import { channelIn } from "../storage/index.js";
import type { Database, OrreryTables, StorageLogger } from "../storage/index.js";
import type { PostgresListener } from "../storage/postgres-listener.js";

/** The channel on which the keys of changed view rows are announced. */
export const VIEW_CHANGES_CHANNEL = "orrery_view_changes";
/** Bytes of keys per notification, well below PostgreSQL's 8,000-byte payload limit. */
const MAX_PAYLOAD = 7_000;

/** What a streaming query hears: the keys of rows that changed, or "look at everything" (notifications may have been lost). */
export type ViewChange = { readonly kind: "keys"; readonly keys: readonly string[] } | { readonly kind: "resync" };

/**
 * Tells streaming view queries (`stream_updates`) which rows of a table
 * changed, on every node. On PostgreSQL the view's batch transaction itself
 * sends the keys with NOTIFY, so they are delivered exactly when the rows
 * commit (never before, never for a batch that rolled back), and every node
 * hears them through LISTEN; when that connection was lost meanwhile,
 * listeners are told to resync. PGlite has one process: the keys are handed
 * over after the commit.
 */
export interface ViewChanges {
  /** Whether some query streams updates of `table` (its quoted SQL name): only those tables are announced. */
  watched(table: string): boolean;
  /** In the batch's transaction: announces `keys` of `table` (PostgreSQL). */
  announce(trx: Kysely<OrreryTables>, table: string, keys: readonly string[]): Promise<void>;
  /** After the batch committed: hands `keys` to this process's listeners (PGlite). */
  committed(table: string, keys: readonly string[]): void;
  /** Tells this process's listeners of `table` to compare everything (the table they read was switched). */
  resync(table: string): void;
  /** Calls `listener` with the changes of `table`; returns a function that stops it. */
  subscribe(table: string, listener: (change: ViewChange) => void): () => void;
  close(): Promise<void>;
}

/** Creates the view changes of one database, for the tables that queries with `stream_updates` read. */
export function createViewChanges(database: () => Database, watchedTables: ReadonlySet<string>, logger?: StorageLogger): ViewChanges {
  const listeners = new Map<string, Set<(change: ViewChange) => void>>();
  let listener: PostgresListener | undefined;
  let closed = false;
  const remote = () => database().capabilities.listenNotify && database().listen !== undefined;
  // Views of services in other schemas of the same database may have tables of the same name.
  const channel = () => channelIn(database().schema, VIEW_CHANGES_CHANNEL);

  function deliver(table: string, change: ViewChange): void {
    for (const l of [...(listeners.get(table) ?? [])]) l(change);
  }

  function heard(payload: string): void {
    if (payload === "") {
      // The LISTEN connection is back: what was sent meanwhile is gone.
      for (const table of listeners.keys()) deliver(table, { kind: "resync" });
      return;
    }
    const newline = payload.indexOf("\n");
    if (newline < 0) return;
    try {
      const keys = JSON.parse(payload.slice(newline + 1)) as string[];
      deliver(payload.slice(0, newline), { kind: "keys", keys });
    } catch (error) {
      logger?.debug({ err: error }, `ignoring a malformed ${VIEW_CHANGES_CHANNEL} notification`);
    }
  }

  return {
    watched: (table) => watchedTables.has(table),
    async announce(trx, table, keys) {
      if (!watchedTables.has(table) || !remote()) return;
      for (const chunk of chunks(keys)) await sql`select pg_notify(${channel()}, ${`${table}\n${JSON.stringify(chunk)}`})`.execute(trx);
    },
    committed(table, keys) {
      if (!watchedTables.has(table) || remote() || keys.length === 0) return;
      deliver(table, { kind: "keys", keys });
    },
    resync(table) {
      deliver(table, { kind: "resync" });
    },
    subscribe(table, l) {
      let set = listeners.get(table);
      if (set === undefined) listeners.set(table, (set = new Set()));
      set.add(l);
      if (remote() && listener === undefined && !closed) listener = database().listen!(channel(), heard);
      return () => {
        set.delete(l);
        if (set.size === 0) listeners.delete(table);
      };
    },
    async close() {
      closed = true;
      listeners.clear();
      await listener?.close();
    },
  };
}

/** `keys` in groups whose JSON stays under the payload limit. */
function chunks(keys: readonly string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let size = 2;
  for (const key of keys) {
    const length = Buffer.byteLength(JSON.stringify(key)) + 1;
    if (current.length > 0 && size + length > MAX_PAYLOAD) {
      out.push(current);
      current = [];
      size = 2;
    }
    current.push(key);
    size += length;
  }
  if (current.length > 0) out.push(current);
  return out;
}
