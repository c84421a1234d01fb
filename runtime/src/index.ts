// For service authors.
export { createService } from "./create-service.js";
export type { Component, OrreryService, ServiceOptions } from "./create-service.js";
export { ConfigError, loadConfig } from "./config.js";
export type { LogFormat, RuntimeConfig } from "./config.js";
