// The wallet service alone: WALLET_PORT (default 9001), PGlite in .orrery/wallet unless DATABASE_URL is set.
import { createService } from "@orrery/runtime";
import { wallet } from "./wallet.js";

await createService({ components: [wallet], port: Number(process.env["WALLET_PORT"] || 9001), serviceName: "wallet" }).start();
