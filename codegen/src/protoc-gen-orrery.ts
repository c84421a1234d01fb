// The plugin's entry point: buf or protoc writes a CodeGeneratorRequest to stdin.
import { runNodeJs } from "@bufbuild/protoplugin";
import { protocGenOrrery } from "./plugin.js";

runNodeJs(protocGenOrrery);
