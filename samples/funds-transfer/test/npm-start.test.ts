// `npm start --workspace samples/funds-transfer`, as a user runs it: both
// services come up on WALLET_PORT and TRANSFER_PORT, a transfer goes through,
// and Ctrl-C (SIGINT to the terminal's process group) stops both.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { TransferStatus } from "../src/gen/transfer/v1/transfer_pb.js";
import { freshStorageOn } from "../../../runtime/test/support/sample-storage.js";
import type { TestStorage } from "../../../runtime/test/support/sample-storage.js";
import { balances, freePort, transferClient, transferReaches, walletClient } from "./support/funds-processes.js";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** Whether something accepts connections on `port` of 127.0.0.1. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`npm start --workspace samples/funds-transfer, on ${dialect}`, function () {
    this.timeout(180_000); // two services start at once; 25 s each on a loaded machine
    let storage: TestStorage;
    before(async () => {
      storage = await freshStorageOn(dialect);
    });
    after(() => storage?.cleanup());

    it("serves the wallet on WALLET_PORT and the transfer on TRANSFER_PORT, and Ctrl-C stops both processes", async () => {
      const [walletPort, transferPort] = [await freePort(), await freePort()];
      const npm = spawn("npm", ["start", "--workspace", "samples/funds-transfer"], {
        cwd: repoRoot,
        detached: true, // its own process group, as a terminal gives it
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          WALLET_PORT: String(walletPort), TRANSFER_PORT: String(transferPort),
          DATABASE_URL: storage.databaseUrl ?? "", ORRERY_DATA_DIR: storage.dataDir, LOG_LEVEL: "warn",
        },
      });
      let output = "";
      npm.stdout.on("data", (c) => (output += c));
      npm.stderr.on("data", (c) => (output += c));
      const exited = new Promise<number | NodeJS.Signals>((resolve) => npm.on("exit", (code, signal) => resolve(code ?? signal!)));
      try {
        const until = Date.now() + 150_000;
        for (const port of [walletPort, transferPort]) {
          while ((await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0)) !== 200) {
            assert.ok(Date.now() < until && npm.exitCode === null, `port ${port} not ready:\n${output}`);
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        const wallets = walletClient(`http://127.0.0.1:${walletPort}`);
        await wallets.createWallet({ walletId: "w1", initialBalance: 10n });
        await wallets.createWallet({ walletId: "w2", initialBalance: 0n });
        const transfers = transferClient(`http://127.0.0.1:${transferPort}`);
        await transfers.startTransfer({ transferId: "t1", fromWalletId: "w1", toWalletId: "w2", amount: 4n });
        assert.equal(TransferStatus[(await transferReaches(transfers, "t1", [TransferStatus.COMPLETED, TransferStatus.COMPENSATED, TransferStatus.FAILED])).status], "COMPLETED");
        assert.deepEqual(await balances(wallets, ["w1", "w2"]), [6n, 4n]);

        process.kill(-npm.pid!, "SIGINT");
        const code = await exited;
        assert.ok(code === 0 || code === "SIGINT", `npm exited with ${code}:\n${output}`);
        // No service left behind: both ports are closed.
        for (const port of [walletPort, transferPort]) {
          const deadline = Date.now() + 10_000;
          while (await listening(port)) {
            assert.ok(Date.now() < deadline, `something still listens on ${port} after npm exited:\n${output}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        try {
          process.kill(-npm.pid!, "SIGKILL"); // whatever of its process group is left, after a failure
        } catch {
          // ESRCH: nothing left
        }
      }
    });
  });
}
