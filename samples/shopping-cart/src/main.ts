// Serves the shopping cart: PORT (default 8080), PGlite in .orrery/data unless DATABASE_URL is set.
import { createService } from "@orrery/runtime";
import { cart } from "./cart.js";

await createService({ components: [cart] }).start();
