// `orrery dev [dir]`: serves the project on PGlite and, on every change under
// proto/ or src/, regenerates, type-checks and restarts it.
import process from "node:process";
import { runDevLoop } from "./dev/dev-loop.js";
import { CliError, findProject } from "./project-folder.js";
import { stopSignal } from "./stop-signal.js";

const HELP = `usage: orrery dev [dir]

Runs the service in <dir> (default: the current folder) from src/main.ts and
watches proto/ and src/. A proto change runs the project's generate script (or
buf generate); every change is type-checked (tsc --noEmit) before the service
restarts. A failing step keeps the last good server running.

Storage is PGlite in ORRERY_DATA_DIR (default .orrery/data), kept across
restarts; DATABASE_URL, PORT and the other settings are passed to the service.
Ctrl-C (SIGINT), SIGTERM, SIGHUP or the end of the process that started it
stops it and the service.`;

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  try {
    const unknown = args.find((a) => a.startsWith("-"));
    if (unknown !== undefined) throw new CliError(`orrery dev: unknown option ${unknown} (see orrery dev --help)`);
    if (args.length > 1) throw new CliError(`orrery dev: one project folder at most, got ${args.join(" ")}`);
    const project = findProject(args[0] ?? ".", "orrery dev");
    return await runDevLoop({ project, env: { ...process.env }, print: (line) => console.log(line), stopSignal: stopSignal() });
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(error.message);
    return 1;
  }
}

