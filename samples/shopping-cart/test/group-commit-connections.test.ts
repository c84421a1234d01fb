import assert from "node:assert/strict";
import * as net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { createService } from "@orrery/runtime";
import type { OrreryService } from "@orrery/runtime";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { pino } from "pino";
import { cart } from "../src/cart.js";
import { AddItemRequestSchema, GetCartRequestSchema } from "../src/gen/shop/cart/v1/cart_pb.js";
import { freshStorageOn } from "./support/storage.js";
import type { TestStorage } from "./support/storage.js";

const CONNECTIONS = 32;

// Regression: on PGlite a flush started on the first ready command blocked the thread, so the
// commands that arrived on other connections in the same loop turn got one commit each.
for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`group commit across connections, on ${dialect}`, function () {
    this.timeout(60_000);
    let storage: TestStorage;
    let service: OrreryService;
    let port: number;

    before(async () => {
      storage = await freshStorageOn(dialect);
      // An undefined databaseUrl means "from the environment": keep a DATABASE_URL set for the suite away from the PGlite run.
      const inherited = process.env["DATABASE_URL"];
      if (storage.databaseUrl === undefined) delete process.env["DATABASE_URL"];
      try {
        service = createService({
          components: [cart], port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
          databaseUrl: storage.databaseUrl, dataDir: storage.dataDir,
        });
      } finally {
        if (inherited !== undefined) process.env["DATABASE_URL"] = inherited;
      }
      port = (await service.start()).port;
    });
    after(async () => {
      await service?.stop();
      await storage?.cleanup();
    });

    it(`commits ${CONNECTIONS} commands for ${CONNECTIONS} entities that arrive on ${CONNECTIONS} connections in one burst in fewer than ${CONNECTIONS} commits`, async () => {
      const ids = Array.from({ length: CONNECTIONS }, (_, i) => `burst-${i}`);
      const sockets = await Promise.all(ids.map(() => connect(port)));
      try {
        // Activate every cart first, so the burst is pure appends.
        await Promise.all(ids.map((cartId, i) => call(sockets[i]!, "GetCart", toBinary(GetCartRequestSchema, create(GetCartRequestSchema, { cartId })))));
        const requests = ids.map((cartId) =>
          toBinary(AddItemRequestSchema, create(AddItemRequestSchema, { cartId, productId: "pen", name: "Pen", quantity: 1 })),
        );
        // One synchronous loop: every request leaves in the same turn, each on its own connection.
        const replies = sockets.map((socket, i) => call(socket, "AddItem", requests[i]!));
        const statuses = await Promise.all(replies);
        assert.deepEqual(statuses, ids.map(() => 200));
      } finally {
        for (const socket of sockets) socket.destroy();
      }
      await service.stop();
      const commits = await distinctTransactions(storage, ids);
      console.log(`      ${dialect}: ${CONNECTIONS} AddItem calls on ${CONNECTIONS} connections were committed in ${commits} transactions`);
      assert.ok(commits < CONNECTIONS, `${commits} commits for ${CONNECTIONS} commands: they were not batched`);
    });
  });
}

/** The number of transactions that wrote the carts' AddItem events (every event of a commit shares its tx_id). */
async function distinctTransactions(storage: TestStorage, ids: readonly string[]): Promise<number> {
  const query = "select count(distinct tx_id)::int as n from orrery_events where entity_id = any($1) and event_type = 'shop.cart.v1.ItemAdded'";
  if (storage.databaseUrl !== undefined) {
    const client = new pg.Client({ connectionString: storage.databaseUrl });
    await client.connect();
    try {
      return (await client.query<{ n: number }>(query, [ids])).rows[0]!.n;
    } finally {
      await client.end();
    }
  }
  const pglite = await PGlite.create(storage.dataDir);
  try {
    return (await pglite.query<{ n: number }>(query, [ids])).rows[0]!.n;
  } finally {
    await pglite.close();
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** One Connect unary call over HTTP/1.1 keep-alive on `socket`; resolves with the status code once the whole reply is in. */
function call(socket: net.Socket, method: string, body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString("latin1");
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? "0");
      if (buffered.length < end + 4 + length) return;
      socket.off("data", onData);
      resolve(Number(head.split(" ", 2)[1]));
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write(
      `POST /shop.cart.v1.ShoppingCartService/${method} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/proto\r\n` +
        `content-length: ${body.byteLength}\r\n\r\n`,
    );
    socket.write(body);
  });
}
