// The design targets as ratios of measured rows. They are reported,
// never asserted: a busy 2-core machine moves them more than a change does.
import type { ScenarioResult, StorageRun } from "./bench-report.js";
import { SINGLE_SESSION } from "./client-shape.js";
import type { StorageKind } from "./bench-storage.js";

/** A ratio of two rows of one storage and one client shape against its goal. */
export interface TargetCheck {
  readonly name: string;
  readonly storage: StorageKind;
  /** The client shape both rows were measured in ("h1×64"). */
  readonly client: string;
  /** What the target is about: a req/s share of the no-op ceiling, or a CPU-per-call factor. */
  readonly ratio: number | undefined;
  /**
   * For a req/s share, the same comparison by the server's CPU time per call
   * (cheapest no-op ÷ scenario): what req/s would give on a quiet machine if
   * the server process were the limit.
   */
  readonly cpuRatio?: number | undefined;
  /** The most cores other work used during the compared windows; above ~0.25 the req/s ratio is suspect. */
  readonly noise: number | undefined;
  readonly target: number;
  /** "at least": ratio ≥ target (a share of the ceiling); "at most": ratio ≤ target (a cost factor). */
  readonly direction: "at least" | "at most";
  /** Whether the issue sets this target; the others are shown for comparison. */
  readonly binding: boolean;
}

/**
 * Per storage and per c=64 client shape: AddItem over many carts and GetCart
 * against the no-op ceiling measured in the same shape (the better of its two
 * runs), and the server's CPU per AddItem against the single h2 session's.
 * PostgreSQL carries ≥ 50% and ≥ 80% in every shape; PGlite carries ≥ 60% for
 * AddItem over 64 HTTP/1.1 connections; both carry CPU per persisted call
 * within 1.5× of one session's.
 */
export function targetChecks(runs: readonly StorageRun[], manyCarts: number): TargetCheck[] {
  return runs.flatMap((run) => {
    const shapes = [...new Set(run.results.filter((r) => r.concurrency === 64).map((r) => r.client))];
    return shapes.flatMap((client) => {
      const find = (id: string, shape = client): ScenarioResult | undefined => run.results.find((r) => r.id === id && r.client === shape);
      const noops = [find("noop-c64"), find("noop-c64-again")].filter((r) => r !== undefined && r.rps > 0) as ScenarioResult[];
      const ceiling = noops.reduce<ScenarioResult | undefined>((best, r) => (best === undefined || r.rps > best.rps ? r : best), undefined);
      const noopCosts = noops.map(serverMicrosPerCall).filter((c) => c !== undefined);
      const cheapest = noopCosts.length > 0 ? Math.min(...noopCosts) : undefined;
      const share = (id: string, rpc: string, target: number, binding: boolean): TargetCheck => {
        const r = find(id);
        const cost = r && serverMicrosPerCall(r);
        return {
          name: `${rpc} ${manyCarts} carts c=64 / best no-op c=64`, storage: run.storage, client, target, direction: "at least", binding,
          ratio: r && ceiling ? r.rps / ceiling.rps : undefined,
          cpuRatio: cost !== undefined && cheapest !== undefined ? cheapest / cost : undefined,
          noise: r && ceiling ? Math.max(r.cpu.other ?? 0, ceiling.cpu.other ?? 0) : undefined,
        };
      };
      const cost = (id: string, what: string): TargetCheck => {
        const r = find(id);
        const reference = find(id, SINGLE_SESSION.label);
        const mine = r && serverMicrosPerCall(r);
        const theirs = reference && serverMicrosPerCall(reference);
        return {
          name: `srv µs/call of ${what} c=64 ÷ ${SINGLE_SESSION.label}'s`, storage: run.storage, client, target: 1.5, direction: "at most", binding: true,
          ratio: mine !== undefined && theirs !== undefined ? mine / theirs : undefined,
          noise: r && reference ? Math.max(r.cpu.other ?? 0, reference.cpu.other ?? 0) : undefined,
        };
      };
      const postgres = run.storage === "postgres";
      return [
        share(`additem-${manyCarts}carts-c64`, "AddItem", postgres ? 0.5 : 0.6, postgres || client === "h1×64"),
        share(`getcart-${manyCarts}carts-c64`, "GetCart", 0.8, postgres),
        ...(client === SINGLE_SESSION.label ? [] : [cost(`additem-${manyCarts}carts-c64`, `AddItem ${manyCarts} carts`), cost("additem-1cart-c64", "AddItem 1 cart")]),
      ];
    });
  });
}

/** The server process's CPU time per good reply, in microseconds. */
export function serverMicrosPerCall(r: { readonly cpu: { readonly server: number | undefined }; readonly rps: number }): number | undefined {
  return r.cpu.server === undefined || r.rps === 0 ? undefined : (r.cpu.server * 1e6) / r.rps;
}
