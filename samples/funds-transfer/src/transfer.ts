import { Code, ConnectError } from "@orrery/sdk";
import { Transfer } from "./gen/transfer/v1/transfer_orrery.js";
import type { TransferHandlers } from "./gen/transfer/v1/transfer_orrery.js";
import { TransferStatus } from "./gen/transfer/v1/transfer_pb.js";
import type { TransferState } from "./gen/transfer/v1/transfer_pb.js";
import { WalletService } from "./gen/wallet/v1/wallet_pb.js";

/** The transfer workflow's settings (TRANSFER_APPROVAL_ABOVE, TRANSFER_APPROVAL_TIMEOUT_MS). */
export interface TransferSettings {
  /** Amounts above this wait for Approve (default 1000). */
  readonly approvalAbove: bigint;
  /** How long a transfer waits for Approve before it expires (default 60,000 ms). */
  readonly approvalTimeoutMs: number;
}

/** The settings from the environment. */
export function transferSettings(env: Record<string, string | undefined> = process.env): TransferSettings {
  const above = env["TRANSFER_APPROVAL_ABOVE"]?.trim() || "1000";
  const timeout = env["TRANSFER_APPROVAL_TIMEOUT_MS"]?.trim() || "60000";
  if (!/^\d+$/.test(above)) throw new Error(`TRANSFER_APPROVAL_ABOVE must be a whole number of money units, not ${JSON.stringify(above)}`);
  if (!/^\d+$/.test(timeout) || Number(timeout) <= 0) throw new Error(`TRANSFER_APPROVAL_TIMEOUT_MS must be a positive number of milliseconds, not ${JSON.stringify(timeout)}`);
  return { approvalAbove: BigInt(above), approvalTimeoutMs: Number(timeout) };
}

/** Answers a wallet gives that retrying will not change: the transfer takes another path instead. */
const refused = (error: unknown): error is ConnectError =>
  error instanceof ConnectError && [Code.NotFound, Code.FailedPrecondition, Code.InvalidArgument].includes(error.code);

const with_ = (state: TransferState, status: TransferStatus, reason = ""): TransferState => ({ ...state, status, reason });

/**
 * A transfer: withdraw from one wallet, deposit to the other. A refused
 * withdrawal ends it FAILED with no money moved; a refused deposit (or one
 * that keeps failing) refunds the source: COMPENSATED. Each step's wallet
 * call carries an idempotency key, so a retried or resumed step never moves
 * money twice.
 */
export function transferHandlers(settings: TransferSettings): TransferHandlers {
  return {
    startTransfer(state, cmd, ctx) {
      if (cmd.fromWalletId === cmd.toWalletId) return ctx.error(Code.InvalidArgument, "from_wallet_id and to_wallet_id are the same wallet");
      const started = { ...state, transferId: cmd.transferId, fromWalletId: cmd.fromWalletId, toWalletId: cmd.toWalletId, amount: cmd.amount };
      if (cmd.amount > settings.approvalAbove) {
        return ctx.start(with_(started, TransferStatus.WAITING_FOR_APPROVAL))
          .pause({ timeoutMs: settings.approvalTimeoutMs, then: "expire" })
          .thenReply((s) => s);
      }
      return ctx.start(with_(started, TransferStatus.STARTED)).transitionTo("withdraw").thenReply((s) => s);
    },

    approve(state, cmd, ctx) {
      if (ctx.workflow.status === "not-started") return ctx.error(Code.NotFound, `no transfer ${JSON.stringify(cmd.transferId)}`);
      if (state.status !== TransferStatus.WAITING_FOR_APPROVAL) {
        return ctx.error(Code.FailedPrecondition, `transfer ${JSON.stringify(cmd.transferId)} is ${TransferStatus[state.status]}, not waiting for approval`);
      }
      return ctx.updateState(with_(state, TransferStatus.STARTED)).transitionTo("withdraw").thenReply((s) => s);
    },

    getTransfer(state, cmd, ctx) {
      if (ctx.workflow.status === "not-started") return ctx.error(Code.NotFound, `no transfer ${JSON.stringify(cmd.transferId)}`);
      return ctx.reply(state);
    },

    steps: {
      withdraw: {
        async run(state, _input, ctx) {
          try {
            await ctx.components.forService(WalletService).withdraw({ walletId: state.fromWalletId, amount: state.amount });
          } catch (error) {
            if (refused(error)) return ctx.updateState(with_(state, TransferStatus.FAILED, error.rawMessage)).end();
            throw error; // unreachable or overloaded: retried
          }
          return ctx.updateState(with_(state, TransferStatus.WITHDRAWN)).transitionTo("deposit");
        },
      },
      deposit: {
        retry: { maxAttempts: 5, backoffMs: 200 },
        failover: "refund",
        async run(state, _input, ctx) {
          try {
            await ctx.components.forService(WalletService).deposit({ walletId: state.toWalletId, amount: state.amount });
          } catch (error) {
            if (refused(error)) return ctx.updateState({ ...state, reason: error.rawMessage }).transitionTo("refund");
            throw error;
          }
          return ctx.updateState(with_(state, TransferStatus.COMPLETED)).end();
        },
      },
      refund: {
        // Retried until it succeeds: the money left the source and must go back.
        async run(state, _input, ctx) {
          await ctx.components.forService(WalletService).deposit({ walletId: state.fromWalletId, amount: state.amount });
          return ctx.updateState(with_(state, TransferStatus.COMPENSATED, state.reason || "the deposit kept failing")).end();
        },
      },
      expire: {
        run: (state, _input, ctx) => ctx.updateState(with_(state, TransferStatus.EXPIRED, "not approved in time")).end(),
      },
    },
  };
}

/** The transfer workflow with the settings from the environment. */
export const transfer = (settings: TransferSettings = transferSettings()) => Transfer.implement(transferHandlers(settings));
