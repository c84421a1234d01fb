// A Node single executable application: the bundled script plus assets as a
// blob (`node --experimental-sea-config`), injected with postject into a copy
// of the node binary that runs `orrery build`.
import { spawnSync } from "node:child_process";
import { chmod, copyFile, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { CliError } from "../project-folder.js";

// The fuse Node's binary carries for single executables (docs: "Single executable applications").
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

interface Postject {
  inject(file: string, resource: string, data: Buffer, options: { sentinelFuse: string; overwrite?: boolean }): Promise<void>;
}

/** Options for {@link writeSeaExecutable}. */
export interface SeaExecutableOptions {
  /** The CommonJS main script. */
  readonly script: string;
  /** Asset key → file to embed. */
  readonly assets: Readonly<Record<string, string>>;
  /** Where the intermediate files go (main script, config, blob). */
  readonly workDir: string;
  /** The executable to write. */
  readonly output: string;
}

/** Writes the executable; resolves with the blob's size. A failure of node or postject is a `CliError`. */
export async function writeSeaExecutable(options: SeaExecutableOptions): Promise<{ blobBytes: number }> {
  const main = path.join(options.workDir, "main.cjs");
  const blob = path.join(options.workDir, "sea-prep.blob");
  const config = path.join(options.workDir, "sea-config.json");
  await writeFile(main, options.script);
  await writeFile(config, `${JSON.stringify({
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true, // compiled at build time: the service starts without parsing its bundle
    assets: options.assets,
  }, null, 2)}\n`);
  const prepared = spawnSync(process.execPath, ["--experimental-sea-config", config], { cwd: options.workDir, encoding: "utf8" });
  if (prepared.status !== 0) {
    const reason = (prepared.stderr || prepared.error?.message || `exit ${prepared.status}`).trim().split("\n").slice(-3).join(" ");
    throw new CliError(`orrery build: node --experimental-sea-config failed: ${reason}`);
  }
  const data = await readFile(blob);
  await rm(options.output, { force: true });
  await copyFile(process.execPath, options.output);
  await chmod(options.output, 0o755);
  const postject = createRequire(import.meta.filename)("postject") as Postject;
  // LIEF inside postject warns about every ELF note it cannot name ("Can't find string offset for
  // section name '.note.100'"): harmless, as Node's docs say, and noise in the report.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!/Can't find string offset for section name/.test(String(args[0]))) warn(...args);
  };
  try {
    await postject.inject(options.output, "NODE_SEA_BLOB", data, { sentinelFuse: SEA_FUSE, overwrite: true });
  } catch (error) {
    await rm(options.output, { force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(`orrery build: could not inject the service into a copy of ${process.execPath} (a node built without single-executable support?): ${reason}`);
  } finally {
    console.warn = warn;
  }
  await rm(blob, { force: true }); // it is inside the executable now
  return { blobBytes: data.length };
}
