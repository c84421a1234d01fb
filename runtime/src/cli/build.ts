// `orrery build [dir] [--out <dir>]`: the service as one executable (Node's
// single executable applications: the code bundled by esbuild, PGlite's files
// as assets) plus a Dockerfile, in dist-bin/.
import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { pgliteAssetFiles, pgliteAssetKey } from "../storage/pglite-assets.js";
import { bundleService } from "./build/bundle-service.js";
import { dockerfile } from "./build/dockerfile.js";
import { writeSeaExecutable } from "./build/sea-executable.js";
import { CliError, findProject, shortPath } from "./project-folder.js";

const HELP = `usage: orrery build [dir] [--out <folder>]

Builds the service in <dir> (default: the current folder) into one executable,
<folder>/<name> (default folder: dist-bin), that needs no node_modules: its
src/main.ts and every dependency bundled with esbuild, PGlite's files inside,
run by a copy of this node binary. A Dockerfile is written next to it.

The executable serves on PORT with PGlite in ORRERY_DATA_DIR (default
.orrery/data, relative to the folder it runs in), or on PostgreSQL when
DATABASE_URL is set.`;

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  try {
    await build(parseArgs(args));
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(error.message);
    return 1;
  }
}

function parseArgs(args: string[]): { dir: string; out: string | undefined } {
  let dir: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--out") {
      out = args[++i];
      if (out === undefined) throw new CliError("orrery build: --out needs a folder");
    } else if (arg.startsWith("--out=")) out = arg.slice("--out=".length);
    else if (arg.startsWith("-")) throw new CliError(`orrery build: unknown option ${arg} (see orrery build --help)`);
    else if (dir === undefined) dir = arg;
    else throw new CliError(`orrery build: one project folder at most, got ${dir} and ${arg}`);
  }
  return { dir: dir ?? ".", out };
}

async function build(options: { dir: string; out: string | undefined }): Promise<void> {
  const started = Date.now();
  const project = findProject(options.dir, "orrery build");
  const outDir = path.resolve(project.dir, options.out ?? "dist-bin");
  const workDir = path.join(project.dir, ".orrery", "build");
  await mkdir(outDir, { recursive: true });
  await mkdir(workDir, { recursive: true });
  const say = (line: string): void => console.log(line);
  say(`orrery build: ${project.name} (${project.dir})`);

  let at = Date.now();
  const bundle = await bundleService(project.dir, project.main);
  for (const warning of bundle.warnings) say(`  warning: ${warning}`);
  say(`  bundle      ${size(Buffer.byteLength(bundle.code))}  esbuild, ${seconds(Date.now() - at)}`);

  const pglite = pgliteDist(bundle.inputs);
  const assets: Record<string, string> = {};
  const sizes: string[] = [];
  for (const file of Object.values(pgliteAssetFiles)) {
    const from = path.join(pglite, file);
    assets[pgliteAssetKey(file)] = from;
    sizes.push(`${file} ${size((await stat(from)).size)}`);
  }
  say(`  assets      PGlite ${sizes.join(", ")}`);

  at = Date.now();
  const output = path.join(outDir, project.name);
  const { blobBytes } = await writeSeaExecutable({ script: bundle.code, assets, workDir, output });
  say(`  executable  ${shortPath(project.dir, output)}  ${size((await stat(output)).size)} (blob ${size(blobBytes)}), ${seconds(Date.now() - at)}`);
  const dockerFile = path.join(outDir, "Dockerfile");
  await writeFile(dockerFile, dockerfile(project.name));
  say(`  Dockerfile  ${shortPath(project.dir, dockerFile)}`);
  say(`built in ${seconds(Date.now() - started)}; run it: PORT=8080 ${shortPath(project.dir, output)}`);
}

/** The dist folder of the PGlite that was bundled: its wasm and data must match its JS. */
function pgliteDist(bundled: readonly string[]): string {
  for (const file of bundled) {
    const match = /[\\/]@electric-sql[\\/]pglite[\\/]dist(?=[\\/])/.exec(file);
    if (match !== null) return file.slice(0, match.index + match[0].length);
  }
  throw new CliError("orrery build: the bundle holds no @electric-sql/pglite; is @orrery/runtime installed? run npm install");
}

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(0)} kB`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
