// Mocha root hooks: stop the embedded PostgreSQL server, if a test started one.
import { stopPostgresServer } from "../../../../runtime/test/support/postgres-server.js";

export const mochaHooks = {
  async afterAll() {
    await stopPostgresServer();
  },
};
