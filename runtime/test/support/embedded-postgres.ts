// The tests' throw-away PostgreSQL server: the one `orrery cluster` starts,
// here with its data in a temp directory that `stop()` deletes.
export { freePort, startEmbeddedPostgres } from "../../src/cli/cluster/embedded-postgres.js";
export type { EmbeddedPostgres, EmbeddedPostgresOptions, ShutdownMode } from "../../src/cli/cluster/embedded-postgres.js";
