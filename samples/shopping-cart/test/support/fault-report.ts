// Judging and describing what callers saw in a fault test: internals leaked in
// error messages, error kinds, /readyz answers, process output.
import { Code } from "@connectrpc/connect";
import type { AddItemCall, ReadyzSample } from "./cart-load.js";

/** What, if anything, an error message a caller got reveals of the internals (empty when nothing). */
export function internalsIn(message: string, databasePorts: readonly number[]): string[] {
  const patterns: Array<[string, RegExp]> = [
    ...databasePorts.map((p): [string, RegExp] => [`the database port ${p}`, new RegExp(`\\b${p}\\b`)]),
    ["a host address", /127\.0\.0\.1|localhost|::1/i],
    ["a socket error code", /\bE(?:CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|ADDRNOTAVAIL)\b/],
    ["a PostgreSQL or pg message", /terminating connection|database system is|administrator command|Connection terminated|server closed the connection|connection refused|timeout exceeded when trying to connect|Query read timeout|timeout expired|connection timeout|not queryable|too many clients|SQLSTATE|\b57P0\d\b|orrery_events|pg_stat/i],
    ["a stack trace", /\n\s*at |\bat [\w$.<>]+ \(/],
    ["a file path", /file:\/\/|node_modules|\.[cm]?[jt]s:\d+|(?:^|[\s("'=])\/(?:work|home|tmp|usr|root|var|opt)\//],
  ];
  return patterns.filter(([, re]) => re.test(message)).map(([what]) => what);
}

/** Counts per code, e.g. `12 Unavailable, 1 Internal`. */
export function summarizeCodes(failed: readonly AddItemCall[]): string {
  const counts = new Map<string, number>();
  for (const c of failed) counts.set(Code[c.code!], (counts.get(Code[c.code!]) ?? 0) + 1);
  return counts.size === 0 ? "none" : [...counts].map(([code, n]) => `${n} ${code}`).join(", ");
}

/** The errors grouped by code and message shape (quoted ids and numbers blanked), with counts and one example each. */
export function listErrors(calls: readonly AddItemCall[]): string {
  const groups = new Map<string, { n: number; example: string }>();
  for (const c of calls) {
    const message = c.message ?? "";
    const key = `${Code[c.code!]}: ${message.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, "N")}`;
    const group = groups.get(key) ?? { n: 0, example: `${Code[c.code!]}: ${message}` };
    group.n++;
    groups.set(key, group);
  }
  const lines = [...groups.values()].sort((a, b) => b.n - a.n).map(({ n, example }) => `    ${n}× e.g. ${example}`);
  return (lines.length > 12 ? [...lines.slice(0, 12), `    … and ${lines.length - 12} more kinds`] : lines).join("\n");
}

/** The distinct /readyz answers in a time window, in order, e.g. `200 serving ×40`. */
export function describeSamples(samples: readonly ReadyzSample[], from: number, to: number): string {
  const runs: string[] = [];
  let last = "";
  let n = 0;
  for (const s of samples.filter((x) => x.at >= from && x.at <= to)) {
    const key = `${s.status} ${s.body}`.trim();
    if (key === last) n++;
    else {
      if (n > 0) runs.push(`${last} ×${n}`);
      last = key;
      n = 1;
    }
  }
  if (n > 0) runs.push(`${last} ×${n}`);
  return runs.join(", ") || "nothing";
}

/** The last 3,000 characters of a process's output. */
export function tail(output: string): string {
  return output.length > 3_000 ? `…${output.slice(-3_000)}` : output;
}
