// Serves the shopping cart and the popularity of its products: PORT (default 8080),
// PGlite in .orrery/data unless DATABASE_URL is set.
import { createService } from "@orrery/runtime";
import { cart } from "./cart.js";
import { popularity, popularProducts } from "./popularity.js";

await createService({ components: [cart, popularity, popularProducts] }).start();
