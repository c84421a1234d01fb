// Workflows served by a real service, through a real HTTP/2 client, on PGlite
// and PostgreSQL: steps that fail and are retried (their calls applied once),
// compensation, step and workflow-wide timeouts, pause and resume, a restart
// in the middle of a step. The steps are the funds-transfer sample's, or
// variants of them made to fail on cue.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Workflow } from "@orrery/sdk";
import { createService } from "../../src/index.js";
import type { Component, OrreryService } from "../../src/index.js";
import { freshStorageOn } from "../support/sample-storage.js";
import type { TestStorage } from "../support/sample-storage.js";
import { failure } from "../support/call-failure.js";
import { eventually } from "../cluster/cluster-fixtures.js";
import { wallet } from "../../../samples/funds-transfer/src/wallet.js";
import { transferHandlers } from "../../../samples/funds-transfer/src/transfer.js";
import { Transfer } from "../../../samples/funds-transfer/src/gen/transfer/v1/transfer_orrery.js";
import type { TransferHandlers } from "../../../samples/funds-transfer/src/gen/transfer/v1/transfer_orrery.js";
import { TransferService, TransferStateSchema, TransferStatus } from "../../../samples/funds-transfer/src/gen/transfer/v1/transfer_pb.js";
import { WalletService, WithdrawRequestSchema } from "../../../samples/funds-transfer/src/gen/wallet/v1/wallet_pb.js";
import type { WithdrawRequest } from "../../../samples/funds-transfer/src/gen/wallet/v1/wallet_pb.js";
import { create } from "@bufbuild/protobuf";

const settings = { approvalAbove: 1000n, approvalTimeoutMs: 60_000 };
const sample = transferHandlers(settings);

