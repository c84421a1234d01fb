// CPU time of PostgreSQL processes on this machine, read from Linux /proc:
// one backend by pid (precise, from /proc/<pid>/schedstat in nanoseconds), the
// backends of one database (found by their process title), and the whole
// server. Elsewhere every reading is undefined.
import { readdirSync, readFileSync } from "node:fs";

/** Nanoseconds process `pid` has run on a CPU; undefined when /proc cannot tell. */
export function cpuNanos(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return undefined;
  }
}

/** The CPU counters of every postgres process at one moment, by pid. */
export type PostgresCpu = ReadonlyMap<number, { readonly nanos: number; readonly ours: boolean }>;

/** Reads the CPU counters of every postgres process now, marking the backends of `database`; undefined without /proc. */
export function postgresCpu(database: string): PostgresCpu | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const processes = new Map<number, { nanos: number; ours: boolean }>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "postgres") continue;
      const nanos = Number(readFileSync(`/proc/${entry}/schedstat`, "utf8").split(" ")[0]);
      // A backend's title is "postgres: 15/main: <user> <database> <client> <state>".
      processes.set(Number(entry), { nanos, ours: readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(` ${database} `) });
    } catch {
      // The process ended while it was being read.
    }
  }
  return processes;
}

/**
 * Cores used between two readings (1.0 = one core busy the whole time): by
 * the whole server, and by the backends of the database. A process that
 * ended in between is not counted; one that started counts in full.
 */
export function coresBetween(a: PostgresCpu | undefined, b: PostgresCpu | undefined, seconds: number): { server: number; database: number } | undefined {
  if (a === undefined || b === undefined) return undefined;
  let server = 0;
  let database = 0;
  for (const [pid, { nanos, ours }] of b) {
    const used = nanos - (a.get(pid)?.nanos ?? 0);
    server += used;
    if (ours) database += used;
  }
  return { server: server / 1e9 / seconds, database: database / 1e9 / seconds };
}
