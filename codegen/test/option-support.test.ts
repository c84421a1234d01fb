import assert from "node:assert/strict";
import { file_orrery_v1_options } from "../src/gen/orrery/v1/options_pb.js";
import { unsupportedOptions } from "../src/option-support.js";

describe("the list of options that are not supported yet", () => {
  it("names real fields of orrery/v1/options.proto, so the plugin and the options reference act on each", () => {
    for (const { field } of unsupportedOptions) {
      const [message, name] = field.split(".");
      const desc = file_orrery_v1_options.messages.find((m) => m.name === message);
      assert.ok(desc, `${field}: no message ${message} in orrery/v1/options.proto`);
      assert.ok(
        desc.fields.some((f) => f.name === name),
        `${field}: ${message} has no field ${name}`,
      );
    }
  });
});
