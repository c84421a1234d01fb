// How the load generator connects: a protocol and a number of connections,
// written "h2x8" in settings and ids and "h2×8" in the table.
import { openH1Client } from "./load-generator-h1.js";
import { openH2Client } from "./load-generator-h2.js";
import type { LoadClient } from "./load-generator.js";

/** One client shape: HTTP/1.1 keep-alive connections or HTTP/2 sessions (h2c prior knowledge). */
export interface ClientShape {
  /** As in BENCH_CLIENTS and the JSON ids: "h1x64". */
  readonly id: string;
  /** As in the table and the JSON "client" field: "h1×64". */
  readonly label: string;
  readonly protocol: "h1" | "h2";
  readonly connections: number;
}

/** The shapes every c=64 row is measured in, by default. */
export const DEFAULT_CLIENT_SHAPES = ["h2x1", "h1x64", "h2x8"] as const;

/** One h2 session: the c=1 rows, the activation calls, and the reference for server CPU per call. */
export const SINGLE_SESSION: ClientShape = clientShape("h2x1")!;

/** Reads "h1x64" or "h2x8" (an "×" works too); undefined when it is neither. */
export function clientShape(id: string): ClientShape | undefined {
  const match = /^(h1|h2)[x×]([1-9]\d*)$/.exec(id.trim());
  if (match === null) return undefined;
  const protocol = match[1] as "h1" | "h2";
  const connections = Number(match[2]);
  return { id: `${protocol}x${connections}`, label: `${protocol}×${connections}`, protocol, connections };
}

/** Opens the connections of `shape` to `url`. */
export function openClient(shape: ClientShape, url: string): Promise<LoadClient> {
  return shape.protocol === "h1" ? openH1Client(url, shape.connections) : openH2Client(url, shape.connections);
}
