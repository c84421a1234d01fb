// CPU used during a timed window, in cores (1.0 = one core busy all the time):
// by this load generator, the server process, PostgreSQL, and everything else
// on the machine (work that is not ours: noise), with the busiest of those
// named. Reads Linux /proc; elsewhere only the generator's own figure is known.
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
  /** The processes behind `other` that used the most (short-lived ones are not seen). */
  readonly busiestOthers: ReadonlyArray<{ pid: number; command: string; cores: number }>;
  /** Time the hypervisor gave our vCPUs to someone else: noise from neighbours. */
  readonly steal: number | undefined;
}

/** A point-in-time reading; subtract two with {@link cpuBetween}. */
export interface CpuSample {
  readonly atNs: bigint;
  readonly generatorMicros: number;
  readonly serverPid: number | undefined;
  /** CPU ticks and name of every live process, by pid. */
  readonly processes: ReadonlyMap<number, { name: string; ticks: number }> | undefined;
  readonly machine: { busy: number; steal: number } | undefined;
}

const ticksPerSecond = clockTicks();

/** Reads the CPU counters now; `serverPid` is the server process to follow. */
export function sampleCpu(serverPid: number | undefined): CpuSample {
  const own = process.cpuUsage();
  return {
    atNs: process.hrtime.bigint(),
    generatorMicros: own.user + own.system,
    serverPid,
    processes: processTable(),
    machine: machineTicks(),
  };
}

/** CPU used from `a` to `b`, in cores. */
export function cpuBetween(a: CpuSample, b: CpuSample): CpuUsage {
  const seconds = Number(b.atNs - a.atNs) / 1e9;
  const toCores = (ticks: number): number => ticks / ticksPerSecond / seconds;
  const generator = (b.generatorMicros - a.generatorMicros) / 1e6 / seconds;
  const machine = a.machine && b.machine ? toCores(b.machine.busy - a.machine.busy) : undefined;
  const steal = a.machine && b.machine ? toCores(b.machine.steal - a.machine.steal) : undefined;
  if (a.processes === undefined || b.processes === undefined) {
    return { generator, server: undefined, postgres: undefined, machine, other: undefined, busiestOthers: [], steal };
  }
  let server: number | undefined;
  let postgres = 0;
  const others: Array<{ pid: number; cores: number }> = [];
  // A process started inside the window counts in full; one that ended inside it is not seen.
  for (const [pid, { name, ticks }] of b.processes) {
    const used = toCores(ticks - (a.processes.get(pid)?.ticks ?? 0));
    if (pid === b.serverPid) server = used;
    else if (name === "postgres") postgres += used;
    else if (pid !== process.pid && used >= 0.05) others.push({ pid, cores: used });
  }
  const ours = generator + (server ?? 0) + postgres;
  return {
    generator, server, postgres, machine, steal,
    other: machine === undefined ? undefined : Math.max(0, machine - ours),
    busiestOthers: others
      .sort((x, y) => y.cores - x.cores)
      .slice(0, 3)
      .map((o) => ({ ...o, command: commandLine(o.pid) })),
  };
}

function processTable(): Map<number, { name: string; ticks: number }> | undefined {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  const table = new Map<number, { name: string; ticks: number }>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      // Fields after "(comm) ": state is the first; utime and stime are the 12th and 13th.
      const fields = stat.slice(close + 2).split(" ");
      table.set(Number(pid), { name: stat.slice(stat.indexOf("(") + 1, close), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // exited while we looked
    }
  }
  return table;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim().slice(0, 160);
  } catch {
    return "(exited)";
  }
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
