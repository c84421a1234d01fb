// The funds-transfer sample as deployed: the wallet and the transfer service
// in two processes, the transfer's steps calling the wallet over signed
// HTTP/2, driven through the generated Connect clients.
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { TransferStatus } from "../src/gen/transfer/v1/transfer_pb.js";
import type { TransferService } from "../src/gen/transfer/v1/transfer_pb.js";
import type { WalletService } from "../src/gen/wallet/v1/wallet_pb.js";
import { balances, freePort, fundsStorage, startTransfer, startWallet, stop, transferClient, transferReaches, walletClient } from "./support/funds-processes.js";
import type { FundsStorage, ServerProcess } from "./support/funds-processes.js";

const APPROVAL_TIMEOUT_MS = 3_000;

/** Asserts `call` fails with `code` and a message matching `message`. */
async function rejectsWith(call: Promise<unknown>, code: Code, message: RegExp): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(Code[error.code], Code[code], error.rawMessage);
    assert.match(error.rawMessage, message);
    return true;
  });
}

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`the funds-transfer services in two processes, on ${dialect}`, function () {
    this.timeout(180_000); // starting a process took 25 s on a loaded machine
    let storage: FundsStorage;
    let walletServer: ServerProcess;
    let transferServer: ServerProcess;
    let wallets: Client<typeof WalletService>;
    let asTransfer: Client<typeof WalletService>;
    let transfers: Client<typeof TransferService>;

    before(async () => {
      storage = await fundsStorage(dialect);
      const walletPort = await freePort();
      [walletServer, transferServer] = await Promise.all([
        startWallet(storage, {}, walletPort),
        startTransfer(storage, `http://127.0.0.1:${walletPort}`, { TRANSFER_APPROVAL_TIMEOUT_MS: String(APPROVAL_TIMEOUT_MS) }),
      ]);
      wallets = walletClient(walletServer.url);
      asTransfer = walletClient(walletServer.url, "service:transfer");
      transfers = transferClient(transferServer.url);
    });
    after(async () => {
      await Promise.all([stop(transferServer), stop(walletServer)]);
      await storage?.cleanup();
    });

    it("moves the money: StartTransfer answers STARTED, the workflow withdraws and deposits, GetTransfer shows COMPLETED", async () => {
      await wallets.createWallet({ walletId: "alice", initialBalance: 500n });
      await wallets.createWallet({ walletId: "bob", initialBalance: 20n });
      const started = await transfers.startTransfer({ transferId: "t-ok", fromWalletId: "alice", toWalletId: "bob", amount: 120n });
      assert.deepEqual([started.transferId, started.fromWalletId, started.toWalletId, started.amount, started.status], ["t-ok", "alice", "bob", 120n, TransferStatus.STARTED]);
      const done = await transferReaches(transfers, "t-ok", [TransferStatus.COMPLETED, TransferStatus.COMPENSATED, TransferStatus.FAILED]);
      assert.equal(TransferStatus[done.status], "COMPLETED", done.reason);
      assert.deepEqual(await balances(wallets, ["alice", "bob"]), [380n, 140n]);
    });

    it("refunds the source when the deposit is refused (no such target wallet): COMPENSATED, money back", async () => {
      await wallets.createWallet({ walletId: "carol", initialBalance: 300n });
      await transfers.startTransfer({ transferId: "t-nowhere", fromWalletId: "carol", toWalletId: "nobody", amount: 100n });
      const done = await transferReaches(transfers, "t-nowhere", [TransferStatus.COMPLETED, TransferStatus.COMPENSATED, TransferStatus.FAILED]);
      assert.equal(TransferStatus[done.status], "COMPENSATED");
      assert.match(done.reason, /no wallet "nobody"/);
      assert.deepEqual(await balances(wallets, ["carol"]), [300n]);
      await rejectsWith(wallets.getBalance({ walletId: "nobody" }), Code.NotFound, /no wallet "nobody"/);
    });

    it("fails without moving money when the source holds less than the amount: FAILED", async () => {
      await wallets.createWallet({ walletId: "dave", initialBalance: 50n });
      await wallets.createWallet({ walletId: "erin", initialBalance: 0n });
      await transfers.startTransfer({ transferId: "t-poor", fromWalletId: "dave", toWalletId: "erin", amount: 51n });
      const done = await transferReaches(transfers, "t-poor", [TransferStatus.COMPLETED, TransferStatus.COMPENSATED, TransferStatus.FAILED]);
      assert.equal(TransferStatus[done.status], "FAILED");
      assert.match(done.reason, /holds 50, less than the 51 to withdraw/);
      assert.deepEqual(await balances(wallets, ["dave", "erin"]), [50n, 0n]);
    });

    it("waits for Approve above TRANSFER_APPROVAL_ABOVE (1000), moving nothing until then; approved, it completes", async () => {
      await wallets.createWallet({ walletId: "frank", initialBalance: 5_000n });
      await wallets.createWallet({ walletId: "grace", initialBalance: 0n });
      const started = await transfers.startTransfer({ transferId: "t-big", fromWalletId: "frank", toWalletId: "grace", amount: 1_001n });
      assert.equal(TransferStatus[started.status], "WAITING_FOR_APPROVAL");
      assert.equal(TransferStatus[(await transfers.getTransfer({ transferId: "t-big" })).status], "WAITING_FOR_APPROVAL");
      assert.deepEqual(await balances(wallets, ["frank", "grace"]), [5_000n, 0n]);
      const approved = await transfers.approve({ transferId: "t-big" });
      assert.equal(TransferStatus[approved.status], "STARTED");
      const done = await transferReaches(transfers, "t-big", [TransferStatus.COMPLETED, TransferStatus.COMPENSATED, TransferStatus.FAILED]);
      assert.equal(TransferStatus[done.status], "COMPLETED");
      assert.deepEqual(await balances(wallets, ["frank", "grace"]), [3_999n, 1_001n]);
      await rejectsWith(transfers.approve({ transferId: "t-big" }), Code.FailedPrecondition, /transfer "t-big" is COMPLETED, not waiting for approval/);
    });

    it("expires a transfer not approved within TRANSFER_APPROVAL_TIMEOUT_MS: EXPIRED, no money moved, Approve too late is FAILED_PRECONDITION", async () => {
      await wallets.createWallet({ walletId: "heidi", initialBalance: 2_000n });
      await wallets.createWallet({ walletId: "ivan", initialBalance: 0n });
      const startedAt = Date.now();
      await transfers.startTransfer({ transferId: "t-late", fromWalletId: "heidi", toWalletId: "ivan", amount: 1_500n });
      const done = await transferReaches(transfers, "t-late", [TransferStatus.EXPIRED, TransferStatus.COMPLETED], APPROVAL_TIMEOUT_MS + 10_000);
      assert.equal(TransferStatus[done.status], "EXPIRED");
      assert.ok(Date.now() - startedAt >= APPROVAL_TIMEOUT_MS, "not before its time");
      await rejectsWith(transfers.approve({ transferId: "t-late" }), Code.FailedPrecondition, /is EXPIRED, not waiting for approval/);
      assert.deepEqual(await balances(wallets, ["heidi", "ivan"]), [2_000n, 0n]);
    });

    it("refuses a second StartTransfer under the same id (ALREADY_EXISTS), and answers NOT_FOUND for a transfer never started", async () => {
      await rejectsWith(transfers.startTransfer({ transferId: "t-ok", fromWalletId: "bob", toWalletId: "alice", amount: 1n }), Code.AlreadyExists, /t-ok/);
      await rejectsWith(transfers.getTransfer({ transferId: "t-never" }), Code.NotFound, /no transfer "t-never"/);
      await rejectsWith(transfers.approve({ transferId: "t-never" }), Code.NotFound, /no transfer "t-never"/);
      await rejectsWith(transfers.startTransfer({ transferId: "t-zero", fromWalletId: "alice", toWalletId: "bob", amount: 0n }), Code.InvalidArgument, /amount/);
      assert.deepEqual(await balances(wallets, ["alice", "bob"]), [380n, 140n], "the refused second start moved nothing");
    });

    it("wallet methods: ALREADY_EXISTS for a second CreateWallet, NOT_FOUND for an unknown wallet on every method, INVALID_ARGUMENT for amount <= 0, FAILED_PRECONDITION beyond the balance", async () => {
      await wallets.createWallet({ walletId: "judy", initialBalance: 10n });
      await rejectsWith(wallets.createWallet({ walletId: "judy", initialBalance: 99n }), Code.AlreadyExists, /wallet "judy" exists already/);
      await rejectsWith(wallets.getBalance({ walletId: "ghost" }), Code.NotFound, /no wallet "ghost"; create it first/);
      await rejectsWith(asTransfer.deposit({ walletId: "ghost", amount: 1n }), Code.NotFound, /no wallet "ghost"/);
      await rejectsWith(asTransfer.withdraw({ walletId: "ghost", amount: 1n }), Code.NotFound, /no wallet "ghost"/);
      await rejectsWith(asTransfer.deposit({ walletId: "judy", amount: 0n }), Code.InvalidArgument, /amount/);
      await rejectsWith(asTransfer.withdraw({ walletId: "judy", amount: -5n }), Code.InvalidArgument, /amount/);
      await rejectsWith(wallets.createWallet({ walletId: "kim", initialBalance: -1n }), Code.InvalidArgument, /initial_balance/);
      await rejectsWith(asTransfer.withdraw({ walletId: "judy", amount: 11n }), Code.FailedPrecondition, /wallet "judy" holds 10, less than the 11 to withdraw/);
      assert.equal((await asTransfer.deposit({ walletId: "judy", amount: 5n })).balance, 15n);
      assert.equal((await asTransfer.withdraw({ walletId: "judy", amount: 15n })).balance, 0n);
    });

    it("Deposit and Withdraw accept only the transfer service: from the internet, or signed as another service, PERMISSION_DENIED; with a wrong secret, UNAUTHENTICATED", async () => {
      await wallets.createWallet({ walletId: "mallory", initialBalance: 100n });
      await rejectsWith(wallets.withdraw({ walletId: "mallory", amount: 100n }), Code.PermissionDenied, /calls from the internet are not allowed by its acl/);
      await rejectsWith(wallets.deposit({ walletId: "mallory", amount: 100n }), Code.PermissionDenied, /calls from the internet are not allowed by its acl/);
      await rejectsWith(walletClient(walletServer.url, "service:shop").deposit({ walletId: "mallory", amount: 1n }), Code.PermissionDenied, /calls from service:shop are not allowed/);
      await rejectsWith(walletClient(walletServer.url, "service:transfer", "not-the-project-secret-at-all").withdraw({ walletId: "mallory", amount: 1n }), Code.Unauthenticated, /signature/);
      assert.deepEqual(await balances(wallets, ["mallory"]), [100n]);
    });
  });
}
