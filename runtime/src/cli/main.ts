// `orrery <command> [args]`: dispatches to one module per command. Each command
// module exports `run(args)`, which resolves to the process exit code.
import process from "node:process";

/** One `orrery` subcommand. */
export interface CliCommand {
  /** One line for `orrery --help`. */
  readonly summary: string;
  /** Loads the command's module only when it runs. */
  readonly load: () => Promise<{ run(args: string[]): Promise<number> }>;
}

const commands: Record<string, CliCommand> = {
  new: { summary: "write a new Orrery project into <dir>", load: () => import("./new.js") },
  dev: { summary: "regenerate, type-check and restart the service on every change (PGlite)", load: () => import("./dev.js") },
  build: { summary: "build the service into one executable plus a Dockerfile", load: () => import("./build.js") },
  cluster: { summary: "run the service as a cluster of nodes on this machine (embedded PostgreSQL)", load: () => import("./cluster.js") },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  orrery ${name.padEnd(width)}  ${c.summary}`);
  return ["usage: orrery <command> [options]", "", ...lines, "", "orrery <command> --help tells more."].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    console.error(`orrery: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  const module = await command.load();
  return module.run(args);
}

process.exitCode = await main(process.argv.slice(2));
