import { sql } from "kysely";
import type { Database } from "../storage/index.js";

/** What the connection budget check needs of the log. */
interface BudgetLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/**
 * Warns when the live nodes together may open more PostgreSQL connections
 * than the server accepts: each node keeps a pool of `poolSize` plus one for
 * LISTEN, and past `max_connections` (less the superuser reserve) new
 * connections fail with "too many clients" under load. Checked when the
 * membership changes; warns once per number of nodes.
 */
export function createConnectionBudget(database: Database, poolSize: number, logger: BudgetLogger): { check(nodes: number): Promise<void> } {
  let warnedFor: number | undefined;
  return {
    async check(nodes) {
      if (database.dialect !== "postgres" || nodes === warnedFor) return;
      try {
        const { rows } = await sql<{ max: number; reserved: number }>`
          select current_setting('max_connections')::int as max, current_setting('superuser_reserved_connections')::int as reserved`.execute(database.db);
        const { max, reserved } = rows[0]!;
        const available = max - reserved;
        const needed = nodes * (poolSize + 1);
        if (needed <= available) return;
        warnedFor = nodes;
        const fit = Math.max(1, Math.floor(available / nodes) - 1);
        logger.warn(
          { nodes, poolSize, maxConnections: max, reserved, needed },
          `the cluster's ${nodes} nodes may open up to ${needed} connections to PostgreSQL (${nodes} × (ORRERY_DB_POOL_SIZE ${poolSize} + 1)), ` +
            `more than the server's max_connections ${max} less ${reserved} reserved; under load new connections will fail with "too many clients": ` +
            `set ORRERY_DB_POOL_SIZE to ${fit} or less on every node, or raise max_connections`,
        );
      } catch (error) {
        logger.debug({ err: error }, "could not read max_connections to check the connection budget");
      }
    },
  };
}
