// Serves the shopping cart, the popularity of its products, the carts view and abandoned-cart reminders: PORT (default 8080),
// PGlite in .orrery/data unless DATABASE_URL is set.
import { createService } from "@orrery/runtime";
import { cart } from "./cart.js";
import { cartsView } from "./carts-view.js";
import { popularity, popularProducts } from "./popularity.js";
import { cartReminder } from "./reminder.js";

await createService({ components: [cart, popularity, popularProducts, cartsView, cartReminder] }).start();
