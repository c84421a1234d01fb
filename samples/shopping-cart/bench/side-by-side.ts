// The REST and JWT rows beside the Connect rows they are measured against:
// REST AddItem and GetCart against Connect's over the same client shape
// (h1×64) and carts, GetCart with a bearer token against GetCart without in
// each shape. The difference in the server's CPU per call is what REST (JSON
// and the route) or the token's verification adds to a call.
import type { ScenarioResult, StorageRun } from "./bench-report.js";
import type { StorageKind } from "./bench-storage.js";
import { serverMicrosPerCall } from "./bench-targets.js";
import type { VerificationCost } from "./token-verification-cost.js";

/** The client shape of the REST rows: HTTP/1.1 keep-alive connections, like most REST clients. */
export const REST_CLIENT = "h1x64";

/** One measured row as a comparison shows it. */
export interface ComparedRow {
  readonly id: string;
  readonly rps: number;
  readonly p99Ms: number;
  readonly serverMicrosPerCall: number | undefined;
  readonly errors: number;
}

/** A row against its reference, on one storage and client shape. */
export interface SideBySide {
  readonly name: string;
  readonly storage: StorageKind;
  readonly client: string;
  readonly row: ComparedRow;
  /** The row it is compared with; undefined when it was not measured (BENCH_SCENARIOS). */
  readonly reference: ComparedRow | undefined;
  /** row ÷ reference by req/s. */
  readonly rpsRatio: number | undefined;
  /** The server's CPU per call, row − reference, in µs: what the row's extra work costs. */
  readonly extraMicrosPerCall: number | undefined;
}

/** The comparisons the measured rows allow; a REST or JWT row that was not measured has none. */
export function sideBySide(runs: readonly StorageRun[], manyCarts: number): SideBySide[] {
  const pairs = [
    { id: `rest-additem-${manyCarts}carts-c64`, reference: `additem-${manyCarts}carts-c64`, name: "REST AddItem vs Connect AddItem" },
    { id: `rest-getcart-${manyCarts}carts-c64`, reference: `getcart-${manyCarts}carts-c64`, name: "REST GetCart vs Connect GetCart" },
    { id: `getcart-jwt-${manyCarts}carts-c64`, reference: `getcart-${manyCarts}carts-c64`, name: "GetCart with a bearer token vs without" },
  ];
  return runs.flatMap((run) =>
    pairs.flatMap(({ id, reference, name }) =>
      run.results.filter((r) => r.id === id).map((r): SideBySide => {
        const other = run.results.find((o) => o.id === reference && o.client === r.client);
        const mine = serverMicrosPerCall(r);
        const theirs = other && serverMicrosPerCall(other);
        return {
          name, storage: run.storage, client: r.client, row: compared(r), reference: other && compared(other),
          rpsRatio: other !== undefined && other.rps > 0 ? r.rps / other.rps : undefined,
          extraMicrosPerCall: mine !== undefined && theirs !== undefined ? mine - theirs : undefined,
        };
      }),
    ),
  );
}

function compared(r: ScenarioResult): ComparedRow {
  return { id: r.id, rps: r.rps, p99Ms: r.latencyMs.p99, serverMicrosPerCall: serverMicrosPerCall(r), errors: r.errors };
}

const STORAGE_LABEL: Record<StorageKind, string> = { pglite: "PGlite", postgres: "PostgreSQL" };

/** The comparisons and the in-process cost per verification, for stdout. */
export function formatSideBySide(rows: readonly SideBySide[], verification: readonly VerificationCost[]): string {
  const out: string[] = [];
  if (rows.length > 0) {
    out.push("REST and JWT beside Connect (same server, carts and c=64; srv µs/call difference = what the extra work costs the server):");
    for (const s of rows) {
      const figures = (r: ComparedRow): string => `${r.rps.toFixed(0)} req/s, ${r.serverMicrosPerCall?.toFixed(0) ?? "?"} srv µs/call, p99 ${r.p99Ms.toFixed(2)} ms`;
      const versus = s.reference === undefined
        ? "reference row not measured"
        : `${figures(s.reference)} → ${(s.rpsRatio! * 100).toFixed(0)}% req/s, ${s.extraMicrosPerCall === undefined ? "?" : signed(s.extraMicrosPerCall)} µs/call`;
      out.push(`  ${STORAGE_LABEL[s.storage].padEnd(10)}  ${s.client.padEnd(6)}  ${s.name}: ${figures(s.row)} against ${versus}`);
    }
  }
  if (verification.length > 0) {
    out.push("Bearer token verification in-process (the runtime's verifier: signature, alg, iss, exp), median of rounds:");
    for (const v of verification) {
      out.push(`  ${v.algorithm.padEnd(6)} ${v.microsPerVerification.toFixed(1)} µs per verification (${v.rounds.length} rounds of ${v.verificationsPerRound}: ${v.rounds.map((r) => r.toFixed(1)).join(", ")})`);
    }
  }
  return out.join("\n");
}

function signed(value: number): string {
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(0)}`;
}
