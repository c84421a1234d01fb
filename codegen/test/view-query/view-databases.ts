// The databases the view query SQL runs on: PGlite always, and the
// PostgreSQL server at DATABASE_URL when it is set (CI sets it), each test
// file in a schema of its own that is dropped afterwards.
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";

/** What the SQL tests need of a database. */
export interface SqlDatabase {
  query<T>(sql: string, params?: readonly (string | null)[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** A database to run the tests on, opened per test file. */
export interface ViewDatabase {
  readonly name: string;
  open(): Promise<SqlDatabase>;
}

/** PGlite, plus PostgreSQL when DATABASE_URL is set. */
export function viewDatabases(): ViewDatabase[] {
  const databases: ViewDatabase[] = [{ name: "PGlite", open: openPGlite }];
  const url = process.env.DATABASE_URL;
  if (url !== undefined && url !== "") databases.push({ name: "PostgreSQL", open: () => openPostgres(url) });
  return databases;
}

async function openPGlite(): Promise<SqlDatabase> {
  const db = await PGlite.create();
  return {
    query: (sql, params) => db.query(sql, params ? [...params] : []),
    exec: async (sql) => {
      await db.exec(sql);
    },
    close: () => db.close(),
  };
}

async function openPostgres(url: string): Promise<SqlDatabase> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const schema = `view_query_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(`SET search_path TO ${schema}`);
  return {
    query: async <T>(sql: string, params?: readonly (string | null)[]) => ({ rows: (await client.query(sql, params ? [...params] : [])).rows as T[] }),
    exec: async (sql) => {
      await client.query(sql);
    },
    close: async () => {
      try {
        await client.query(`DROP SCHEMA ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
