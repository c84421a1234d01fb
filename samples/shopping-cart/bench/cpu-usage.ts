// CPU used during a timed window, in cores (1.0 = one core busy all the time):
// by this load generator, the server process, PostgreSQL, and everything else
// on the machine (other people's work: noise). Reads Linux /proc; elsewhere
// only the generator's own figure is known.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** CPU used between two {@link sampleCpu} calls, in cores. */
export interface CpuUsage {
  /** This process (the load generator). */
  readonly generator: number;
  /** The server process; undefined where /proc is missing. */
  readonly server: number | undefined;
  /** Every process named "postgres" (all servers on the machine, not only ours). */
  readonly postgres: number | undefined;
  /** Every process on the machine. */
  readonly machine: number | undefined;
  /** The machine minus the three above: work that is not ours, competing for the cores. */
  readonly other: number | undefined;
  /** Time the hypervisor gave our vCPUs to someone else: noise from neighbours. */
  readonly steal: number | undefined;
}

/** A point-in-time reading; subtract two with {@link cpuBetween}. */
export interface CpuSample {
  readonly atNs: bigint;
  readonly generatorMicros: number;
  readonly serverTicks: number | undefined;
  /** Ticks per live "postgres" process, by pid. */
  readonly postgresTicks: ReadonlyMap<number, number> | undefined;
  readonly machine: { busy: number; steal: number } | undefined;
}

const ticksPerSecond = clockTicks();

/** Reads the CPU counters now; `serverPid` is the server process to follow. */
export function sampleCpu(serverPid: number | undefined): CpuSample {
  const own = process.cpuUsage();
  return {
    atNs: process.hrtime.bigint(),
    generatorMicros: own.user + own.system,
    serverTicks: serverPid === undefined ? undefined : processTicks(serverPid),
    postgresTicks: ticksOfProcessesNamed("postgres"),
    machine: machineTicks(),
  };
}

/** CPU used from `a` to `b`, in cores. */
export function cpuBetween(a: CpuSample, b: CpuSample): CpuUsage {
  const seconds = Number(b.atNs - a.atNs) / 1e9;
  const cores = (from: number | undefined, to: number | undefined): number | undefined =>
    from === undefined || to === undefined ? undefined : (to - from) / ticksPerSecond / seconds;
  const generator = (b.generatorMicros - a.generatorMicros) / 1e6 / seconds;
  const server = cores(a.serverTicks, b.serverTicks);
  const postgres = a.postgresTicks && b.postgresTicks ? cores(0, growth(a.postgresTicks, b.postgresTicks)) : undefined;
  const machine = cores(a.machine?.busy, b.machine?.busy);
  return {
    generator, server, postgres, machine,
    other: machine === undefined ? undefined : Math.max(0, machine - generator - (server ?? 0) - (postgres ?? 0)),
    steal: cores(a.machine?.steal, b.machine?.steal),
  };
}

function processTicks(pid: number): number | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "utf8")).ticks;
  } catch {
    return undefined; // gone, or no /proc
  }
}

/** Ticks the processes alive at `b` used since `a` (all of them for one started in between). */
function growth(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const [pid, ticks] of b) total += ticks - (a.get(pid) ?? 0);
  return total;
}

/** CPU ticks of each live process called `name`, by pid. */
function ticksOfProcessesNamed(name: string): Map<number, number> | undefined {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  const ticks = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
      if (stat.name === name) ticks.set(Number(pid), stat.ticks);
    } catch {
      // exited while we looked
    }
  }
  return ticks;
}

function parseStat(stat: string): { name: string; ticks: number } {
  const close = stat.lastIndexOf(")");
  // Fields after "(comm) ": state is the first; utime and stime are the 12th and 13th.
  const fields = stat.slice(close + 2).split(" ");
  return { name: stat.slice(stat.indexOf("(") + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

function machineTicks(): { busy: number; steal: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1, 9).map(Number);
    return { busy: user + nice + system + irq + softirq, steal };
  } catch {
    return undefined;
  }
}

function clockTicks(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
}
