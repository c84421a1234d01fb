// `orrery new <dir>`: writes a new service project from the template in
// @orrery/runtime's template/ folder. Installed from the registry, the project
// depends on the registry's @orrery/* packages of this version; run from an
// Orrery checkout (or with --orrery-from), it gets the checkout's packages as
// tarballs in vendor/orrery/ with file: specifiers, so that it installs
// offline of any published Orrery.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CliError, findOrreryRepo } from "./project-folder.js";

const HELP = `usage: orrery new <dir> [--name <package-name>] [--orrery-from <path>]

Writes a new Orrery service project into <dir> (which must not exist or be
empty): package.json, buf.yaml, buf.gen.yaml, a proto with one event-sourced
entity, its generated code, an implementation, a unit test with the test kit,
an end-to-end test with the generated client, a README and .gitignore.

  --name <name>         the package name (default: the folder's name)
  --orrery-from <path>  take the @orrery/* packages from an Orrery checkout
                        (packed into <dir>/vendor/orrery) or from a folder of
                        their tarballs, instead of the npm registry; the
                        default when orrery itself runs from a checkout

Then: cd <dir> && npm install && npm start`;

/** The @orrery/* packages a project depends on (workspaces of an Orrery checkout). */
const PACKAGES = ["@orrery/sdk", "@orrery/codegen", "@orrery/runtime"] as const;
type PackageName = (typeof PACKAGES)[number];

/** The folder holding this package (@orrery/runtime): src/cli/new.ts and dist/cli/new.js both sit two levels down. */
const runtimeDir = path.resolve(import.meta.dirname, "..", "..");
const templateDir = path.join(runtimeDir, "template");

interface NewOptions {
  readonly dir: string;
  readonly name: string | undefined;
  readonly orreryFrom: string | undefined;
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  try {
    const options = parseArgs(args);
    const started = Date.now();
    const written = writeProject(options);
    const rel = path.relative(process.cwd(), written.dir) || ".";
    const cd = rel.startsWith("..") || path.isAbsolute(rel) ? written.dir : rel;
    console.log(`orrery new: wrote ${written.name} in ${written.dir} (${written.files} files, @orrery/* ${written.source}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`\nnext:\n  cd ${cd}\n  npm install\n  npm start          # serves on PORT (8080) with PGlite in .orrery/data\n  npm test           # type check, unit and end-to-end tests\n  npm run dev        # regenerate, type-check and restart on every change`);
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(error.message);
    return 1;
  }
}

function parseArgs(args: string[]): NewOptions {
  let dir: string | undefined;
  let name: string | undefined;
  let orreryFrom: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined || v.startsWith("-")) throw new CliError(`orrery new: ${arg} needs a value (see orrery new --help)`);
      return v;
    };
    if (arg === "--name") name = value();
    else if (arg === "--orrery-from") orreryFrom = value();
    else if (arg.startsWith("--name=")) name = arg.slice("--name=".length);
    else if (arg.startsWith("--orrery-from=")) orreryFrom = arg.slice("--orrery-from=".length);
    else if (arg.startsWith("-")) throw new CliError(`orrery new: unknown option ${arg} (see orrery new --help)`);
    else if (dir !== undefined) throw new CliError(`orrery new: one folder only, got ${dir} and ${arg}`);
    else dir = arg;
  }
  if (dir === undefined) throw new CliError("orrery new: name the folder to create, e.g. orrery new my-service");
  return { dir: path.resolve(dir), name, orreryFrom };
}

/** npm's rules for a package name, the ones a folder name can break. */
function checkPackageName(name: string, fromFolder: boolean): void {
  const problem =
    name.length > 214 ? "is longer than 214 characters"
    : name !== name.toLowerCase() ? "has capital letters"
    : /^[._]/.test(name) ? "starts with . or _"
    : !/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(name) ? "has characters npm does not allow"
    : undefined;
  if (problem !== undefined) {
    const fix = fromFolder ? "pass --name <package-name>, or pick another folder name" : "pick another --name";
    throw new CliError(`orrery new: ${JSON.stringify(name)} ${problem}, so it cannot be the package name; ${fix}`);
  }
}

interface Written {
  readonly dir: string;
  readonly name: string;
  readonly files: number;
  /** Where the @orrery/* packages come from, for the report. */
  readonly source: string;
}

