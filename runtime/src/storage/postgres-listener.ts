import pg from "pg";
import type { StorageLogger } from "./storage-logger.js";

/** A LISTEN on its own connection; see {@link listenOnPostgres}. */
export interface PostgresListener {
  close(): Promise<void>;
}

/**
 * LISTENs on `channel` over a dedicated connection (a pooled one would lose
 * its LISTEN when returned), calling `onMessage` with each payload. A lost
 * connection is reopened with backoff, and `onMessage("")` is called once it
 * is back, since notifications sent meanwhile are gone: listeners must treat
 * a message as "look again", never as the data itself.
 */
export function listenOnPostgres(url: string, channel: string, onMessage: (payload: string) => void, logger?: StorageLogger): PostgresListener {
  let client: pg.Client | undefined;
  let closed = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;

  async function connect(): Promise<void> {
    if (closed) return;
    const next = new pg.Client({ connectionString: url, application_name: "orrery listener" });
    client = next;
    next.on("error", (error) => lost(next, error));
    next.on("end", () => lost(next, new Error("the connection ended")));
    next.on("notification", (message) => onMessage(message.payload ?? ""));
    try {
      await next.connect();
      await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (failures > 0) logger?.info?.({ channel }, `listening on ${channel} again`);
      failures = 0;
      onMessage(""); // anything sent while no one listened
    } catch (error) {
      lost(next, error);
    }
  }

  function lost(which: pg.Client, error: unknown): void {
    if (closed || which !== client) return;
    client = undefined;
    which.removeAllListeners("notification");
    which.end().catch(() => undefined);
    failures++;
    const delay = Math.min(5_000, 100 * 2 ** Math.min(failures, 6));
    logger?.debug?.({ err: error, channel, retryInMs: delay }, `the LISTEN connection on ${channel} was lost; reconnecting`);
    retry = setTimeout(() => void connect(), delay);
    retry.unref();
  }

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
