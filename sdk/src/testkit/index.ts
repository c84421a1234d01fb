export { EventSourcedTestKit } from "./event-sourced-test-kit.js";
export type { TestCommandResult, TestKitOptions } from "./event-sourced-test-kit.js";
