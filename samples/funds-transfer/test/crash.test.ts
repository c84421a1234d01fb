// SIGKILL the transfer service between the withdraw and the deposit, restart
// it: the transfer completes, the withdraw is applied once, and the money
// across the wallets is unchanged. A TCP proxy between the two services holds
// the wallet's answers back, so the kill lands in the window every time.
import assert from "node:assert/strict";
import { startTcpProxy } from "../../../runtime/test/support/tcp-proxy.js";
import type { TcpProxy } from "../../../runtime/test/support/tcp-proxy.js";
import { TransferStatus } from "../src/gen/transfer/v1/transfer_pb.js";
import { balances, freePort, fundsStorage, startTransfer, startWallet, stop, transferClient, transferReaches, walletClient } from "./support/funds-processes.js";
import type { FundsStorage, ServerProcess } from "./support/funds-processes.js";

const ENDED = [TransferStatus.COMPLETED, TransferStatus.COMPENSATED, TransferStatus.FAILED];

/** Waits until `check` holds, polling every 10 ms; fails naming `what` after `ms`. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`the transfer service killed with SIGKILL between the withdraw and the deposit, on ${dialect}`, function () {
    this.timeout(180_000); // starting a process took 25 s on a loaded machine
    let storage: FundsStorage;
    let proxy: TcpProxy;
    let walletPort: number;
    let transferPort: number;
    let walletServer: ServerProcess | undefined;
    let transferServer: ServerProcess | undefined;
    const wallets = () => walletClient(walletServer!.url);
    const transfers = () => transferClient(transferServer!.url);

    before(async () => {
      storage = await fundsStorage(dialect);
      [walletPort, transferPort] = [await freePort(), await freePort()];
      proxy = await startTcpProxy({ host: "127.0.0.1", port: walletPort });
      // The transfer service reaches the wallet service only through the proxy.
      [walletServer, transferServer] = await Promise.all([
        startWallet(storage, {}, walletPort),
        startTransfer(storage, `http://127.0.0.1:${proxy.port}`, {}, transferPort),
      ]);
      await wallets().createWallet({ walletId: "from", initialBalance: 1_000n });
      await wallets().createWallet({ walletId: "to", initialBalance: 0n });
      // One transfer first, so the transfer service has found the wallet service.
      await transfers().startTransfer({ transferId: "warm-up", fromWalletId: "from", toWalletId: "to", amount: 1n });
      assert.equal(TransferStatus[(await transferReaches(transfers(), "warm-up", ENDED)).status], "COMPLETED");
    });
    after(async () => {
      await Promise.all([stop(transferServer), stop(walletServer)]);
      await proxy?.close();
      await storage?.cleanup();
    });

    it("after the wallet applied the withdraw but before the transfer heard of it: the retried withdraw is not applied again, the deposit follows, COMPLETED", async () => {
      proxy.deafen(); // the wallet gets the calls; its answers are held back
      await transfers().startTransfer({ transferId: "t-crash", fromWalletId: "from", toWalletId: "to", amount: 300n });
      await eventually("the withdraw is applied", async () => (await balances(wallets(), ["from"]))[0] === 699n);
      assert.equal(TransferStatus[(await transfers().getTransfer({ transferId: "t-crash" })).status], "STARTED", "the transfer has not heard back");
      transferServer!.child.kill("SIGKILL");
      assert.equal(await transferServer!.exited, "SIGKILL");
      proxy.restore();

      transferServer = await startTransfer(storage, `http://127.0.0.1:${proxy.port}`, {}, transferPort);
      const done = await transferReaches(transfers(), "t-crash", ENDED);
      assert.equal(TransferStatus[done.status], "COMPLETED", done.reason);
      assert.deepEqual(await balances(wallets(), ["from", "to"]), [699n, 301n], "withdrawn once, deposited once");
    });

    it("after the withdraw was recorded, while the deposit hangs at a stopped wallet service: restarted, the deposit is applied once, COMPLETED", async () => {
      proxy.deafen();
      await transfers().startTransfer({ transferId: "t-stopped", fromWalletId: "from", toWalletId: "to", amount: 300n });
      await eventually("the withdraw is applied", async () => (await balances(wallets(), ["from"]))[0] === 399n);
      await new Promise((r) => setTimeout(r, 500)); // its answer has left the wallet service (it is sent on the commit GetBalance saw)
      // The wallet service stops (SIGSTOP): the held answer reaches the transfer, which
      // records WITHDRAWN; its deposit reaches the stopped process and hangs there.
      walletServer!.child.kill("SIGSTOP");
      try {
        proxy.restore();
        await transferReaches(transfers(), "t-stopped", [TransferStatus.WITHDRAWN], 5_000);
        transferServer!.child.kill("SIGKILL");
        assert.equal(await transferServer!.exited, "SIGKILL");
      } finally {
        // Resumed, the wallet may still apply the deposit the dead transfer service sent.
        walletServer!.child.kill("SIGCONT");
      }
      transferServer = await startTransfer(storage, `http://127.0.0.1:${proxy.port}`, {}, transferPort);
      const done = await transferReaches(transfers(), "t-stopped", ENDED);
      assert.equal(TransferStatus[done.status], "COMPLETED", done.reason);
      const [from, to] = await balances(wallets(), ["from", "to"]);
      assert.deepEqual([from, to], [399n, 601n], "withdrawn once, deposited once");
      assert.equal(from! + to!, 1_000n, "no money created or lost");
    });
  });
}
