// Serves the customer registry: PORT (default 8080), PGlite in .orrery/data unless DATABASE_URL is set.
import { createService } from "@orrery/runtime";
import { customer, customersView } from "./customer.js";
import { customerOrdersView, order } from "./orders.js";

await createService({ components: [customer, customersView, order, customerOrdersView] }).start();
