// Where the services of a project find each other when they share a
// PostgreSQL database (each in its own schema, or not): every node of a named
// service keeps a row in `public.orrery_service_directory` with its address and
// the proto services it serves, heartbeated with the database's clock; a caller
// picks a live node of the service that serves what it calls.
import { sql } from "kysely";
import type { Database } from "../storage/index.js";

/** The directory's table: in `public`, so that services in schemas of their own (ORRERY_DATABASE_SCHEMA) share it. */
const TABLE = sql.raw("public.orrery_service_directory");

/** One live node of another service. */
export interface DirectoryEntry {
  readonly serviceName: string;
  readonly address: string;
}

/** This node's entry, and the lookups of the others. */
export interface ServiceDirectory {
  /** The live nodes of other services that serve `service` (a proto service's full name), newest heartbeat first. */
  find(service: string): Promise<readonly DirectoryEntry[]>;
  /** Forgets what `find` remembered for `service` (a node it named could not be reached). */
  forget(service: string): void;
  /** Removes this node's entry and stops heartbeating. */
  close(): Promise<void>;
}

/** Options of {@link joinServiceDirectory}. */
export interface ServiceDirectoryOptions {
  readonly database: Database;
  /** ORRERY_SERVICE_NAME. */
  readonly serviceName: string;
  /** This node: its name (unique among the service's nodes) and the address other services call. */
  readonly node: string;
  readonly address: string;
  /** The proto services this node serves. */
  readonly services: readonly string[];
  /** Heartbeat every this long (default 2,000 ms); a node silent for `liveMs` (default 10,000 ms) is not used. */
  readonly everyMs?: number;
  readonly liveMs?: number;
  /** How long a lookup is remembered (default 1,000 ms). */
  readonly cacheMs?: number;
  readonly logger: { warn(fields: Record<string, unknown>, message: string): void };
}

/** Adds this node to the directory (creating the table at the first start of any service) and keeps its entry fresh. */
export async function joinServiceDirectory(options: ServiceDirectoryOptions): Promise<ServiceDirectory> {
  const { database, serviceName, node, logger } = options;
  const { db } = database;
  const everyMs = options.everyMs ?? 2_000;
  const liveMs = options.liveMs ?? 10_000;
  const cacheMs = options.cacheMs ?? 1_000;
  await createTable(database);
  const beat = () => sql`
    insert into ${TABLE} (service_name, node, address, services, heartbeat_at)
    values (${serviceName}, ${node}, ${options.address}, ${[...options.services]}::text[], now())
    on conflict (service_name, node) do update set address = excluded.address, services = excluded.services, heartbeat_at = now()`.execute(db);
  await beat();
  let failures = 0;
  const timer = setInterval(() => {
    beat().then(() => (failures = 0), (error: unknown) => {
      // The next beat tries again; other services stop using this node only after liveMs without one.
      if (failures++ === 0) logger.warn({ err: error, service: serviceName }, `could not refresh this node's entry in the service directory: ${error instanceof Error ? error.message : String(error)}`);
    });
  }, everyMs);
  timer.unref();
  const cache = new Map<string, { at: number; entries: Promise<readonly DirectoryEntry[]> }>();
  return {
    find(service) {
      const hit = cache.get(service);
      if (hit !== undefined && performance.now() - hit.at < cacheMs) return hit.entries;
      const entries = sql<{ service_name: string; address: string }>`
        select service_name, address from ${TABLE}
         where ${service} = any(services) and service_name <> ${serviceName}
           and heartbeat_at > now() - make_interval(secs => ${liveMs / 1000})
         order by heartbeat_at desc`.execute(db).then(({ rows }) => rows.map((r) => ({ serviceName: r.service_name, address: r.address })));
      cache.set(service, { at: performance.now(), entries });
      entries.catch(() => cache.delete(service));
      return entries;
    },
    forget(service) {
      cache.delete(service);
    },
    async close() {
      clearInterval(timer);
      await sql`delete from ${TABLE} where service_name = ${serviceName} and node = ${node}`.execute(db).catch(() => undefined);
    },
  };
}

async function createTable(database: Database): Promise<void> {
  const create = () => sql`
    create table if not exists ${TABLE} (
      service_name text not null,
      node text not null,
      address text not null,
      services text[] not null,
      heartbeat_at timestamptz not null,
      primary key (service_name, node)
    )`.execute(database.db);
  try {
    await create();
  } catch {
    // Two services creating it at once: one of them wins (a unique violation on the catalog for the other).
    await create();
  }
}
