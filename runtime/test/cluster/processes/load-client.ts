// An external client under continuous load: AddItem calls with a unique
// product id each, over many carts, round-robin over every node, with each
// call's outcome recorded for the journal check.
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { IDEMPOTENCY_KEY_HEADER } from "@orrery/sdk";
import { ShoppingCartService } from "../../../../samples/shopping-cart/src/gen/shop/cart/v1/cart_pb.js";

/** One logical AddItem call and how it ended. */
export interface CallRecord {
  readonly cartId: string;
  readonly productId: string;
  /** `performance.now()` when it was issued and when it settled. */
  readonly startedAt: number;
  endedAt: number;
  /** The node URLs tried, in order. */
  readonly tried: string[];
  /** The reply came back (the command is acknowledged). */
  ok: boolean;
  /** Attempts the server refused unprocessed (HTTP/2 REFUSED_STREAM), counted as UNAVAILABLE. */
  refused: number;
  /** The last failure, when not ok (Code name and message). */
  code?: string;
  message?: string;
}

/** Options for {@link startLoad}. */
export interface LoadOptions {
  /** Carts the calls spread over (default 100). */
  readonly carts?: number;
  /** Calls in flight at once (default 6). */
  readonly concurrency?: number;
  /** Per-attempt deadline (default 3,000 ms). */
  readonly timeoutMs?: number;
  /**
   * A well-behaved client: retries UNAVAILABLE (only) up to this many attempts in all,
   * with exponential backoff from 50 ms, on the next node each time. Default 1: no retries.
   */
  readonly attempts?: number;
  /** Pause between one worker's calls (default 5 ms), to keep the load light on a shared machine. */
  readonly pauseMs?: number;
  /** Prefix of cart and product ids, unique per test. */
  readonly prefix: string;
}

/** A running load; {@link Load.stop} ends it and returns every call. */
export interface Load {
  readonly calls: readonly CallRecord[];
  stop(): Promise<CallRecord[]>;
}

/** Starts `concurrency` workers calling AddItem round-robin over `urls()` (read per call, so nodes can join). */
export function startLoad(urls: () => readonly string[], options: LoadOptions): Load {
  const { carts = 100, concurrency = 6, timeoutMs = 3_000, attempts = 1, pauseMs = 5, prefix } = options;
  const clients = new Map<string, Client<typeof ShoppingCartService>>();
  const clientOf = (url: string) => {
    let client = clients.get(url);
    if (client === undefined) clients.set(url, (client = createClient(ShoppingCartService, createConnectTransport({ baseUrl: url, httpVersion: "2" }))));
    return client;
  };
  const calls: CallRecord[] = [];
  let next = 0;
  let stopped = false;

  async function call(record: CallRecord): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const all = urls();
      let url = all[next++ % all.length]!;
      // A retry goes to another node than the one that just failed.
      if (url === record.tried.at(-1) && all.length > 1) url = all[next++ % all.length]!;
      record.tried.push(url);
      try {
        // Under one idempotency key per command, as a client that retries should: a retry of a command whose outcome was
        // unknown (its node stopped or went silent mid-commit) is answered from the first, never applied twice.
        const reply = await clientOf(url).addItem(
          { cartId: record.cartId, productId: record.productId, name: "P", quantity: 1 },
          { timeoutMs, headers: { [IDEMPOTENCY_KEY_HEADER]: record.productId } },
        );
        if (!reply.items.some((item) => item.productId === record.productId)) throw new Error(`the reply to ${record.productId} lacks its item`);
        record.ok = true;
        return;
      } catch (error) {
        const failure = ConnectError.from(error);
        // connect-node reports a stream the server refused unprocessed (REFUSED_STREAM, behind its GOAWAY) as INTERNAL;
        // HTTP/2 and gRPC make it UNAVAILABLE, safe to retry (grpc-js: "Stream refused by server").
        const refused = failure.code === Code.Internal && /NGHTTP2_REFUSED_STREAM/.test(failure.rawMessage);
        if (refused) record.refused++;
        const code = refused ? Code.Unavailable : failure.code;
        record.code = Code[code];
        record.message = failure.rawMessage;
        if (code !== Code.Unavailable || attempt >= attempts || stopped) return;
        await sleep(50 * 2 ** (attempt - 1));
      }
    }
  }

  async function worker(w: number): Promise<void> {
    for (let i = 0; !stopped; i++) {
      const record: CallRecord = {
        cartId: `${prefix}-cart-${(w + i * concurrency) % carts}`, productId: `${prefix}-w${w}-${i}`,
        startedAt: performance.now(), endedAt: 0, tried: [], ok: false, refused: 0,
      };
      calls.push(record);
      await call(record);
      record.endedAt = performance.now();
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  const workers = Array.from({ length: concurrency }, (_, w) => worker(w));
  return {
    calls,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return calls;
    },
  };
}

/**
 * Whether a failure is the client's own report of a connection whose server
 * process died under it: connect-node reports that as ABORTED (ECONNRESET) or
 * CANCELED (the HTTP/2 stream closed with CANCEL), not UNAVAILABLE, though no
 * server answered.
 */
export function connectionReset(call: CallRecord): boolean {
  if (call.ok) return false;
  return (call.code === "Aborted" && /ECONNRESET/.test(call.message ?? "")) || (call.code === "Canceled" && /^http\/2 stream closed with error code CANCEL/.test(call.message ?? ""));
}

/** The failed calls grouped by code, e.g. `{ Unavailable: 3 }`. */
export function failuresByCode(calls: readonly CallRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of calls) if (!call.ok) counts[call.code ?? "?"] = (counts[call.code ?? "?"] ?? 0) + 1;
  return counts;
}

/** Up to `max` distinct failure messages (entity and product ids, ports and numbers blurred), each with its count. */
export function failureSamples(calls: readonly CallRecord[], max = 4): string[] {
  const counts = new Map<string, number>();
  for (const call of calls) {
    if (call.ok) continue;
    const text = `${call.code}: ${(call.message ?? "").replace(/"[^"]*"/g, '"…"').replace(/\d+/g, "N")}`;
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, max).map(([text, n]) => `${n}× ${text}`);
}
