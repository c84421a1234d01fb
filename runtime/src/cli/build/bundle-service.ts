// Bundles a service's src/main.ts and everything it imports into one
// CommonJS script, the only kind of main script a Node 20 single executable
// runs. esbuild writes ESM first (so that top-level `await`, which every
// src/main.ts has, works), with Node's built-in modules taken through
// `require`; the script then runs that ESM inside an async function.
import { existsSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { build } from "esbuild";
import type { BuildFailure, Message, Plugin } from "esbuild";
import { CliError, orreryFromSource, shortPath } from "../project-folder.js";

/** Optional dependencies that are never bundled: requiring one throws, as when it is not installed. */
const OPTIONAL_DEPENDENCIES = ["pg-native"];

/** The bundled script. */
export interface ServiceBundle {
  readonly code: string;
  /** esbuild's warnings, one line each. */
  readonly warnings: readonly string[];
  /** Every file bundled, absolute. */
  readonly inputs: readonly string[];
}

/**
 * Bundles `entry` as seen from `projectDir`. A bundling error (a missing
 * import, a syntax error) becomes a `CliError` naming file:line:column.
 */
export async function bundleService(projectDir: string, entry: string): Promise<ServiceBundle> {
  // Where Orrery's packages come with their TypeScript sources (inside the Orrery repository), bundle those, as `orrery dev` runs them.
  const fromSource = orreryFromSource(projectDir);
  let result;
  try {
    result = await build({
      absWorkingDir: projectDir,
      stdin: { contents: `import ${JSON.stringify(entry)};`, resolveDir: projectDir, sourcefile: "orrery-main.js", loader: "js" },
      bundle: true,
      write: false,
      platform: "node",
      target: "node20",
      format: "esm",
      conditions: fromSource ? ["orrery-source"] : [],
      define: {
        "import.meta.url": "__orrery_import_meta_url",
        "import.meta.filename": "__filename",
        "import.meta.dirname": "__dirname",
      },
      plugins: [builtinsThroughRequire(), optionalDependencies()],
      legalComments: "none",
      metafile: true,
      logLevel: "silent",
    });
  } catch (error) {
    const failure = error as Partial<BuildFailure>;
    if (!Array.isArray(failure.errors)) throw error;
    throw new CliError(failure.errors.slice(0, 5).map((m) => `orrery build: ${describe(projectDir, m)}`).join("\n") +
      (failure.errors.length > 5 ? `\norrery build: … and ${failure.errors.length - 5} more errors` : ""));
  }
  for (const output of Object.values(result.metafile.outputs)) {
    const kept = output.imports.filter((i) => i.external && i.kind === "import-statement").map((i) => i.path);
    if (kept.length > 0 || output.exports.length > 0) {
      throw new CliError(`orrery build: the bundle kept top-level imports (${kept.join(", ")}) or exports; please report this as an Orrery bug`);
    }
  }
  // What `define` cannot reach (`import.meta` passed around whole) is a syntax error outside a module.
  const esm = result.outputFiles[0]!.text.replace(/\bimport\.meta\b/g, "__orrery_import_meta");
  const code = [
    '"use strict";',
    "// Built by `orrery build`: the service's ESM bundle, run as a CommonJS script (Node's single executables need one).",
    "const __orrery_require = require;",
    'const __orrery_import_meta_url = require("node:url").pathToFileURL(__filename).href;',
    "const __orrery_import_meta = { url: __orrery_import_meta_url, filename: __filename, dirname: __dirname };",
    "(async () => {",
    esm,
    "})().catch((error) => process.nextTick(() => { throw error; }));",
    "",
  ].join("\n");
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes(":")).map((f) => path.resolve(projectDir, f));
  return { code, warnings: result.warnings.map((m) => describe(projectDir, m)), inputs };
}

/** `import fs from "node:fs"` in the ESM bundle would be a top-level import; take every built-in through `require` instead. */
function builtinsThroughRequire(): Plugin {
  const names = builtinModules.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|");
  const filter = new RegExp(`^(node:.+|(${names})(/.*)?)$`);
  return {
    name: "orrery-builtins-through-require",
    setup(b) {
      b.onResolve({ filter }, (args) => ({ path: args.path.replace(/^node:/, ""), namespace: "orrery-builtin" }));
      b.onLoad({ filter: /.*/, namespace: "orrery-builtin" }, (args) => ({
        contents: `module.exports = __orrery_require(${JSON.stringify(`node:${args.path}`)});`,
        loader: "js",
      }));
    },
  };
}

function optionalDependencies(): Plugin {
  const filter = new RegExp(`^(${OPTIONAL_DEPENDENCIES.join("|")})$`);
  return {
    name: "orrery-optional-dependencies",
    setup(b) {
      b.onResolve({ filter }, (args) => ({ path: args.path, namespace: "orrery-optional" }));
      b.onLoad({ filter: /.*/, namespace: "orrery-optional" }, (args) => ({
        contents: `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${args.path}' (not bundled by orrery build)`)}), { code: "MODULE_NOT_FOUND" });`,
        loader: "js",
      }));
    },
  };
}

function describe(projectDir: string, message: Message): string {
  const at = message.location;
  if (at === null) return message.text;
  return `${shortPath(projectDir, path.resolve(projectDir, at.file))}:${at.line}:${at.column + 1}: ${message.text}`;
}
