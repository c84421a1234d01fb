// `npm start`: the funds-transfer sample's two services, each its own process, as
// they would be deployed: the wallet service on WALLET_PORT (default 9001), the
// transfer service on TRANSFER_PORT (default 9002), which finds the wallet service
// through ORRERY_SERVICE_WALLET_URL. Each keeps its own data: PGlite in
// .orrery/wallet and .orrery/transfer, or, with DATABASE_URL, its own schema
// (ORRERY_DATABASE_SCHEMA) of that database. Calls between them are signed with
// ORRERY_CLUSTER_SECRET (made up for this run when unset). Ctrl-C stops both.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const walletPort = process.env["WALLET_PORT"] || "9001";
const transferPort = process.env["TRANSFER_PORT"] || "9002";
const secret = process.env["ORRERY_CLUSTER_SECRET"] || randomBytes(24).toString("base64url");

function start(name: string, script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ["--conditions=orrery-source", "--import", "tsx", path.join(here, script)], {
    stdio: "inherit",
    env: {
      ...process.env,
      ORRERY_CLUSTER_SECRET: secret,
      ORRERY_DATA_DIR: process.env["ORRERY_DATA_DIR"] ? path.join(process.env["ORRERY_DATA_DIR"], name) : path.join(".orrery", name),
      ...(process.env["DATABASE_URL"] ? { ORRERY_DATABASE_SCHEMA: `funds_${name}` } : {}),
      ...env,
    },
  });
  return child;
}

const children = [
  start("wallet", "wallet-main.ts", { WALLET_PORT: walletPort }),
  start("transfer", "transfer-main.ts", { TRANSFER_PORT: transferPort, WALLET_PORT: walletPort, ORRERY_SERVICE_WALLET_URL: process.env["ORRERY_SERVICE_WALLET_URL"] || `http://127.0.0.1:${walletPort}` }),
];
let stopping = false;
let failed = false;
const stopAll = (signal: NodeJS.Signals) => {
  stopping = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => stopAll("SIGTERM"));
await Promise.all(children.map((child, i) => new Promise<void>((resolve) => {
  child.on("exit", (code, signal) => {
    if (!stopping) {
      // One service stopped on its own (a startup failure says why above): stop the other too.
      console.error(`funds-transfer: the ${i === 0 ? "wallet" : "transfer"} service exited (${code ?? signal}); stopping the other`);
      failed = true;
      stopAll("SIGTERM");
    }
    resolve();
  });
})));
process.exit(failed ? 1 : 0);
