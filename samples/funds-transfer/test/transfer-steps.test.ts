// The transfer workflow's steps and transitions in the test kit: no database,
// no server, the wallet service stubbed, the approval timeout on a test clock.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ComponentClient } from "@orrery/sdk";
import { WorkflowTestKit } from "@orrery/sdk/testkit";
import { Transfer } from "../src/gen/transfer/v1/transfer_orrery.js";
import { TransferStatus } from "../src/gen/transfer/v1/transfer_pb.js";
import { BalanceSchema, WalletService } from "../src/gen/wallet/v1/wallet_pb.js";
import { transferHandlers } from "../src/transfer.js";

type Call = { method: "withdraw" | "deposit"; walletId: string; amount: bigint };

/** A wallet service stub: records the calls; `fail` decides, per call, an error to throw instead. */
function walletStub(fail: (call: Call, n: number) => Error | undefined = () => undefined): { components: ComponentClient; calls: Call[] } {
  const calls: Call[] = [];
  const answer = (method: Call["method"]) => async (req: { walletId: string; amount: bigint }) => {
    const call = { method, walletId: req.walletId, amount: req.amount };
    calls.push(call);
    const error = fail(call, calls.length);
    if (error !== undefined) throw error;
    return create(BalanceSchema, { walletId: req.walletId });
  };
  const client = { withdraw: answer("withdraw"), deposit: answer("deposit") };
  return {
    calls,
    components: {
      forService: (service) => {
        assert.equal(service.typeName, WalletService.typeName);
        return client as never;
      },
    },
  };
}

const transfer = Transfer.implement(transferHandlers({ approvalAbove: 1000n, approvalTimeoutMs: 60_000 }));
const start = { transferId: "t1", fromWalletId: "a", toWalletId: "b", amount: 10n };

describe("the transfer workflow (test kit)", () => {
  it("withdraws, then deposits, then ends COMPLETED", async () => {
    const wallets = walletStub();
    const kit = WorkflowTestKit.of(transfer, { entityId: "t1", components: wallets.components });
    const { reply } = await kit.call("startTransfer", start);
    assert.equal(reply?.status, TransferStatus.STARTED);
    assert.equal(kit.state.status, TransferStatus.COMPLETED);
    assert.equal(kit.status, "ended");
    assert.deepEqual(kit.history.map((a) => [a.step, a.then]), [["withdraw", "deposit"], ["deposit", "ended"]]);
    assert.deepEqual(wallets.calls, [{ method: "withdraw", walletId: "a", amount: 10n }, { method: "deposit", walletId: "b", amount: 10n }]);
  });

  it("refunds the source when the deposit is refused (COMPENSATED), and fails without a deposit when the withdrawal is", async () => {
    const refusedDeposit = walletStub((c) => (c.method === "deposit" && c.walletId === "b" ? new ConnectError("no wallet b", Code.NotFound) : undefined));
    const kit = WorkflowTestKit.of(transfer, { components: refusedDeposit.components });
    await kit.call("startTransfer", start);
    assert.equal(kit.state.status, TransferStatus.COMPENSATED);
    assert.deepEqual(refusedDeposit.calls.map((c) => `${c.method} ${c.walletId}`), ["withdraw a", "deposit b", "deposit a"]);

    const refusedWithdraw = walletStub((c) => (c.method === "withdraw" ? new ConnectError("holds 5", Code.FailedPrecondition) : undefined));
    const failed = WorkflowTestKit.of(transfer, { components: refusedWithdraw.components });
    await failed.call("startTransfer", start);
    assert.equal(failed.state.status, TransferStatus.FAILED);
    assert.match(failed.state.reason, /holds 5/);
    assert.deepEqual(refusedWithdraw.calls.map((c) => c.method), ["withdraw"]);
  });

  it("retries a deposit that fails, with backoff on the test clock, and refunds after its 5 attempts", async () => {
    const down = walletStub((c) => (c.method === "deposit" && c.walletId === "b" ? new ConnectError("wallet service unreachable", Code.Unavailable) : undefined));
    const kit = WorkflowTestKit.of(transfer, { components: down.components });
    await kit.call("startTransfer", start);
    assert.equal(kit.state.status, TransferStatus.WITHDRAWN, "the first deposit failed; the retry waits for its backoff");
    assert.equal(kit.step, "deposit");
    for (let i = 0; i < 4; i++) await kit.advance(30_000);
    assert.deepEqual(kit.history.filter((a) => a.step === "deposit").map((a) => [a.attempt, a.then]), [[1, "retry"], [2, "retry"], [3, "retry"], [4, "retry"], [5, "refund"]]);
    assert.equal(kit.state.status, TransferStatus.COMPENSATED);
  });

  it("waits for approval above the threshold, moves on at Approve, and expires on the test clock without one", async () => {
    const wallets = walletStub();
    const approved = WorkflowTestKit.of(transfer, { components: wallets.components });
    await approved.call("startTransfer", { ...start, amount: 5_000n });
    assert.equal(approved.status, "paused");
    assert.equal(approved.state.status, TransferStatus.WAITING_FOR_APPROVAL);
    await approved.call("approve", { transferId: "t1" });
    assert.equal(approved.state.status, TransferStatus.COMPLETED);

    const ignored = WorkflowTestKit.of(transfer, { components: wallets.components });
    await ignored.call("startTransfer", { ...start, amount: 5_000n });
    await ignored.advance(59_999);
    assert.equal(ignored.state.status, TransferStatus.WAITING_FOR_APPROVAL);
    await ignored.advance(1);
    assert.equal(ignored.state.status, TransferStatus.EXPIRED);
    const late = await ignored.call("approve", { transferId: "t1" });
    assert.equal(late.error?.code, Code.FailedPrecondition);
  });

  it("refuses a second start with ALREADY_EXISTS, the same wallet on both sides, and an unknown transfer", async () => {
    const kit = WorkflowTestKit.of(transfer, { components: walletStub().components });
    assert.equal((await kit.call("getTransfer", { transferId: "t1" })).error?.code, Code.NotFound);
    assert.equal((await kit.call("startTransfer", { ...start, toWalletId: "a" })).error?.code, Code.InvalidArgument);
    await kit.call("startTransfer", start);
    assert.equal((await kit.call("startTransfer", start)).error?.code, Code.AlreadyExists);
  });
});
