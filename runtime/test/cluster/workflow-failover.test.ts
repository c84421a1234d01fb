// A workflow whose owner leaves the cluster in the middle of a step: the node
// that takes its shard over resumes the step at once (not at its deadline),
// and the step's wallet call, made on both nodes, is applied once.
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { createService } from "../../src/index.js";
import type { Component, OrreryService } from "../../src/index.js";
import "../support/postgres.js"; // its root hook stops the embedded server after the run
import { eventually, fast, freshDatabase, idsOwnedBy } from "./cluster-fixtures.js";
import { wallet } from "../../../samples/funds-transfer/src/wallet.js";
import { transferHandlers } from "../../../samples/funds-transfer/src/transfer.js";
import { Transfer } from "../../../samples/funds-transfer/src/gen/transfer/v1/transfer_orrery.js";
import type { TransferHandlers } from "../../../samples/funds-transfer/src/gen/transfer/v1/transfer_orrery.js";
import { TransferService, TransferStatus } from "../../../samples/funds-transfer/src/gen/transfer/v1/transfer_pb.js";
import { WalletService } from "../../../samples/funds-transfer/src/gen/wallet/v1/wallet_pb.js";

const sample = transferHandlers({ approvalAbove: 1000n, approvalTimeoutMs: 60_000 });

describe("a workflow in a cluster", function () {
  this.timeout(60_000);
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const services: OrreryService[] = [];
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => {
    await Promise.allSettled(services.splice(0).map((s) => s.stop()));
    await db.drop();
  });

  it("resumes a step on the node that takes the workflow's shard over when its owner stops mid-step, applying the step's call once", async () => {
    const runs: string[] = [];
    let hold = true;
    let reached: (() => void) | undefined;
    const reachedDeposit = new Promise<void>((resolve) => (reached = resolve));
    const handlers = (node: string): TransferHandlers => ({
      ...sample,
      steps: {
        ...sample.steps,
        deposit: {
          ...sample.steps["deposit"]!,
          timeoutMs: 60_000, // resumption must not wait for the attempt's deadline
          async run(state, input, ctx) {
            runs.push(node);
            const effect = await sample.steps["deposit"]!.run(state, input, ctx);
            if (hold && node === "a") {
              // The call went through; the owner then stops before the step's result is stored.
              reached!();
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
              throw new Error("abandoned");
            }
            return effect;
          },
        },
      },
    });
    const start = async (node: string) => {
      const service = createService({
        components: [wallet, Transfer.implement(handlers(node))] as Component[], port: 0, host: "127.0.0.1",
        logger: pino({ level: "silent" }), handleSignals: false, databaseUrl: db.url, ...fast, nodeName: node,
      });
      await service.start();
      services.push(service);
      return service;
    };
    const a = await start("a");
    const b = await start("b");
    await eventually("both own shards", () => a.cluster!.ownedShards().length + b.cluster!.ownedShards().length === 1024 && b.cluster!.ownedShards().length > 0, 10_000);
    const [transferId] = idsOwnedBy("transfer", "t", "a", ["a", "b"], 1);
    const transport = createConnectTransport({ baseUrl: b.url, httpVersion: "2" });
    const wallets = createClient(WalletService, transport);
    const transfers = createClient(TransferService, transport);
    await wallets.createWallet({ walletId: "from", initialBalance: 100n });
    await wallets.createWallet({ walletId: "to", initialBalance: 0n });
    await transfers.startTransfer({ transferId: transferId!, fromWalletId: "from", toWalletId: "to", amount: 30n });
    await reachedDeposit;
    assert.equal((await wallets.getBalance({ walletId: "to" })).balance, 30n);

    const stoppedAt = performance.now();
    await a.stop();
    await eventually("the transfer completed on b", async () => (await transfers.getTransfer({ transferId: transferId! })).status === TransferStatus.COMPLETED, 10_000);
    const ms = performance.now() - stoppedAt;
    assert.deepEqual(runs, ["a", "b"], "the deposit step ran on a, then again on b");
    assert.ok(ms < 8_000, `completed ${Math.round(ms)} ms after a stopped`);
    assert.deepEqual([(await wallets.getBalance({ walletId: "from" })).balance, (await wallets.getBalance({ walletId: "to" })).balance], [70n, 30n],
      "b's deposit call was answered from a's (the step visit's idempotency key)");
    hold = false;
  });
});
