// The sample's two services as separate processes, each with its own data (a
// PGlite directory, or a schema of one PostgreSQL database), and their clients.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import type { Client, Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { signCallsAs } from "@orrery/runtime";
import { freshStorageOn } from "../../../../runtime/test/support/sample-storage.js";
import { freePort, startSampleProcess } from "../../../../runtime/test/support/sample-process.js";
import type { ServerProcess } from "../../../../runtime/test/support/sample-process.js";
import { TransferService, TransferStatus } from "../../src/gen/transfer/v1/transfer_pb.js";
import type { TransferState } from "../../src/gen/transfer/v1/transfer_pb.js";
import { WalletService } from "../../src/gen/wallet/v1/wallet_pb.js";

export { freePort };
export type { ServerProcess };

const sampleDir = fileURLToPath(new URL("../..", import.meta.url));

/** The project's secret in these tests: both services sign and check calls with it. */
export const SECRET = "funds-transfer-test-secret-0123456789";

/** Short cluster timings, so a restarted node takes its shards back at once. */
const FAST = { ORRERY_HEARTBEAT_MS: "100", ORRERY_SELF_FENCE_AFTER_MS: "500", ORRERY_DEAD_AFTER_MS: "700", ORRERY_REBALANCE_STABLE_MS: "100" };

/** Where the two services keep their data for one test. */
export interface FundsStorage {
  readonly label: "PGlite" | "PostgreSQL";
  /** The storage variables of service `name`: its own PGlite directory, or its own schema. */
  env(name: "wallet" | "transfer"): Record<string, string>;
  cleanup(): Promise<void>;
}

/** Fresh storage for both services on `dialect`; on PostgreSQL both share one database, each in its schema. */
export async function fundsStorage(dialect: "PGlite" | "PostgreSQL"): Promise<FundsStorage> {
  const storage = await freshStorageOn(dialect);
  return {
    label: storage.label,
    env: (name): Record<string, string> =>
      storage.databaseUrl === undefined
        ? { DATABASE_URL: "", ORRERY_DATA_DIR: path.join(storage.dataDir, name) }
        : { DATABASE_URL: storage.databaseUrl, ORRERY_DATABASE_SCHEMA: `funds_${name}`, ORRERY_DATA_DIR: path.join(storage.dataDir, name) },
    cleanup: () => storage.cleanup(),
  };
}

/** Starts the wallet service (src/wallet-main.ts) on `port` (default: a free one). */
export async function startWallet(storage: FundsStorage, env: Record<string, string> = {}, port?: number): Promise<ServerProcess> {
  port ??= await freePort();
  return startSampleProcess(sampleDir, { ...FAST, ORRERY_CLUSTER_SECRET: SECRET, ...storage.env("wallet"), WALLET_PORT: String(port), ...env }, port, "src/wallet-main.ts");
}

/** Starts the transfer service (src/transfer-main.ts) on `port`, calling the wallet service at `walletUrl`. */
export async function startTransfer(storage: FundsStorage, walletUrl: string, env: Record<string, string> = {}, port?: number): Promise<ServerProcess> {
  port ??= await freePort();
  return startSampleProcess(
    sampleDir,
    { ...FAST, ORRERY_CLUSTER_SECRET: SECRET, ...storage.env("transfer"), TRANSFER_PORT: String(port), ORRERY_SERVICE_WALLET_URL: walletUrl, ...env },
    port,
    "src/transfer-main.ts",
  );
}

/** Stops `server` with SIGTERM and waits for it to exit. */
export async function stop(server: ServerProcess | undefined): Promise<void> {
  if (server === undefined || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill("SIGTERM");
  await server.exited;
}

/** A wallet client; `as` signs its calls as that service (the only caller Deposit and Withdraw accept). */
export function walletClient(url: string, as?: string, secret = SECRET): Client<typeof WalletService> {
  const interceptors: Interceptor[] = as === undefined ? [] : [signCallsAs(as, secret)];
  return createClient(WalletService, createConnectTransport({ baseUrl: url, httpVersion: "2", interceptors }));
}

/** A transfer client. */
export function transferClient(url: string): Client<typeof TransferService> {
  return createClient(TransferService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
}

/** Polls GetTransfer until the transfer's status is one of `statuses`; fails with the last state after `ms`. */
export async function transferReaches(client: Client<typeof TransferService>, transferId: string, statuses: readonly TransferStatus[], ms = 20_000): Promise<TransferState> {
  const until = Date.now() + ms;
  let last: TransferState | undefined;
  for (;;) {
    try {
      last = await client.getTransfer({ transferId });
      if (statuses.includes(last.status)) return last;
    } catch {
      // not started yet, or the service is restarting
    }
    if (Date.now() > until) {
      throw new Error(`transfer ${transferId} did not reach ${statuses.map((s) => TransferStatus[s]).join("/")} within ${ms} ms; last: ${last === undefined ? "none" : TransferStatus[last.status]} ${last?.reason ?? ""}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The balances of `ids`, in order. */
export async function balances(wallet: Client<typeof WalletService>, ids: readonly string[]): Promise<bigint[]> {
  return Promise.all(ids.map(async (walletId) => (await wallet.getBalance({ walletId })).balance));
}
