// Regression: under load, a PostgreSQL restart, a stopped server, killed
// backends or a network cut made the server process EXIT (Unhandled 'error'
// event from pg/lib/client.js). Each fault below runs against a real server
// process and an embedded PostgreSQL server of its own (never DATABASE_URL's),
// and demands: the process survives; callers get only UNAVAILABLE, revealing no
// internals; /readyz says 503 while the database is gone and 200 once it is
// back; service resumes unaided; every acknowledged write is there exactly once.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import pg from "pg";
import { startEmbeddedPostgres } from "../../../runtime/test/support/embedded-postgres.js";
import type { EmbeddedPostgres } from "../../../runtime/test/support/embedded-postgres.js";
import { admin, withDatabase } from "../../../runtime/test/support/postgres-server.js";
import { startTcpProxy } from "../../../runtime/test/support/tcp-proxy.js";
import type { TcpProxy } from "../../../runtime/test/support/tcp-proxy.js";
import { pollReadyz, sleep, startCartLoad } from "./support/cart-load.js";
import type { AddItemCall } from "./support/cart-load.js";
import { checkCarts, checkJournalOnly, readJournal } from "./support/cart-audit.js";
import { describeSamples, internalsIn, listErrors, summarizeCodes, tail } from "./support/fault-report.js";
import { startServerProcess } from "./support/server-process.js";
import type { ServerProcess } from "./support/server-process.js";

const CLIENTS = 16;
const CARTS = 32;
const CALL_TIMEOUT_MS = 20_000;
const FAULT_MS = 4_000;
/** How long after the database's return a write must succeed and /readyz answer 200. */
const RECOVERY_MS = 15_000;

interface Fault {
  readonly name: string;
  /** Whether the service reaches PostgreSQL through a {@link TcpProxy}. */
  readonly throughProxy: boolean;
  /** Whether /readyz must answer 503 at least once during the fault. */
  readonly notReadyDuringFault: boolean;
  /** Injects the fault; resolves the moment the database is reachable again. Returns a note for the log. */
  inject(postgres: EmbeddedPostgres, proxy: TcpProxy | undefined): Promise<string | void>;
}

const faults: Fault[] = [
  {
    name: "a fast restart of the PostgreSQL server (pg_ctl restart -m fast)",
    throughProxy: false,
    // Not required: the server is down for ~150-250 ms, and a lost connection
    // whose reconnect (or probe) already finds the server back is, by design,
    // no outage to report, so /readyz may rightly stay 200 throughout (seen in
    // CI on a busy machine). The stopped server below checks the 503.
    notReadyDuringFault: false,
    inject: (postgres) => postgres.restart("fast"),
  },
  {
    name: `the PostgreSQL server stopped for ${FAULT_MS / 1000} s`,
    throughProxy: false,
    notReadyDuringFault: true,
    async inject(postgres) {
      await postgres.shutdown("fast");
      await sleep(FAULT_MS);
      await postgres.start();
    },
  },
  {
    name: "the service's backends terminated every 200 ms for 3 s",
    throughProxy: false,
    notReadyDuringFault: false,
    async inject(postgres) {
      const adminClient = new pg.Client({ connectionString: postgres.url });
      await adminClient.connect();
      let terminated = 0;
      try {
        for (const until = performance.now() + 3_000; performance.now() < until; await sleep(200)) {
          const { rows } = await adminClient.query<{ n: number }>(
            "select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'orrery%' and pid <> pg_backend_pid()) t",
          );
          terminated += rows[0]?.n ?? 0;
        }
      } finally {
        await adminClient.end();
      }
      if (terminated === 0) throw new Error("no backend with application_name like 'orrery%' was there to terminate");
      return `${terminated} backends terminated`;
    },
  },
  {
    name: `the network to PostgreSQL cut for ${FAULT_MS / 1000} s`,
    throughProxy: true,
    notReadyDuringFault: true,
    async inject(_, proxy) {
      proxy!.cut();
      await sleep(FAULT_MS);
      proxy!.restore();
    },
  },
  {
    name: `the network to PostgreSQL blackholed for ${FAULT_MS / 1000} s (a partition: nothing answers, nothing fails)`,
    throughProxy: true,
    notReadyDuringFault: true,
    async inject(_, proxy) {
      proxy!.blackhole();
      await sleep(FAULT_MS);
      proxy!.restore();
    },
  },
];

