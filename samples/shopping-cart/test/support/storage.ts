// Fresh storage for a sample test: shared by the samples, kept with the runtime's test harness.
export { freshStorage, freshStorageOn } from "../../../../runtime/test/support/sample-storage.js";
export type { TestStorage } from "../../../../runtime/test/support/sample-storage.js";
