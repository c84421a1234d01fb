import { pino } from "pino";
import type { DestinationStream, Logger } from "pino";
import { prettyFactory } from "pino-pretty";
import type { LogFormat } from "../config.js";

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** A pino level name. */
  readonly level: string;
  /** "auto" writes pretty lines when `destination` is a terminal, JSON otherwise. */
  readonly format: LogFormat;
  /** Where lines go; stdout unless given. */
  readonly destination?: { write(line: string): unknown; readonly isTTY?: boolean };
}

/**
 * Creates the service's logger: pino JSON by default, or in "pretty" format
 * one readable line per event (`12:00:01.234 INFO: serving … on http://…`).
 * The pretty form is formatted in-process and written synchronously, like
 * pino's own JSON: no worker thread, nothing resolved at run time (so the
 * runtime bundles into one executable), and nothing lost on `process.exit`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? pino.destination({ dest: 1, sync: true });
  const isTTY = options.destination === undefined ? process.stdout.isTTY === true : options.destination.isTTY === true;
  const pretty = options.format === "pretty" || (options.format === "auto" && isTTY);
  const settings = { level: options.level, base: { service: "orrery" } };
  if (!pretty) return pino(settings, out as DestinationStream);
  const format = prettyFactory({
    colorize: isTTY && process.env["NO_COLOR"] === undefined,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss.l",
    // An access line says everything in its message; its fields stay in the JSON form.
    ignore: "pid,hostname,service,call",
  });
  return pino(settings, { write: (line: string) => out.write(format(line)) });
}
