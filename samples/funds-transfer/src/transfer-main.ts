// The transfer service alone: TRANSFER_PORT (default 9002); it calls the wallet service at
// ORRERY_SERVICE_WALLET_URL (default http://127.0.0.1:$WALLET_PORT).
import { createService } from "@orrery/runtime";
import { transfer, transferSettings } from "./transfer.js";

let settings;
try {
  settings = transferSettings();
} catch (error) {
  console.error(`transfer service: ${(error as Error).message}`);
  process.exit(1);
}
await createService({ components: [transfer(settings)], port: Number(process.env["TRANSFER_PORT"] || 9002), serviceName: "transfer" }).start();
