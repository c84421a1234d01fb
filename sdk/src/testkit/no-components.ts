import type { ComponentClient } from "../component-client.js";

/** The component client of a test kit given none: any call fails, saying how to pass one. */
export const noComponents: ComponentClient = {
  forService(service) {
    throw new Error(`the test kit has no component client; pass { components } to call ${service.typeName}`);
  },
};
