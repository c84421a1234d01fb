// What `orrery dev` runs in a project to regenerate code and to type-check it.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { resolvePackageFile } from "../project-folder.js";
import type { ProjectFolder } from "../project-folder.js";
import type { StepCommand } from "./run-step.js";

/**
 * How to regenerate the project's code after a proto change, first match wins:
 * its own `generate` script; inside the Orrery repository, `buf generate` of
 * its proto/ with Orrery's options and the repository's buf.gen.yaml (what
 * `npm run generate` does per sample); `buf generate` with its buf.gen.yaml.
 * Undefined when there is none of these.
 */
export function generateCommand(project: ProjectFolder): StepCommand | undefined {
  if (project.scripts["generate"] !== undefined) {
    return { label: "npm run generate", command: "npm", args: ["run", "--silent", "generate"], cwd: project.dir, env: withBins(project.dir) };
  }
  const repo = project.orreryRepo;
  if (repo !== undefined && existsSync(path.join(project.dir, "proto"))) {
    const rel = path.relative(repo, project.dir);
    const workspace = { version: "v2", modules: [{ path: "proto" }, { path: `${rel}/proto` }] };
    return {
      label: "buf generate",
      command: bufCommand(repo),
      args: ["generate", `${rel}/proto`, "--config", JSON.stringify(workspace), "--template", "buf.gen.yaml", "-o", rel],
      cwd: repo,
      env: withBins(repo),
    };
  }
  if (existsSync(path.join(project.dir, "buf.gen.yaml"))) {
    return { label: "buf generate", command: bufCommand(project.dir), args: ["generate"], cwd: project.dir, env: withBins(project.dir) };
  }
  return undefined;
}

/**
 * `tsc --noEmit` over the project, incremental (its build info in .orrery/).
 * A project without a tsconfig.json (a sample inside the Orrery repository)
 * is checked with one written to .orrery/ that extends the nearest
 * tsconfig.json above it and includes src/. Undefined without typescript.
 */
export function typeCheckCommand(project: ProjectFolder): StepCommand | undefined {
  const tsc = resolvePackageFile(project.dir, "typescript/bin/tsc");
  if (tsc === undefined) return undefined;
  const stateDir = path.join(project.dir, ".orrery");
  let config = path.join(project.dir, "tsconfig.json");
  if (!existsSync(config)) config = writeDevTsconfig(project.dir, stateDir);
  return {
    label: "tsc --noEmit",
    command: process.execPath,
    args: [tsc, "-p", config, "--noEmit", "--pretty", "false", "--incremental", "--tsBuildInfoFile", path.join(stateDir, "dev.tsbuildinfo")],
    cwd: project.dir,
  };
}

function writeDevTsconfig(projectDir: string, stateDir: string): string {
  const parent = nearestTsconfig(path.dirname(projectDir));
  const config = {
    ...(parent !== undefined && { extends: parent }),
    compilerOptions: {
      ...(parent === undefined && {
        target: "ES2023", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: true, types: ["node"],
      }),
      noEmit: true,
    },
    include: [path.join(projectDir, "src")],
  };
  mkdirSync(stateDir, { recursive: true });
  const file = path.join(stateDir, "tsconfig.dev.json");
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

function nearestTsconfig(dir: string): string | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    const candidate = path.join(at, "tsconfig.json");
    if (existsSync(candidate)) return candidate;
    if (path.dirname(at) === at) return undefined;
  }
}

/** The project's buf (the @bufbuild/buf npm package ships the binary), else buf on PATH. */
function bufCommand(dir: string): string {
  for (let at = dir; ; at = path.dirname(at)) {
    const candidate = path.join(at, "node_modules", ".bin", "buf");
    if (existsSync(candidate)) return candidate;
    if (path.dirname(at) === at) return "buf";
  }
}

/** The environment with every node_modules/.bin from `dir` up on PATH, as `npm run` has it (buf finds its plugins there). */
function withBins(dir: string): NodeJS.ProcessEnv {
  const bins: string[] = [];
  for (let at = dir; ; at = path.dirname(at)) {
    const bin = path.join(at, "node_modules", ".bin");
    if (existsSync(bin)) bins.push(bin);
    if (path.dirname(at) === at) break;
  }
  return { ...process.env, PATH: [...bins, process.env["PATH"] ?? ""].join(path.delimiter) };
}
