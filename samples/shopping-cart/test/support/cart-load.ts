// Load for fault tests: concurrent clients adding unique products to carts,
// recording every call's outcome, and a /readyz poller recording every answer.
import { ConnectError, createClient } from "@connectrpc/connect";
import type { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ShoppingCartService } from "../../src/gen/shop/cart/v1/cart_pb.js";

/** One AddItem call and how it ended; times are `performance.now()` milliseconds. */
export interface AddItemCall {
  readonly cartId: string;
  readonly productId: string;
  readonly startedAt: number;
  endedAt: number;
  ok: boolean;
  /** Set when the call failed. */
  code?: Code;
  /** The error's message without the `[code]` prefix. */
  message?: string;
}

/** Running load; see {@link startCartLoad}. */
export interface CartLoad {
  /** Every call so far, finished or not. */
  readonly calls: readonly AddItemCall[];
  readonly acknowledged: number;
  /** The end of the first call acknowledged at or after `time`. */
  firstAckAfter(time: number): number | undefined;
  /** Stops sending and waits for the calls in flight. */
  stop(): Promise<void>;
}

/** Options for {@link startCartLoad}. */
export interface CartLoadOptions {
  readonly clients: number;
  readonly carts: number;
  /** Cart ids are `<prefix>-cart-<n>`. */
  readonly prefix: string;
  /** Per-call timeout; generous so that the server answers first. */
  readonly timeoutMs: number;
}

/**
 * Starts `clients` workers, each with its own connection (every fourth one on
 * HTTP/1.1, the others on HTTP/2), each sending AddItem with a product id used
 * nowhere else and quantity 1, one call at a time; after a failure a worker
 * waits 50 ms and goes on with a new product id.
 */
export function startCartLoad(baseUrl: string, options: CartLoadOptions): CartLoad {
  const calls: AddItemCall[] = [];
  let acknowledged = 0;
  let stopped = false;
  const workers = Array.from({ length: options.clients }, async (_, w) => {
    const httpVersion = w % 4 === 3 ? "1.1" : "2";
    const client = createClient(ShoppingCartService, createConnectTransport({ baseUrl, httpVersion }));
    for (let n = 0; !stopped; n++) {
      const call: AddItemCall = {
        cartId: `${options.prefix}-cart-${(w * 2 + n) % options.carts}`,
        productId: `${options.prefix}-w${w}-n${n}`,
        startedAt: performance.now(),
        endedAt: Number.NaN,
        ok: false,
      };
      calls.push(call);
      try {
        await client.addItem({ cartId: call.cartId, productId: call.productId, name: "P", quantity: 1 }, { timeoutMs: options.timeoutMs });
        call.ok = true;
        acknowledged++;
      } catch (error) {
        const e = ConnectError.from(error);
        call.code = e.code;
        call.message = e.rawMessage;
      }
      call.endedAt = performance.now();
      if (!call.ok) await sleep(50);
    }
  });
  return {
    calls,
    get acknowledged() {
      return acknowledged;
    },
    firstAckAfter(time) {
      let first: number | undefined;
      for (const c of calls) if (c.ok && c.endedAt >= time && (first === undefined || c.endedAt < first)) first = c.endedAt;
      return first;
    },
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/** One answer of `/readyz`, or `"no answer"` when the request failed or took over a second. */
export interface ReadyzSample {
  readonly at: number;
  readonly status: number | "no answer";
  readonly body: string;
}

/** Polls `<baseUrl>/readyz` every `everyMs` until `stop()`. */
export function pollReadyz(baseUrl: string, everyMs = 50): { readonly samples: readonly ReadyzSample[]; stop(): Promise<void> } {
  const samples: ReadyzSample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const at = performance.now();
      try {
        const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
        samples.push({ at, status: res.status, body: (await res.text()).trim() });
      } catch {
        samples.push({ at, status: "no answer", body: "" });
      }
      await sleep(everyMs);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
