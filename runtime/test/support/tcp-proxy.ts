// A TCP proxy a test controls, for network faults between a client and any
// TCP server (a PostgreSQL server today, another cluster node tomorrow).
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";

/** What the proxy does with traffic right now. */
export type TcpProxyMode = "open" | "cut" | "blackhole" | "deaf";

/** A running proxy on 127.0.0.1; see {@link startTcpProxy}. */
export interface TcpProxy {
  readonly host: "127.0.0.1";
  /** The port clients connect to instead of the target's. */
  readonly port: number;
  readonly mode: TcpProxyMode;
  /** Client connections currently open through the proxy. */
  readonly connections: number;
  /** Destroys every proxied connection now, and destroys new ones on accept, until {@link restore}. */
  cut(): void;
  /**
   * A network partition: connections stay open and new ones are accepted, but
   * nothing is forwarded either way (the proxy stops reading, so bytes queue
   * up) until {@link restore}, so clients hang instead of failing. The
   * client's own TCP connection stays healthy (the proxy's kernel still ACKs,
   * keepalives included), so only application-level timeouts notice.
   */
  blackhole(): void;
  /**
   * Half a partition: what clients send still reaches the target, but nothing
   * comes back (queued until {@link restore}), so a statement runs, and may
   * commit, while its client hears nothing: a lost answer.
   */
  deafen(): void;
  /** Forwards again: queued bytes flow, and new connections reach the target. */
  restore(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
}

/**
 * Starts a proxy on 127.0.0.1 (a free port) that forwards every connection
 * to `target`.
 *
 * @example
 * const proxy = await startTcpProxy({ host: "127.0.0.1", port: pgPort });
 * const url = `postgres://postgres@127.0.0.1:${proxy.port}/postgres`;
 * proxy.cut(); // ... the client's queries fail ...
 * proxy.restore(); // ... a new connection works again
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: TcpProxyMode = "open";
  const pairs = new Set<Pair>();

  const dial = (pair: Pair) => {
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    forward(pair.client, upstream, () => mode === "open" || mode === "deaf");
    forward(upstream, pair.client, () => mode === "open");
    if (mode !== "open") upstream.pause(); // attaching a 'data' listener made it flow
  };
  const server: Server = createServer((client) => {
    if (mode === "cut") return void client.destroy();
    const pair: Pair = { client, upstream: undefined };
    pairs.add(pair);
    client.once("close", () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    client.on("error", () => undefined); // 'close' follows and cleans up
    client.pause();
    // While blackholed, the target sees nothing of the new connection until restore().
    if (mode === "open" || mode === "deaf") dial(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    host: "127.0.0.1",
    port,
    get mode() {
      return mode;
    },
    get connections() {
      return pairs.size;
    },
    cut() {
      mode = "cut";
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
    },
    blackhole() {
      mode = "blackhole";
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream?.pause();
      }
    },
    deafen() {
      mode = "deaf";
      for (const pair of pairs) {
        if (pair.upstream === undefined) dial(pair);
        pair.upstream!.pause();
        pair.client.resume();
      }
    },
    restore() {
      mode = "open";
      for (const pair of pairs) {
        if (pair.upstream === undefined) dial(pair);
        pair.client.resume();
        pair.upstream!.resume();
      }
    },
    async close() {
      mode = "cut";
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Copies `from` to `to` while `open()`, with backpressure; an end or error on one side ends the other. */
function forward(from: Socket, to: Socket, open: () => boolean): void {
  from.on("data", (chunk) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on("drain", () => {
    if (open()) from.resume();
  });
  from.once("end", () => to.end());
  from.once("close", () => to.destroy());
  from.on("error", () => undefined); // 'close' follows
  if (open()) from.resume();
}
