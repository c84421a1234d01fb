import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { fileURLToPath } from "node:url";

const sampleDir = fileURLToPath(new URL("..", import.meta.url));

/** Runs `src/main.ts` with `env` until it exits; resolves with its exit code and everything it printed. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--conditions=orrery-source", "--import", "tsx", "src/main.ts"], {
      cwd: sampleDir,
      env: { ...process.env, DATABASE_URL: "", ORRERY_DATA_DIR: "memory:", HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Asserts one line of output that names `setting`, and no stack trace. */
function assertOneClearLine(output: string, pattern: RegExp): void {
  const lines = output.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${output}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(output, /\n\s+at |node:internal|\.ts:\d+/, "no stack trace");
}

describe("a service that cannot start", function () {
  this.timeout(60_000);
  let holder: Server;
  const sockets = new Set<Socket>();
  let takenPort: number;
  before(async () => {
    holder = createServer((socket) => sockets.add(socket)); // accepts, never speaks
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    takenPort = (holder.address() as AddressInfo).port;
  });
  after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => holder.close(() => resolve()));
  });

  it("says in one line that the port is in use and which setting to change, and exits 1", async () => {
    const { code, output } = await runMain({ PORT: String(takenPort) });
    assert.equal(code, 1);
    assertOneClearLine(output, new RegExp(`cannot start: port ${takenPort} on 127\\.0\\.0\\.1 is already in use; set PORT`));
  });

  it("says in one line that the database cannot be reached, naming DATABASE_URL, and exits 1", async () => {
    const { code, output } = await runMain({ PORT: "0", DATABASE_URL: `postgres://postgres@127.0.0.1:${takenPort}/nowhere` });
    assert.equal(code, 1);
    assertOneClearLine(output, /cannot start: could not connect to PostgreSQL at 127\.0\.0\.1:\d+\/nowhere: .*check DATABASE_URL/);
  });

  it("lists every bad setting in one line and exits 1", async () => {
    const { code, output } = await runMain({ PORT: "eighty", ORRERY_STORAGE_WAIT_MS: "-1" });
    assert.equal(code, 1);
    assertOneClearLine(output, /^orrery: cannot start: invalid configuration: PORT="eighty" is not an integer .*; ORRERY_STORAGE_WAIT_MS="-1" is not an integer/);
  });
});
