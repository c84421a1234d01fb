// For users: the plugin itself, to run in-process (tests, custom runners).
export { protocGenOrrery } from "./plugin.js";
export { OrreryCodegenError } from "./orrery-codegen-error.js";

// For tools built on the plugin.
export { pluginName, pluginVersion } from "./version.js";
