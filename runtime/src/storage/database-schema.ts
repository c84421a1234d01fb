// ORRERY_DATABASE_SCHEMA: one service's Orrery tables in a schema of their own,
// so that services sharing one PostgreSQL database do not form one cluster.
import { sql } from "kysely";
import type { Kysely } from "kysely";
import pg from "pg";

const MAX_SCHEMA_NAME_LENGTH = 40;

/**
 * Why `name` cannot hold a service's tables, or undefined when it can: letters,
 * digits and _, not starting with a digit or pg_, and short enough that the
 * schema's NOTIFY channels (`<schema>.orrery_view_changes`) fit PostgreSQL's
 * 63-byte identifiers.
 */
export function checkSchemaName(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `${JSON.stringify(name)} is not a schema name: use letters, digits and _, not starting with a digit (e.g. funds_wallet)`;
  if (/^pg_/i.test(name)) return `${JSON.stringify(name)} starts with pg_, which PostgreSQL keeps for its own schemas`;
  if (name.length > MAX_SCHEMA_NAME_LENGTH) return `${JSON.stringify(name)} is ${name.length} characters; use at most ${MAX_SCHEMA_NAME_LENGTH}`;
  return undefined;
}

/** The pg connection option that makes `schema` the only place unqualified names resolve (pg_catalog stays implicit). */
export function searchPathOption(schema: string): string {
  // Quoted, as CREATE SCHEMA and Kysely quote it: the case is kept.
  return `-c search_path=${pg.escapeIdentifier(schema)}`;
}

/**
 * Creates `schema` unless it exists. Looked up first, so a role without CREATE
 * on the database can use a schema made for it; two processes creating it at
 * once is fine (the loser finds it).
 */
export async function ensureSchema<T>(db: Kysely<T>, schema: string): Promise<void> {
  const exists = async () => (await sql<{ found: boolean }>`select exists (select 1 from pg_namespace where nspname = ${schema}) as found`.execute(db)).rows[0]?.found === true;
  if (await exists()) return;
  try {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  } catch (error) {
    if (!(await exists())) throw error;
  }
}

/** The NOTIFY channel `name` of a database whose tables are in `schema`: services in other schemas do not hear it. */
export function channelIn(schema: string | undefined, name: string): string {
  return schema === undefined ? name : `${schema}.${name}`;
}
