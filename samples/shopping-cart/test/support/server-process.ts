// This sample's server as a separate process, so tests can SIGKILL it.
import { fileURLToPath } from "node:url";
import { startSampleProcess } from "../../../../runtime/test/support/sample-process.js";
import type { ServerProcess } from "../../../../runtime/test/support/sample-process.js";

export type { ServerProcess };

const sampleDir = fileURLToPath(new URL("../..", import.meta.url));

/** Starts this sample's server on a free port (or `port`) and waits until /readyz answers 200. */
export function startServerProcess(env: Record<string, string | undefined>, port?: number): Promise<ServerProcess> {
  return startSampleProcess(sampleDir, env, port);
}
