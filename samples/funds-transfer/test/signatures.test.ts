// A call between the services with a bad signature is rejected: the transfer
// service signs with another secret than the wallet service's, so the wallet
// refuses its withdraw (UNAUTHENTICATED), no money moves, and the step keeps
// retrying until the secrets agree.
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { TransferStatus } from "../src/gen/transfer/v1/transfer_pb.js";
import { balances, freePort, fundsStorage, SECRET, startTransfer, startWallet, stop, transferClient, transferReaches, walletClient } from "./support/funds-processes.js";
import type { FundsStorage, ServerProcess } from "./support/funds-processes.js";

const OTHER_SECRET = "not-the-wallet-services-secret-42";

/** The transfer service's log messages about failed withdraw attempts. */
function failedAttempts(server: ServerProcess): string[] {
  return server.output().split("\n").flatMap((line) => {
    try {
      const msg = (JSON.parse(line) as { msg?: unknown }).msg;
      return typeof msg === "string" && msg.includes('step "withdraw" failed') ? [msg] : [];
    } catch {
      return [];
    }
  });
}

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`calls between the services with a bad signature, on ${dialect}`, function () {
    this.timeout(180_000); // starting a process took 25 s on a loaded machine
    let storage: FundsStorage;
    let walletServer: ServerProcess | undefined;
    let transferServer: ServerProcess | undefined;

    before(async () => {
      storage = await fundsStorage(dialect);
    });
    after(async () => {
      await Promise.all([stop(transferServer), stop(walletServer)]);
      await storage?.cleanup();
    });

    it("are refused by the wallet service with UNAUTHENTICATED: the transfer moves no money and retries; with the right secret it completes", async () => {
      const walletPort = await freePort();
      [walletServer, transferServer] = await Promise.all([
        startWallet(storage, { ORRERY_CLUSTER_SECRET: SECRET }, walletPort),
        startTransfer(storage, `http://127.0.0.1:${walletPort}`, { ORRERY_CLUSTER_SECRET: OTHER_SECRET }),
      ]);
      const wallets = walletClient(walletServer.url);
      await wallets.createWallet({ walletId: "a", initialBalance: 100n });
      await wallets.createWallet({ walletId: "b", initialBalance: 0n });

      await transferClient(transferServer.url).startTransfer({ transferId: "t-forged", fromWalletId: "a", toWalletId: "b", amount: 40n });
      // The wallet refuses the withdraw: the transfer service logs each failed attempt, with the wallet's answer.
      const until = Date.now() + 15_000;
      while (failedAttempts(transferServer).length < 2) {
        assert.ok(Date.now() < until, `no failed withdraw attempts logged:\n${transferServer.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(failedAttempts(transferServer)[0]!, /^transfer "t-forged": step "withdraw" failed \(attempt 1\): \[unauthenticated\] wallet\.v1\.WalletService\/Withdraw: .*signature does not match/);
      assert.equal(TransferStatus[(await transferClient(transferServer.url).getTransfer({ transferId: "t-forged" })).status], "STARTED");
      assert.deepEqual(await balances(wallets, ["a", "b"]), [100n, 0n], "no money moved");
      // What the transfer service sends, sent by the test: refused, and the same answer.
      await assert.rejects(walletClient(walletServer.url, "service:transfer", OTHER_SECRET).withdraw({ walletId: "a", amount: 40n }), (error: unknown) =>
        error instanceof ConnectError && error.code === Code.Unauthenticated);

      await stop(transferServer);
      transferServer = await startTransfer(storage, walletServer.url, { ORRERY_CLUSTER_SECRET: SECRET });
      const done = await transferReaches(transferClient(transferServer.url), "t-forged", [TransferStatus.COMPLETED, TransferStatus.COMPENSATED, TransferStatus.FAILED], 40_000);
      assert.equal(TransferStatus[done.status], "COMPLETED", done.reason);
      assert.deepEqual(await balances(wallets, ["a", "b"]), [60n, 40n]);
    });
  });
}
