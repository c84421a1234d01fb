// Serves the shopping cart, the popularity of its products and the carts view: PORT (default 8080),
// PGlite in .orrery/data unless DATABASE_URL is set.
import { createService } from "@orrery/runtime";
import { cart } from "./cart.js";
import { cartsView } from "./carts-view.js";
import { popularity, popularProducts } from "./popularity.js";

await createService({ components: [cart, popularity, popularProducts, cartsView] }).start();
