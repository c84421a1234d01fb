import type { LogEvent } from "kysely";

/** The subset of a pino logger the storage layer uses. */
export interface StorageLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info?(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
  isLevelEnabled?(level: string): boolean;
}

/** Builds Kysely's `log` option from a storage logger: queries at debug level only. */
export function queryLog(logger: StorageLogger | undefined): ((event: LogEvent) => void) | undefined {
  if (logger === undefined || logger.isLevelEnabled?.("debug") === false) return undefined;
  return (event) => {
    const fields: Record<string, unknown> = { sql: event.query.sql, durationMs: event.queryDurationMillis };
    if (event.level === "error") fields["err"] = event.error;
    logger.debug(fields, event.level === "error" ? "query failed" : "query");
  };
}
