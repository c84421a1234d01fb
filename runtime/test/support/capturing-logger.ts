import type { StorageLogger } from "../../src/storage/index.js";

/** One line given to a {@link capturingLogger}. */
export interface LoggedLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** A storage logger that keeps every line it is given, for asserting what was logged and at which level. */
export function capturingLogger(): { lines: LoggedLine[]; logger: StorageLogger; at(level: LoggedLine["level"]): LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const log = (level: LoggedLine["level"]) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return {
    lines,
    // Queries are logged at debug only when asked for; keep the lines about failures.
    logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error"), isLevelEnabled: (level) => level !== "debug" },
    at: (level) => lines.filter((line) => line.level === level),
  };
}
