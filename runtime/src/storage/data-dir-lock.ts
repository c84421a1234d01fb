import { mkdir, open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { StorageError, errorCode } from "./storage-errors.js";

/** An exclusive claim on a PGlite data directory, held while the database is open. */
export interface DataDirLock {
  /** Removes the lock file. Idempotent. */
  release(): Promise<void>;
}

/**
 * Claims `dataDir` for this process through a `<dataDir>.lock` file holding
 * the pid, creating parent directories as needed. PGlite has no locking of its
 * own: two processes on one data directory both start, and one silently loses
 * the other's commits. A lock left by a process that no longer exists is
 * taken over.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const lockPath = `${path.resolve(dataDir)}.lock`;
  await mkdir(path.dirname(lockPath), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      let released: Promise<void> | undefined;
      return { release: () => (released ??= rm(lockPath, { force: true })) };
    } catch (error) {
      if (errorCode(error) !== "EEXIST" || attempt > 0) {
        throw new StorageError(`could not lock PGlite data directory ${dataDir} (${lockPath})`, { cause: error });
      }
    }
    const holder = Number.parseInt(await readFile(lockPath, "utf8").catch(() => ""), 10);
    if (holder === process.pid) {
      throw new StorageError(`PGlite data directory ${dataDir} is already open in this process; close that database first`);
    }
    if (isRunning(holder)) {
      throw new StorageError(
        `PGlite data directory ${dataDir} is in use by process ${holder}: PGlite serves one process per data directory ` +
          `(set DATABASE_URL to share a PostgreSQL server); if that process is not Orrery, delete ${lockPath}`,
      );
    }
    await rm(lockPath, { force: true }); // left behind by a process that crashed
  }
}

function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === "EPERM"; // exists, owned by another user
  }
}
