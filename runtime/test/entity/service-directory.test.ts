// Two services of one project sharing a PostgreSQL database, each in its own
// schema, find each other through the service directory, without any
// ORRERY_SERVICE_<NAME>_URL: the transfer service's steps reach the wallet
// service wherever it listens, also after it moved to another port.
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import { pino } from "pino";
import { createService } from "../../src/index.js";
import type { Component, OrreryService, ServiceOptions } from "../../src/index.js";
import "../support/postgres.js"; // its root hook stops the embedded server after the run
import { eventually, freshDatabase } from "../cluster/cluster-fixtures.js";
import { wallet } from "../../../samples/funds-transfer/src/wallet.js";
import { transfer } from "../../../samples/funds-transfer/src/transfer.js";
import { TransferService, TransferStatus } from "../../../samples/funds-transfer/src/gen/transfer/v1/transfer_pb.js";
import { WalletService } from "../../../samples/funds-transfer/src/gen/wallet/v1/wallet_pb.js";

describe("the service directory (PostgreSQL)", function () {
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

  const start = async (name: string, components: Component[], more: Partial<ServiceOptions> = {}) => {
    const service = createService({
      components, port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), handleSignals: false,
      databaseUrl: db.url, databaseSchema: `dir_${name}`, serviceName: name, clusterSecret: "a-secret-the-project-shares", ...more,
    });
    await service.start();
    services.push(service);
    return service;
  };

  it("routes a step's calls to the service that serves them, found in the shared database, and finds it again after it moved", async () => {
    let wallets = await start("wallet", [wallet]);
    const transfers = await start("transfer", [transfer({ approvalAbove: 1000n, approvalTimeoutMs: 60_000 })]);
    const { rows } = await sql<{ service_name: string; services: string[] }>`select service_name, services from public.orrery_service_directory order by service_name`.execute(db.database.db);
    assert.deepEqual(rows.map((r) => [r.service_name, r.services]), [["transfer", ["transfer.v1.TransferService"]], ["wallet", ["wallet.v1.WalletService"]]]);

    const walletClient = (s: OrreryService) => createClient(WalletService, createConnectTransport({ baseUrl: s.url, httpVersion: "2" }));
    const transferClient = createClient(TransferService, createConnectTransport({ baseUrl: transfers.url, httpVersion: "2" }));
    await walletClient(wallets).createWallet({ walletId: "a", initialBalance: 100n });
    await walletClient(wallets).createWallet({ walletId: "b", initialBalance: 0n });
    await transferClient.startTransfer({ transferId: "t1", fromWalletId: "a", toWalletId: "b", amount: 10n });
    await eventually("t1 completed", async () => (await transferClient.getTransfer({ transferId: "t1" })).status === TransferStatus.COMPLETED, 10_000);

    // The wallet service goes away (its entry with it) and comes back on another port.
    const oldUrl = wallets.url;
    await services.splice(services.indexOf(wallets), 1)[0]!.stop();
    await transferClient.startTransfer({ transferId: "t2", fromWalletId: "a", toWalletId: "b", amount: 5n });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await transferClient.getTransfer({ transferId: "t2" })).status, TransferStatus.STARTED, "the withdraw step waits, retried, while no wallet service runs");
    wallets = await start("wallet", [wallet]);
    assert.notEqual(wallets.url, oldUrl);
    await eventually("t2 completed", async () => (await transferClient.getTransfer({ transferId: "t2" })).status === TransferStatus.COMPLETED, 15_000);
    assert.deepEqual([(await walletClient(wallets).getBalance({ walletId: "a" })).balance, (await walletClient(wallets).getBalance({ walletId: "b" })).balance], [85n, 15n]);
  });
});
