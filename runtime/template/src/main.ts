// Serves the service on PORT (default 8080) over Connect, gRPC and gRPC-Web.
// Events go to PostgreSQL when DATABASE_URL is set, else to PGlite in .orrery/data.
import { createService } from "@orrery/runtime";
import { counter } from "./counter.js";

await createService({ components: [counter] }).start();
