import type { Logger } from "pino";
import { ConfigError, loadConfig } from "./config.js";
import type { RuntimeConfig } from "./config.js";

/**
 * Reads the configuration. A bad setting, when this service owns the process,
 * is one clear line on stderr and exit code 1, never a stack; otherwise the
 * {@link ConfigError} is thrown.
 */
export function loadConfigOrExit(ownsProcess: boolean): RuntimeConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (!ownsProcess || !(error instanceof ConfigError)) throw error;
    process.stderr.write(`orrery: cannot start: ${error.message.replace(/:\n\s*/, ": ").replace(/\n\s*/g, "; ")}\n`);
    process.exit(1);
  }
}

/** Logs why the service could not start as one line naming what to change, and exits with code 1. */
export function exitOnStartupFailure(logger: Logger, error: unknown, config: Pick<RuntimeConfig, "port" | "host">): never {
  logger.fatal({ code: (error as { code?: unknown }).code }, `cannot start: ${describeStartupFailure(error, config)}`);
  process.exit(1);
}

/** One line for a startup failure: what failed and which setting to change. */
function describeStartupFailure(error: unknown, config: Pick<RuntimeConfig, "port" | "host">): string {
  const code = (error as { code?: unknown })?.code;
  if (code === "EADDRINUSE") return `port ${config.port} on ${config.host} is already in use; set PORT to a free port, or stop the process that holds it`;
  if (code === "EACCES") return `no permission to listen on port ${config.port}; set PORT to a port above 1023`;
  if (code === "EADDRNOTAVAIL") return `${config.host} is not an address of this machine; set HOST (0.0.0.0 listens on all)`;
  return error instanceof Error ? error.message : String(error);
}