for (const dialect of ["PGlite", "PostgreSQL"] as const) {
  describe(`workflows (${dialect})`, function () {
    this.timeout(60_000);
    let storage: TestStorage;
    let service: OrreryService | undefined;
    let wallets: Client<typeof WalletService>;
    let transfers: Client<typeof TransferService>;

    async function start(workflow: Workflow = Transfer.implement(sample)): Promise<void> {
      service = createService({
        components: [wallet, workflow] as Component[], handleSignals: false, port: 0, host: "127.0.0.1", logLevel: "silent",
        // databaseUrl written out: undefined means PGlite even when the suite runs with DATABASE_URL.
        dataDir: storage.dataDir, databaseUrl: storage.databaseUrl,
      });
      const { url } = await service.start();
      const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
      wallets = createClient(WalletService, transport);
      transfers = createClient(TransferService, transport);
    }
    const balance = async (walletId: string) => (await wallets.getBalance({ walletId })).balance;
    const settled = async (transferId: string, ms = 10_000) => {
      let status = TransferStatus.UNSPECIFIED;
      await eventually(`transfer ${transferId} is done (it is ${TransferStatus[status]})`, async () => {
        status = (await transfers.getTransfer({ transferId })).status;
        return [TransferStatus.COMPLETED, TransferStatus.COMPENSATED, TransferStatus.FAILED, TransferStatus.EXPIRED].includes(status);
      }, ms);
      return transfers.getTransfer({ transferId });
    };

    beforeEach(async () => {
      storage = await freshStorageOn(dialect);
    });
    afterEach(async () => {
      await service?.stop();
      service = undefined;
      await storage.cleanup();
    });

    it("moves the money step by step, and refuses a second start under the same id with ALREADY_EXISTS", async () => {
      await start();
      await wallets.createWallet({ walletId: "a", initialBalance: 100n });
      await wallets.createWallet({ walletId: "b", initialBalance: 0n });
      const first = await transfers.startTransfer({ transferId: "t", fromWalletId: "a", toWalletId: "b", amount: 30n });
      assert.equal(first.status, TransferStatus.STARTED, "the reply comes when the start is stored, before the steps ran");
      assert.equal((await settled("t")).status, TransferStatus.COMPLETED);
      assert.deepEqual([await balance("a"), await balance("b")], [70n, 30n]);
      const again = await failure(transfers.startTransfer({ transferId: "t", fromWalletId: "a", toWalletId: "b", amount: 30n }));
      assert.equal(again.code, Code.AlreadyExists);
      assert.match(again.rawMessage, /TransferService\.StartTransfer for transfer "t": the transfer workflow "t" was started before \(it is ended\)/);
      assert.equal((await failure(transfers.getTransfer({ transferId: "nope" }))).code, Code.NotFound);
    });

    it("compensates a failed deposit (the target does not exist) by refunding the source, and fails a refused withdrawal without touching money", async () => {
      await start();
      await wallets.createWallet({ walletId: "a", initialBalance: 100n });
      await transfers.startTransfer({ transferId: "to-nowhere", fromWalletId: "a", toWalletId: "missing", amount: 40n });
      const compensated = await settled("to-nowhere");
      assert.equal(compensated.status, TransferStatus.COMPENSATED);
      assert.match(compensated.reason, /no wallet "missing"/);
      assert.equal(await balance("a"), 100n);
      await wallets.createWallet({ walletId: "b", initialBalance: 0n });
      await transfers.startTransfer({ transferId: "too-much", fromWalletId: "a", toWalletId: "b", amount: 500n });
      const failed = await settled("too-much");
      assert.equal(failed.status, TransferStatus.FAILED);
      assert.deepEqual([await balance("a"), await balance("b")], [100n, 0n]);
    });

    it("runs a step that fails N times N+1 times, and its wallet call applies once (the idempotency key of the step's visit)", async () => {
      let attempts = 0;
      const flaky: TransferHandlers = {
        ...sample,
        steps: {
          ...sample.steps,
          withdraw: {
            retry: { backoffMs: 20 },
            async run(state, input, ctx) {
              attempts++;
              const effect = await sample.steps["withdraw"]!.run(state, input, ctx);
              // The call went through; the step fails after it, twice: the retries make the same call again.
              if (ctx.attempt <= 2) throw new Error(`attempt ${ctx.attempt} fails after its call`);
              return effect;
            },
          },
        },
      };
      await start(Transfer.implement(flaky));
      await wallets.createWallet({ walletId: "a", initialBalance: 100n });
      await wallets.createWallet({ walletId: "b", initialBalance: 0n });
      await transfers.startTransfer({ transferId: "flaky", fromWalletId: "a", toWalletId: "b", amount: 10n });
      assert.equal((await settled("flaky")).status, TransferStatus.COMPLETED);
      assert.equal(attempts, 3);
      assert.deepEqual([await balance("a"), await balance("b")], [90n, 10n], "withdrawn once, although the call was made three times");
      const metrics = await (await fetch(`${service!.url}/metrics`)).text();
      assert.match(metrics, /orrery_workflow_steps_total\{workflow_type="transfer",step="withdraw",outcome="failed"\} 2/);
      assert.match(metrics, /orrery_workflow_steps_total\{workflow_type="transfer",step="withdraw",outcome="ok"\} 1/);
    });

    it("takes the failover step when a step's attempts are exhausted, a step's timeout counting as a failed attempt", async () => {
      let depositAttempts = 0;
      const stuck: TransferHandlers = {
        ...sample,
        steps: {
          ...sample.steps,
          deposit: {
            timeoutMs: 150,
            retry: { maxAttempts: 2, backoffMs: 20 },
            failover: "refund",
            async run(_state, _input, ctx) {
              depositAttempts++;
              // Never answers: only the attempt's deadline ends it (and aborts its signal).
              await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("aborted"))));
              throw new Error("unreachable");
            },
          },
        },
      };
      await start(Transfer.implement(stuck));
      await wallets.createWallet({ walletId: "a", initialBalance: 100n });
      await wallets.createWallet({ walletId: "b", initialBalance: 0n });
      await transfers.startTransfer({ transferId: "stuck", fromWalletId: "a", toWalletId: "b", amount: 25n });
      const done = await settled("stuck");
      assert.equal(done.status, TransferStatus.COMPENSATED);
      assert.equal(depositAttempts, 2);
      assert.deepEqual([await balance("a"), await balance("b")], [100n, 0n]);
    });

    it("ends a workflow past its workflow-wide timeout in the timeout's step, abandoning the step that was running", async () => {
      let aborted = false;
      const slow: TransferHandlers = {
        ...sample,
        timeout: { ms: 300, then: "expire" },
        steps: {
          ...sample.steps,
          withdraw: {
            timeoutMs: 30_000,
            async run(_state, _input, ctx) {
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
              aborted = true;
              throw new Error("abandoned");
            },
          },
        },
      };
      await start(Transfer.implement(slow));
      await wallets.createWallet({ walletId: "a", initialBalance: 100n });
      await wallets.createWallet({ walletId: "b", initialBalance: 0n });
      const started = performance.now();
      await transfers.startTransfer({ transferId: "late", fromWalletId: "a", toWalletId: "b", amount: 5n });
      const done = await settled("late");
      const ms = performance.now() - started;
      assert.equal(done.status, TransferStatus.EXPIRED);
      assert.ok(ms >= 280, `ended after ${ms} ms, before the 300 ms timeout`);
      await eventually("the abandoned step saw its signal abort", () => aborted);
      assert.equal(await balance("a"), 100n);
    });

    it("pauses for approval and resumes on Approve; refuses Approve when not waiting; a timed pause expires", async () => {
      await start(Transfer.implement(transferHandlers({ approvalAbove: 50n, approvalTimeoutMs: 300 })));
      await wallets.createWallet({ walletId: "a", initialBalance: 1_000n });
      await wallets.createWallet({ walletId: "b", initialBalance: 0n });
      const big = await transfers.startTransfer({ transferId: "big", fromWalletId: "a", toWalletId: "b", amount: 100n });
      assert.equal(big.status, TransferStatus.WAITING_FOR_APPROVAL);
      await sleep(100);
      assert.equal((await transfers.getTransfer({ transferId: "big" })).status, TransferStatus.WAITING_FOR_APPROVAL);
      assert.equal(await balance("a"), 1_000n, "nothing moves before the approval");
      await transfers.approve({ transferId: "big" });
      assert.equal((await settled("big")).status, TransferStatus.COMPLETED);
      assert.equal((await failure(transfers.approve({ transferId: "big" }))).code, Code.FailedPrecondition);
      await transfers.startTransfer({ transferId: "ignored", fromWalletId: "a", toWalletId: "b", amount: 100n });
      const expired = await settled("ignored");
      assert.equal(expired.status, TransferStatus.EXPIRED);
      assert.deepEqual([await balance("a"), await balance("b")], [900n, 100n]);
    });

    it("gives a step the typed input its transition passed, stored with the record across a restart; an input of the wrong type fails the workflow, saying so", async () => {
      const seen: Array<{ walletId: string; amount: bigint }> = [];
      let hold = true;
      const typed: TransferHandlers = {
        ...sample,
        startTransfer(state, cmd, ctx) {
          const input = create(WithdrawRequestSchema, { walletId: cmd.fromWalletId, amount: cmd.amount });
          return ctx.start({ ...state, transferId: cmd.transferId }).transitionTo("hold", input).thenReply((s) => s);
        },
        // The engine's own account of a failure, through the read-only method.
        getTransfer: (state, _cmd, ctx) => ctx.reply({ ...state, reason: ctx.workflow.failure ?? state.reason }),
        steps: {
          ...sample.steps,
          hold: {
            input: WithdrawRequestSchema,
            async run(_state, input: WithdrawRequest, ctx) {
              if (hold) await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
              if (ctx.signal.aborted) throw new Error("abandoned");
              return ctx.transitionTo("withdrawTyped", input);
            },
          },
          withdrawTyped: {
            input: WithdrawRequestSchema,
            retry: { maxAttempts: 1 },
            run(state, input: WithdrawRequest, ctx) {
              seen.push({ walletId: input.walletId, amount: input.amount });
              if (input.walletId === "wrong") return ctx.transitionTo("withdrawTyped", create(TransferStateSchema));
              return ctx.updateState({ ...state, status: TransferStatus.COMPLETED }).end();
            },
          },
        },
      };
      await start(Transfer.implement(typed));
      await transfers.startTransfer({ transferId: "typed", fromWalletId: "a", toWalletId: "b", amount: 7n });
      await service!.stop(); // the hold step is abandoned; its input stays in the stored record
      service = undefined;
      hold = false;
      await start(Transfer.implement(typed));
      assert.equal((await settled("typed")).status, TransferStatus.COMPLETED);
      assert.deepEqual(seen, [{ walletId: "a", amount: 7n }]);

      await transfers.startTransfer({ transferId: "mistyped", fromWalletId: "wrong", toWalletId: "b", amount: 1n });
      await eventually("the mistyped workflow failed", async () => (await transfers.getTransfer({ transferId: "mistyped" })).reason !== "");
      assert.match((await transfers.getTransfer({ transferId: "mistyped" })).reason,
        /step "withdrawTyped" failed its only attempt: step "withdrawTyped" passed transfer\.v1\.TransferState to step "withdrawTyped", whose input is wallet\.v1\.WithdrawRequest/);
    });

    it("resumes the step that was running at a restart, and its calls are applied once", async () => {
      let release: (() => void) | undefined;
      let depositRuns = 0;
      const held = (hold: boolean): TransferHandlers => ({
        ...sample,
        steps: {
          ...sample.steps,
          deposit: {
            ...sample.steps["deposit"]!,
            timeoutMs: 60_000, // the resumption must not wait for the deadline
            async run(state, input, ctx) {
              depositRuns++;
              const effect = await sample.steps["deposit"]!.run(state, input, ctx);
              // The first run's call went through, then the service stops before its result is stored.
              if (hold) await new Promise<void>((resolve) => (release = resolve));
              return effect;
            },
          },
        },
      });
      await start(Transfer.implement(held(true)));
      await wallets.createWallet({ walletId: "a", initialBalance: 100n });
      await wallets.createWallet({ walletId: "b", initialBalance: 0n });
      await transfers.startTransfer({ transferId: "restart", fromWalletId: "a", toWalletId: "b", amount: 60n });
      await eventually("the deposit ran", () => release !== undefined);
      assert.equal(await balance("b"), 60n);
      const stopping = service!.stop();
      await sleep(1_200); // the stop abandons the held step after its grace
      release!();
      await stopping;
      service = undefined;
      assert.equal(depositRuns, 1);
      const resumed = performance.now();
      await start(Transfer.implement(held(false)));
      assert.equal((await settled("restart")).status, TransferStatus.COMPLETED);
      assert.ok(performance.now() - resumed < 5_000, "resumed at once, not at the step's deadline");
      assert.equal(depositRuns, 2, "the deposit step ran again after the restart");
      assert.deepEqual([await balance("a"), await balance("b")], [40n, 60n], "its second call was answered from the first");
    });
  });
}
