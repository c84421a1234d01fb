import { create } from "@bufbuild/protobuf";
import { Code } from "@orrery/sdk";
import { Wallet } from "./gen/wallet/v1/wallet_orrery.js";
import type { WalletHandlers } from "./gen/wallet/v1/wallet_orrery.js";
import { BalanceSchema, DepositedSchema, WalletCreatedSchema, WalletSchema, WithdrawnSchema } from "./gen/wallet/v1/wallet_pb.js";
import type { Wallet as WalletState } from "./gen/wallet/v1/wallet_pb.js";

const balanceOf = (w: WalletState) => create(BalanceSchema, { walletId: w.walletId, balance: w.balance });

/** A wallet: created once, then money in and out, never below zero. */
export const walletHandlers: WalletHandlers = {
  initialState: (walletId) => create(WalletSchema, { walletId }),

  applyEvent(wallet, event) {
    switch (event.$typeName) {
      case "wallet.v1.WalletCreated":
        wallet.created = true;
        wallet.balance = event.initialBalance;
        return wallet;
      case "wallet.v1.Deposited":
        wallet.balance += event.amount;
        return wallet;
      case "wallet.v1.Withdrawn":
        wallet.balance -= event.amount;
        return wallet;
    }
  },

  createWallet(wallet, cmd, ctx) {
    if (wallet.created) return ctx.error(Code.AlreadyExists, `wallet ${JSON.stringify(cmd.walletId)} exists already`);
    if (cmd.initialBalance < 0n) return ctx.error(Code.InvalidArgument, `initial_balance must be >= 0, got ${cmd.initialBalance}`);
    return ctx.persist(create(WalletCreatedSchema, { initialBalance: cmd.initialBalance })).thenReply(balanceOf);
  },

  deposit(wallet, cmd, ctx) {
    if (!wallet.created) return ctx.error(Code.NotFound, `no wallet ${JSON.stringify(cmd.walletId)}; create it first`);
    if (cmd.amount <= 0n) return ctx.error(Code.InvalidArgument, `amount must be > 0, got ${cmd.amount}`);
    return ctx.persist(create(DepositedSchema, { amount: cmd.amount })).thenReply(balanceOf);
  },

  withdraw(wallet, cmd, ctx) {
    if (!wallet.created) return ctx.error(Code.NotFound, `no wallet ${JSON.stringify(cmd.walletId)}; create it first`);
    if (cmd.amount <= 0n) return ctx.error(Code.InvalidArgument, `amount must be > 0, got ${cmd.amount}`);
    if (cmd.amount > wallet.balance) {
      return ctx.error(Code.FailedPrecondition, `wallet ${JSON.stringify(cmd.walletId)} holds ${wallet.balance}, less than the ${cmd.amount} to withdraw`);
    }
    return ctx.persist(create(WithdrawnSchema, { amount: cmd.amount })).thenReply(balanceOf);
  },

  getBalance(wallet, cmd, ctx) {
    if (!wallet.created) return ctx.error(Code.NotFound, `no wallet ${JSON.stringify(cmd.walletId)}; create it first`);
    return ctx.reply(balanceOf(wallet));
  },
};

export const wallet = Wallet.implement(walletHandlers);
