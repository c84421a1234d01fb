import { type Kysely, sql } from "kysely";
import pg from "pg";
import type { OrreryTables } from "./orrery-tables.js";

/** Options for `createPostgresSessions`. */
export interface PostgresSessionsOptions {
  /** Start of every connection's `application_name`; unique to this pool. */
  readonly prefix: string;
  /** A statement with no answer at all for this long destroys its connection. */
  readonly answerTimeoutMs: number;
  /** Called for every error a connection reports, idle or checked out. */
  onConnectionError(error: Error, session: string): void;
}

/** Tracks the server session of every pool connection, for `Database.inDoubtSession` and `endSession`. */
export interface PostgresSessions {
  /** The pg client class for `new pg.Pool({ Client })`. */
  readonly Client: typeof pg.Client;
  /** Call when the pool takes a client back (pool "release" event). */
  released(client: unknown): void;
  /** See `Database.inDoubtSession`. */
  inDoubtSession(error: unknown): string | undefined;
  /** See `Database.endSession`. */
  endSession(db: Kysely<OrreryTables>, session: string, until?: number): Promise<boolean>;
}

type QueryFunction = (...args: unknown[]) => unknown;

/**
 * Builds a pg client class whose connections (1) keep an error listener for
 * their whole life, so a connection that fails while checked out of the pool
 * cannot crash the process with an unhandled 'error' event; (2) carry a unique
 * `application_name`, so the server session behind a lost connection can be
 * found and ended; (3) destroy themselves when a statement gets no answer at
 * all within `answerTimeoutMs` (a silent network partition would otherwise
 * hold the connection, and every statement queued behind it, until TCP gives
 * up after minutes).
 */
export function createPostgresSessions(options: PostgresSessionsOptions): PostgresSessions {
  let serial = 0;
  // The statements whose connection was lost while they were sent or running.
  const lostWhileRunning = new WeakMap<object, string>();

  class SessionClient extends pg.Client {
    readonly session: string;
    /** Set by `set [local] statement_timeout = 0` (migrations): no answer timeout until the pool gets the client back. */
    unbounded = false;

    constructor(config?: pg.ClientConfig) {
      const session = `${options.prefix}/${++serial}`;
      super({ ...config, application_name: session });
      this.session = session;
      this.on("error", (error) => options.onConnectionError(error, session));
      const query = (this.query as QueryFunction).bind(this);
      (this as unknown as { query: QueryFunction }).query = (...args) => this.#watch(query, args);
    }

    /** Runs `query`, noting when a promise-returning statement loses its connection. */
    #watch(query: QueryFunction, args: unknown[]): unknown {
      const internals = this as unknown as { _queryable?: boolean; _ending?: boolean };
      const sendable = internals._queryable !== false && internals._ending !== true;
      const result = query(...args);
      if (!sendable || !(result instanceof Promise)) return result;
      if (typeof args[0] === "string" && /^\s*set\s+(local\s+)?statement_timeout\s*=\s*0\b/i.test(args[0])) this.unbounded = true;
      const timer = this.unbounded ? undefined : setTimeout(() => {
        const error = Object.assign(new Error(`PostgreSQL did not answer within ${options.answerTimeoutMs} ms`), { code: "ETIMEDOUT" });
        this.connection.stream.destroy(error);
      }, options.answerTimeoutMs);
      return result.then(
        (value: unknown) => {
          clearTimeout(timer);
          return value;
        },
        (error: unknown) => {
          clearTimeout(timer);
          // A server error answers the statement: it failed and rolled back. Anything else may have been cut
          // mid-commit, and so may a session the server ended (57P01/57P02) just after committing.
          const answered = error instanceof pg.DatabaseError && error.code !== "57P01" && error.code !== "57P02";
          if (typeof error === "object" && error !== null && !answered) {
            lostWhileRunning.set(error, this.session);
          }
          throw error;
        },
      );
    }
  }

  return {
    Client: SessionClient,
    released(client) {
      if (client instanceof SessionClient) client.unbounded = false;
    },
    inDoubtSession: (error) => (typeof error === "object" && error !== null ? lostWhileRunning.get(error) : undefined),
    async endSession(db, session, until = Number.POSITIVE_INFINITY) {
      // Once the session is gone, whatever it was doing has committed or rolled back for good.
      for (let attempt = 0; ; attempt++) {
        const { rows } = await sql<{ pid: number }>`
          select pid, pg_terminate_backend(pid) as signalled from pg_stat_activity
          where application_name = ${session} and pid <> pg_backend_pid()`.execute(db);
        if (rows.length === 0) return true;
        if (performance.now() >= until) return false;
        await new Promise((resolve) => setTimeout(resolve, Math.min(10 * 2 ** attempt, 200)));
      }
    },
  };
}
