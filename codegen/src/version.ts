/** The plugin's name, as buf and protoc know it. */
export const pluginName = "protoc-gen-orrery";

/** The plugin's version, printed in every generated file's header; kept equal to package.json (a test checks). */
export const pluginVersion = "v0.1.0";
