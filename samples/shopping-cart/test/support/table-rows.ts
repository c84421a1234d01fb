import { PGlite } from "@electric-sql/pglite";
import pg from "pg";

/**
 * The rows of a view table, read with SQL, ordered by key. On PGlite the
 * service is stopped first: its data directory belongs to one process at a time.
 */
export async function tableRows(sqlName: string, storage: { databaseUrl: string | undefined; dataDir: string }, service: { stop(): Promise<void> }): Promise<unknown[]> {
  const text = `select key, row from ${sqlName} order by key`;
  if (storage.databaseUrl !== undefined) {
    const client = new pg.Client({ connectionString: storage.databaseUrl });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  }
  await service.stop();
  const db = new PGlite(storage.dataDir);
  try {
    return (await db.query(text)).rows;
  } finally {
    await db.close();
  }
}