function writeProject(options: NewOptions): Written {
  const { dir } = options;
  const name = options.name ?? path.basename(dir);
  checkPackageName(name, options.name === undefined);
  if (!existsSync(path.join(templateDir, "package.json"))) {
    throw new CliError(`orrery new: the project template is missing from ${templateDir}; reinstall @orrery/runtime`);
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new CliError(`orrery new: ${dir} exists and is not empty; pick a new folder (orrery new never overwrites files)`);
  }
  const packages = resolvePackages(options.orreryFrom);

  mkdirSync(dir, { recursive: true });
  try {
    const files = copyTemplate(dir);
    renameSync(path.join(dir, "gitignore"), path.join(dir, ".gitignore"));
    const readme = path.join(dir, "README.md");
    writeFileSync(readme, readFileSync(readme, "utf8").replaceAll("{{name}}", name));
    const specifiers = packages.kind === "registry" ? undefined : packages.vendor(dir);
    const manifest = JSON.parse(readFileSync(path.join(templateDir, "package.json"), "utf8")) as Manifest;
    writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(projectManifest(manifest, name, specifiers), null, 2)}\n`);
    return { dir, name, files, source: packages.describe };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

type Manifest = Record<string, unknown> & { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** The template's package.json with the project's name and, when vendored, file: specifiers for @orrery/*. */
function projectManifest(template: Manifest, name: string, specifiers: Record<PackageName, string> | undefined): Manifest {
  const pick = (deps: Record<string, string>) =>
    Object.fromEntries(Object.entries(deps).map(([dep, version]) => [dep, specifiers?.[dep as PackageName] ?? version]));
  return { ...template, name, dependencies: pick(template.dependencies), devDependencies: pick(template.devDependencies) };
}

/** Copies the template except what running it in place leaves behind; counts the files, package.json included. */
function copyTemplate(dir: string): number {
  const skip = new Set(["node_modules", ".orrery", "dist", "dist-bin", "vendor", "package.json", "package-lock.json"]);
  cpSync(templateDir, dir, { recursive: true, filter: (source) => !skip.has(path.relative(templateDir, source).split(path.sep)[0]!) });
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length + 1;
}

type PackageSource =
  | { readonly kind: "registry"; readonly describe: string }
  | { readonly kind: "vendored"; readonly describe: string; vendor(dir: string): Record<PackageName, string> };

/**
 * Where the project's @orrery/* packages come from: an Orrery checkout packed
 * into vendor/orrery, a folder of tarballs copied there, or the registry at
 * this package's own version.
 */
function resolvePackages(orreryFrom: string | undefined): PackageSource {
  const from = orreryFrom !== undefined ? path.resolve(orreryFrom) : runningFromCheckout();
  if (from === undefined) {
    const version = (JSON.parse(readFileSync(path.join(runtimeDir, "package.json"), "utf8")) as { version: string }).version;
    return { kind: "registry", describe: `${version} from the npm registry` };
  }
  if (!existsSync(from)) throw new CliError(`orrery new: --orrery-from ${from} does not exist`);
  if (findOrreryRepo(from) === from) {
    return { kind: "vendored", describe: `packed from the checkout ${from}`, vendor: (dir) => vendor(packCheckout(from, vendorDir(dir))) };
  }
  const tarballs = findTarballs(from);
  return {
    kind: "vendored",
    describe: `copied from ${from}`,
    vendor: (dir) => {
      const to = vendorDir(dir);
      for (const file of Object.values(tarballs)) cpSync(path.join(from, file), path.join(to, file));
      return vendor(tarballs);
    },
  };
}

/** The Orrery checkout this command runs from (its sources present), if any. */
function runningFromCheckout(): string | undefined {
  if (!existsSync(path.join(runtimeDir, "src", "cli", "new.ts"))) return undefined;
  return findOrreryRepo(runtimeDir);
}

/** Where vendored tarballs go, relative to the project (and so in its file: specifiers). */
const VENDOR = "vendor/orrery";

function vendorDir(dir: string): string {
  const to = path.join(dir, ...VENDOR.split("/"));
  mkdirSync(to, { recursive: true });
  return to;
}

function vendor(tarballs: Record<PackageName, string>): Record<PackageName, string> {
  return Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${VENDOR}/${file}`])) as Record<PackageName, string>;
}

/** The tarball of each @orrery/* package in `folder` (orrery-sdk-<version>.tgz, as npm pack names them). */
function findTarballs(folder: string): Record<PackageName, string> {
  const files = readdirSync(folder);
  const out: Partial<Record<PackageName, string>> = {};
  for (const name of PACKAGES) {
    const prefix = `${name.slice(1).replace("/", "-")}-`;
    const found = files.filter((f) => f.startsWith(prefix) && f.endsWith(".tgz")).sort();
    if (found.length === 0) {
      throw new CliError(`orrery new: --orrery-from ${folder} is neither an Orrery checkout nor a folder with a ${prefix}<version>.tgz (npm pack of ${name})`);
    }
    out[name] = found[found.length - 1]!;
  }
  return out as Record<PackageName, string>;
}

/** `npm pack` of the checkout's three packages into `to` (their prepack builds them first). */
function packCheckout(repo: string, to: string): Record<PackageName, string> {
  // By name: `--workspace runtime` would match runtime/create-orrery too (npm matches folders by prefix).
  const workspaces = PACKAGES.flatMap((name) => ["--workspace", name]);
  console.log(`orrery new: packing @orrery/sdk, @orrery/codegen and @orrery/runtime from ${repo} (builds them first)…`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["pack", ...workspaces, "--pack-destination", to, "--silent"], { cwd: repo, encoding: "utf8", env: withoutNpmConfig(process.env) });
  if (result.error !== undefined || result.status !== 0) {
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
    throw new CliError(`orrery new: npm pack in ${repo} failed (${result.error?.message ?? `exit ${result.status}`}); run npm ci there first\n${output}`);
  }
  return findTarballs(to);
}

/** npm sets npm_config_* for scripts it runs; a nested `npm pack` must not inherit e.g. the workspace of `npm run -w`. */
function withoutNpmConfig(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^npm_config_(workspace|prefix|global)/i.test(k)));
}
