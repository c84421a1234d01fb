import assert from "node:assert/strict";
import { ConnectError } from "@connectrpc/connect";

/** The error `call` failed with; fails the test when it succeeded. */
export async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("the call succeeded");
}
