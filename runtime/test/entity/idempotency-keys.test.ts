// Commands sent with an idempotency key, through a real server and a real
// HTTP/2 client, on PGlite and PostgreSQL: a retry returns the first reply and
// persists nothing, across restarts too; concurrent duplicates apply once.
import assert from "node:assert/strict";
import type { Message } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { IDEMPOTENCY_KEY_HEADER } from "@orrery/sdk";
import { createService } from "../../src/index.js";
import type { OrreryService } from "../../src/index.js";
import { Counter, counterHandlers, CounterService, field, KvCounter, kvCounterHandlers } from "../../../sdk/test/fixtures.js";
import { freshStorageOn } from "../support/sample-storage.js";
import type { TestStorage } from "../support/sample-storage.js";
import { failure } from "../support/call-failure.js";

type CallOptions = { headers?: Record<string, string>; timeoutMs?: number };
interface CounterClient {
  add(request: { counterId: string; amount: number }, options?: CallOptions): Promise<Message>;
  get(request: { counterId: string }, options?: CallOptions): Promise<Message>;
}

const keyed = (key: string): CallOptions => ({ headers: { [IDEMPOTENCY_KEY_HEADER]: key } });
const valueOf = (reply: Message) => field(reply, "value") as number;

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`idempotency keys (${dialect})`, function () {
    this.timeout(60_000);
    let storage: TestStorage;
    let service: OrreryService | undefined;
    let client: CounterClient;

    async function start(components = [Counter.implement(counterHandlers)]): Promise<void> {
      service = createService({
        components, handleSignals: false, port: 0, host: "127.0.0.1", logLevel: "silent",
        // databaseUrl written out: undefined means PGlite even when the suite runs with DATABASE_URL.
        dataDir: storage.dataDir, databaseUrl: storage.databaseUrl,
      });
      const { url } = await service.start();
      client = createClient(CounterService, createConnectTransport({ baseUrl: url, httpVersion: "2" })) as unknown as CounterClient;
    }

    beforeEach(async () => {
      storage = await freshStorageOn(dialect);
      await start();
    });
    afterEach(async () => {
      await service?.stop();
      service = undefined;
      await storage.cleanup();
    });

    it("answers a retry with the first reply and persists nothing new, also after a restart", async () => {
      assert.equal(valueOf(await client.add({ counterId: "w", amount: 5 }, keyed("t1/deposit"))), 5);
      assert.equal(valueOf(await client.add({ counterId: "w", amount: 5 }, keyed("t1/deposit"))), 5);
      assert.equal(valueOf(await client.add({ counterId: "w", amount: 1 })), 6, "the retry added nothing");
      // The retry still answers what the first call answered, not the state now.
      assert.equal(valueOf(await client.add({ counterId: "w", amount: 5 }, keyed("t1/deposit"))), 5);
      assert.equal(valueOf(await client.add({ counterId: "w", amount: 2 }, keyed("t2/deposit"))), 8, "a new key applies");

      await service!.stop();
      await start();
      // The keys are read back from the journal: the retry after the restart applies nothing either.
      assert.equal(valueOf(await client.add({ counterId: "w", amount: 5 }, keyed("t1/deposit"))), 5);
      assert.equal(valueOf(await client.add({ counterId: "w", amount: 2 }, keyed("t2/deposit"))), 8);
      assert.equal(valueOf(await client.get({ counterId: "w" })), 8);
    });

    it("applies concurrent duplicates once, and each gets the same reply", async () => {
      await client.add({ counterId: "c", amount: 100 });
      const replies = await Promise.all(Array.from({ length: 20 }, () => client.add({ counterId: "c", amount: 7 }, keyed("dup"))));
      assert.deepEqual(new Set(replies.map(valueOf)), new Set([107]));
      assert.equal(valueOf(await client.get({ counterId: "c" })), 107);
    });

    it("records nothing for a rejected command: its retry runs again", async () => {
      const first = await failure(client.add({ counterId: "r", amount: 0 }, keyed("bad")));
      assert.equal(first.code, Code.InvalidArgument);
      const again = await failure(client.add({ counterId: "r", amount: 0 }, keyed("bad")));
      assert.equal(again.code, Code.InvalidArgument);
      assert.equal(valueOf(await client.get({ counterId: "r" })), 0);
    });

    it("ignores the key on a read-only rpc and refuses one longer than 256 characters", async () => {
      await client.add({ counterId: "g", amount: 1 });
      assert.equal(valueOf(await client.get({ counterId: "g" }, keyed("read"))), 1);
      await client.add({ counterId: "g", amount: 1 });
      assert.equal(valueOf(await client.get({ counterId: "g" }, keyed("read"))), 2, "a read with a key reads the state now");
      const long = await failure(client.add({ counterId: "g", amount: 1 }, keyed("k".repeat(257))));
      assert.equal(long.code, Code.InvalidArgument);
      assert.match(long.rawMessage, /CounterService\.Add for counter "g": the orrery-idempotency-key header is 257 characters; at most 256/);
    });

    it("holds for a key-value entity too: the keys live in its state row, across restarts", async () => {
      const kv = () => start([KvCounter.implement(kvCounterHandlers)] as never);
      await service!.stop();
      await kv();
      assert.equal(valueOf(await client.add({ counterId: "kv", amount: 4 }, keyed("k1"))), 4);
      assert.equal(valueOf(await client.add({ counterId: "kv", amount: 4 }, keyed("k1"))), 4);
      assert.equal(valueOf(await client.add({ counterId: "kv", amount: 1 })), 5, "the retry stored nothing");
      const replies = await Promise.all(Array.from({ length: 10 }, () => client.add({ counterId: "kv", amount: 10 }, keyed("k2"))));
      assert.deepEqual(new Set(replies.map(valueOf)), new Set([15]));
      await service!.stop();
      await kv();
      assert.equal(valueOf(await client.add({ counterId: "kv", amount: 4 }, keyed("k1"))), 4, "read back from the row after a restart");
      assert.equal(valueOf(await client.add({ counterId: "kv", amount: 10 }, keyed("k2"))), 15);
      assert.equal(valueOf(await client.get({ counterId: "kv" })), 15);
      // A keyed deletion (amount -1 deletes) answers its retry with the first reply too.
      await client.add({ counterId: "kv", amount: -1 }, keyed("k3"));
      assert.equal(valueOf(await client.add({ counterId: "kv", amount: 3 })), 3, "deleted, then written anew");
      await client.add({ counterId: "kv", amount: -1 }, keyed("k3"));
      assert.equal(valueOf(await client.get({ counterId: "kv" })), 3, "the retried deletion deleted nothing");
    });
  });
}
