// The service project a command runs in (`orrery dev`, `orrery build`): found,
// checked, and the tools it brings (tsx, typescript, esbuild) resolved from it.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** A user's mistake (wrong folder, missing file, bad argument): printed as one line, exit code 1, no stack. */
export class CliError extends Error {
  override readonly name = "CliError";
}

/** A folder holding an Orrery service: `package.json`, `src/main.ts`, usually `proto/`. */
export interface ProjectFolder {
  /** Absolute path of the folder. */
  readonly dir: string;
  /** The package name without its scope, e.g. "shopping-cart": the executable's name. */
  readonly name: string;
  /** `scripts` of package.json. */
  readonly scripts: Readonly<Record<string, string>>;
  /** Absolute path of src/main.ts, the service's entry point. */
  readonly main: string;
  /** The Orrery repository this folder sits in (a sample, or a copy under .tmp/), if any. */
  readonly orreryRepo: string | undefined;
}

/** Checks that `dir` is a service project and describes it; a `CliError` names what is missing. */
export function findProject(dir: string, command: string): ProjectFolder {
  const abs = path.resolve(dir);
  if (!existsSync(abs)) throw new CliError(`${command}: ${abs} does not exist`);
  const manifest = path.join(abs, "package.json");
  if (!existsSync(manifest)) {
    throw new CliError(`${command}: ${abs} is not a project folder (no package.json); run it where your service's package.json is, or create one with orrery new <dir>`);
  }
  let pkg: { name?: unknown; scripts?: Record<string, string> };
  try {
    pkg = JSON.parse(readFileSync(manifest, "utf8")) as typeof pkg;
  } catch (error) {
    throw new CliError(`${command}: cannot read ${manifest}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const main = path.join(abs, "src", "main.ts");
  if (!existsSync(main)) {
    throw new CliError(`${command}: no src/main.ts in ${abs}; the service's entry point must be src/main.ts (it calls createService(...).start())`);
  }
  const name = typeof pkg.name === "string" && pkg.name !== "" ? pkg.name.replace(/^@[^/]+\//, "") : path.basename(abs);
  return { dir: abs, name, scripts: pkg.scripts ?? {}, main, orreryRepo: findOrreryRepo(abs) };
}

/** The root of the Orrery repository above `dir` (the workspace root whose package.json is named "orrery"). */
export function findOrreryRepo(dir: string): string | undefined {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const manifest = path.join(at, "package.json");
    if (existsSync(manifest) && existsSync(path.join(at, "scripts", "generate.mjs"))) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "orrery") return at;
      } catch {
        // not ours
      }
    }
    if (path.dirname(at) === at) return undefined;
  }
}

/**
 * Resolves `specifier` as code in `dir` would (walking up node_modules), else
 * from this package's own dependencies; undefined when neither has it.
 */
export function resolvePackageFile(dir: string, specifier: string): string | undefined {
  for (const from of [path.join(dir, "package.json"), import.meta.filename]) {
    try {
      return createRequire(from).resolve(specifier);
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/** The folder of the installed package `name` as seen from `dir` (read through node_modules, ignoring `exports`). */
export function packageDir(dir: string, name: string): string | undefined {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const candidate = path.join(at, "node_modules", ...name.split("/"));
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    if (path.dirname(at) === at) return undefined;
  }
}

/** `file` relative to `dir` when inside it, for messages. */
export function shortPath(dir: string, file: string): string {
  const rel = path.relative(dir, file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

/**
 * Whether the project sees Orrery's packages with their TypeScript sources
 * (inside the Orrery repository, its workspaces) rather than as installed
 * tarballs, which ship only dist/: then the "orrery-source" export condition
 * is the one to resolve them with.
 */
export function orreryFromSource(projectDir: string): boolean {
  return ["@orrery/runtime", "@orrery/sdk"].every((name) => {
    const dir = packageDir(projectDir, name);
    return dir !== undefined && existsSync(path.join(dir, "src", "index.ts"));
  });
}