describe("the shopping cart server when PostgreSQL fails under load", function () {
  let postgres: EmbeddedPostgres;
  let databases = 0;

  before(async function () {
    this.timeout(60_000);
    postgres = await startEmbeddedPostgres();
  });
  after(async () => postgres?.stop());

  for (const fault of faults) {
    it(`survives ${fault.name}, answering only UNAVAILABLE and then serving again with every acknowledged write kept once`, async function () {
      this.timeout(80_000);
      const database = `orrery_faults_${process.pid}_${databases++}`;
      await admin(postgres.url, `create database ${database}`);
      const proxy = fault.throughProxy ? await startTcpProxy({ host: "127.0.0.1", port: postgres.port }) : undefined;
      const serviceUrl = new URL(withDatabase(postgres.url, database));
      if (proxy) serviceUrl.port = String(proxy.port);
      const dataDir = await mkdtemp(join(tmpdir(), "orrery-faults-")); // unused on PostgreSQL; keeps the checkout clean
      let server: ServerProcess | undefined;
      let stopLoad = async () => {};
      try {
        server = await startServerProcess({ DATABASE_URL: serviceUrl.toString(), ORRERY_DATA_DIR: dataDir, ORRERY_SNAPSHOT_EVERY: "5" });
        const running = (s: ServerProcess) => s.child.exitCode === null && s.child.signalCode === null;
        const live = server;
        let exitedAt: number | undefined;
        live.child.once("exit", () => (exitedAt = performance.now()));
        const load = startCartLoad(server.url, { clients: CLIENTS, carts: CARTS, prefix: `f${databases}`, timeoutMs: CALL_TIMEOUT_MS });
        const readyz = pollReadyz(server.url, 20); // a fast restart leaves the database down for only ~150 ms
        stopLoad = async () => void (await Promise.all([load.stop(), readyz.stop()]));

        await waitFor(() => (load.acknowledged >= 200 ? true : undefined), 20_000);
        assert.ok(load.acknowledged >= 200, `only ${load.acknowledged} writes were acknowledged in 20 s before the fault`);
        const faultAt = performance.now();
        const note = await fault.inject(postgres, proxy);
        const backAt = performance.now();
        const firstWrite = await waitFor(() => (running(live) ? load.firstAckAfter(backAt) : null), RECOVERY_MS);
        const recoveredAt = firstWrite ?? backAt;
        const readyAgain = await waitFor(
          () => (running(live) ? readyz.samples.find((s) => s.at >= recoveredAt && s.status === 200)?.at : null),
          RECOVERY_MS - (performance.now() - backAt),
        );
        await sleep(300); // a little load after recovery
        await stopLoad();
        const survived = running(live);

        const calls = load.calls;
        const failed = calls.filter((c) => !c.ok);
        const notReady = readyz.samples.filter((s) => s.at >= faultAt && s.at <= recoveredAt && s.status === 503);
        const unanswered = readyz.samples.filter((s) => s.at >= faultAt && s.status === "no answer");
        const since = (t: number | undefined, from: number) => (t === undefined ? "never" : `${Math.round(t - from)} ms`);
        console.log(
          `      [${fault.name}] ${exitedAt === undefined ? "" : `THE PROCESS EXITED ${Math.round(exitedAt - faultAt)} ms after the fault began; `}` +
            `${note ? `${note}; ` : ""}database back after ${Math.round(backAt - faultAt)} ms; ` +
            `first write ${since(firstWrite, backAt)} after the database's return; ` +
            `${calls.length - failed.length} acknowledged, ${failed.length} failed (${summarizeCodes(failed)}); ` +
            `/readyz 503 ${notReady.length === 0 ? "never" : `from +${since(notReady[0]!.at, faultAt)} to +${since(notReady.at(-1)!.at, faultAt)} after the fault began (${notReady.length} polls)`}, ` +
            `200 again ${since(readyAgain, backAt)} after the database's return; ${unanswered.length} polls unanswered; ` +
            `slowest call ${Math.round(Math.max(...calls.map((c) => c.endedAt - c.startedAt)))} ms, slowest failure ${failed.length === 0 ? "none" : `${Math.round(Math.max(...failed.map((c) => c.endedAt - c.startedAt)))} ms`}`,
        );

        const problems: string[] = [];
        // Once the process is gone, calls fail in the client (ECONNREFUSED, stream reset): those say nothing about the server.
        const beforeExit = (c: AddItemCall) => exitedAt === undefined || c.endedAt < exitedAt - 200;
        const answered = failed.filter(beforeExit);
        if (!survived) {
          problems.push(
            `the server process exited (${live.child.exitCode ?? live.child.signalCode}) ${Math.round(exitedAt! - faultAt)} ms after the fault began; ` +
              `${failed.length - answered.length} calls failed after that and are not checked below, nor are recovery and /readyz:\n${tail(live.output())}`,
          );
        }
        const wrongCodes = answered.filter((c) => c.code !== Code.Unavailable);
        if (wrongCodes.length > 0) problems.push(`callers got errors other than UNAVAILABLE:\n${listErrors(wrongCodes)}`);
        const silent = answered.filter((c) => (c.message ?? "").trim() === "");
        if (silent.length > 0) problems.push(`${silent.length} errors came without a message (${summarizeCodes(silent)})`);
        const ports = [postgres.port, ...(proxy ? [proxy.port] : [])];
        const leaky = answered.filter((c) => internalsIn(c.message ?? "", ports).length > 0);
        if (leaky.length > 0) {
          const found = [...new Set(leaky.flatMap((c) => internalsIn(c.message ?? "", ports)))];
          problems.push(`error messages reveal internals (${found.join(", ")}):\n${listErrors(leaky)}`);
        }
        if (survived) {
          if (firstWrite === undefined) problems.push(`no write succeeded within ${RECOVERY_MS / 1000} s of the database's return`);
          if (fault.notReadyDuringFault && notReady.length === 0) {
            problems.push(`/readyz never answered 503 while the database was unreachable; it answered: ${describeSamples(readyz.samples, faultAt, recoveredAt)}`);
          }
          if (readyAgain === undefined) problems.push(`/readyz did not answer 200 within ${RECOVERY_MS / 1000} s of the database's return`);
        }

        if (survived) {
          const finalReadyz = await fetch(`${live.url}/readyz`);
          if (finalReadyz.status !== 200) problems.push(`/readyz answers ${finalReadyz.status} after recovery: ${await finalReadyz.text()}`);
          problems.push(...(await checkCarts(live.url, CALL_TIMEOUT_MS, calls, await readJournal(postgres.url, database))));
          live.child.kill("SIGTERM");
          const exit = await Promise.race([live.exited, sleep(20_000).then(() => "still running 20 s after SIGTERM")]);
          if (exit !== 0) problems.push(`SIGTERM did not end the server with exit code 0 (${exit}):\n${tail(live.output())}`);
        } else {
          problems.push(...checkJournalOnly(calls, await readJournal(postgres.url, database)));
        }
        assert.ok(problems.length === 0, `after ${fault.name}:\n- ${problems.join("\n- ")}`);
      } finally {
        await stopLoad();
        if (server && server.child.exitCode === null && server.child.signalCode === null) {
          server.child.kill("SIGKILL");
          await server.exited;
        }
        await proxy?.close();
        if (!postgres.running) await postgres.start();
        await admin(postgres.url, `drop database if exists ${database} with (force)`);
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});

/** Polls `probe` every 20 ms until it returns a value (returned) or null (give up), or `ms` pass. */
async function waitFor<T>(probe: () => T | undefined | null, ms: number): Promise<T | undefined> {
  for (const deadline = performance.now() + ms; ; await sleep(20)) {
    const value = probe();
    if (value === null) return undefined;
    if (value !== undefined) return value;
    if (performance.now() > deadline) return undefined;
  }
}
