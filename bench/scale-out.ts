// (f) The scale-out shape next to the embedded one: jobs per second with 1, 2 and 4 `pipewright
// runner` agents against one server on PostgreSQL, and the embedded server on SQLite with as many
// runner slots; the control plane's CPU per job over a wave of 1000; batch-runs of 1000 on either store.

import fs from "node:fs";
import { performance } from "node:perf_hooks";
import { POSTGRES_BIN, type PostgresCluster, startPostgres } from "../test/helpers/postgres.js";
import {
  type Agent,
  type BenchResult,
  type BenchServer,
  type Client,
  client,
  createPipelines,
  median,
  ms,
  progress,
  ratio,
  removeDir,
  runnerToken,
  setupProject,
  sleep,
  startAgent,
  startServer,
  type Target,
  TERMINAL,
  tempDir,
  waitForAgents,
} from "./harness.js";

/** Pipelines per batch; each is one job of one `true` step. */
const N = 200;
const AGENT_SLOTS = 4;
const AGENT_COUNTS = [1, 2, 4] as const;
/** Each configuration runs this many batches; the table shows each and the best. */
const REPEATS = 2;
/** A batch before the measured ones whenever the set of runners changed (JIT, connections). */
const WARM = 40;
const BATCH = 1000;
const BATCH_ROUNDS = 5;

const jobsPerSec = (v: number): string => `${v.toFixed(1)} jobs/s`;
/** The control plane's CPU over a wave of this many jobs, per job. */
const CPU_WAVE = 1000;
const CPU_TARGET_MS = 1;

// ---- CPU from /proc -----------------------------------------------------------------------------

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime of a process (with its reaped children's), in ms; 0 when it is gone. */
function cpuMs(pid: number, withChildren: boolean): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return ticks * TICK_MS;
  } catch {
    return 0;
  }
}

/** CPU of the whole PostgreSQL cluster: the postmaster, its live backends, and those that ended. */
function clusterCpuMs(cluster: PostgresCluster): number {
  const pm = Number(fs.readFileSync(`${cluster.dataDir}/postmaster.pid`, "utf8").split("\n")[0]);
  let total = cpuMs(pm, true);
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pm) total += cpuMs(Number(name), false);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

// ---- measuring ----------------------------------------------------------------------------------

/** One batch-runs call, then polls the status endpoint until all its runs ended; answers jobs/s. */
async function batchThroughput(api: Client, projectId: string, ids: readonly string[]): Promise<number> {
  const base = `/v5/${projectId}/api/pipelines`;
  const wallStart = Date.now();
  const res = await api.post(`${base}/batch-runs`, { pipeline_ids: ids });
  const runIds = new Set<string>(res.body.result.map((r: { pipeline_run_id: string }) => r.pipeline_run_id));
  const deadline = Date.now() + 90_000;
  for (;;) {
    // Coarse polling: the figure comes from end_time, and polls cost CPU the runners need.
    await sleep(250);
    const st = await api.post(`${base}/status`, ids);
    const mine = (st.body as { pipeline_run_id: string; status: string; end_time: number }[]).filter((r) =>
      runIds.has(r.pipeline_run_id),
    );
    if (mine.length === ids.length && mine.every((r) => TERMINAL.has(r.status))) {
      const failed = mine.filter((r) => r.status !== "COMPLETED");
      if (failed.length > 0) throw new Error(`${failed.length} runs did not complete: ${failed[0]!.status}`);
      const lastEnd = Math.max(...mine.map((r) => Number(r.end_time)));
      return ids.length / ((lastEnd - wallStart) / 1000);
    }
    if (Date.now() > deadline) throw new Error("runs did not finish within 90 s");
  }
}

/** A warm-up batch, then REPEATS measured ones. */
async function measureConfig(api: Client, projectId: string, ids: readonly string[]): Promise<number[]> {
  await batchThroughput(api, projectId, ids.slice(0, WARM));
  const rates: number[] = [];
  for (let i = 0; i < REPEATS; i++) rates.push(await batchThroughput(api, projectId, ids));
  return rates;
}

interface Throughput {
  readonly label: string;
  readonly slots: number;
  readonly rates: readonly number[];
}
const best = (t: Throughput): number => Math.max(...t.rates);

/** The embedded server on SQLite with its local runner at 4, 8 and 16 slots, one data dir. */
async function embeddedThroughput(): Promise<Throughput[]> {
  const dir = tempDir("pipewright-bench-f-sqlite-");
  const out: Throughput[] = [];
  let token: string | undefined;
  let projectId = "";
  let ids: string[] = [];
  try {
    for (const count of AGENT_COUNTS) {
      const slots = count * AGENT_SLOTS;
      // Restarting over the same data dir keeps the project, token and pipelines.
      const server = await startServer(dir, ["--runner-slots", String(slots)]);
      let api: Client | undefined;
      try {
        if (token === undefined) {
          const setup = await setupProject(server.url);
          ({ projectId, api } = setup);
          token = api.token;
          progress(`SQLite: creating ${N} pipelines`);
          ids = await createPipelines(api, projectId, N, "true", "embedded");
        } else {
          api = client(server.url, token);
        }
        progress(`SQLite embedded, --runner-slots ${slots}`);
        out.push({
          label: `SQLite, embedded runner, --runner-slots ${slots}`,
          slots,
          rates: await measureConfig(api, projectId, ids),
        });
      } finally {
        api?.close();
        await server.stop();
      }
    }
    return out;
  } finally {
    removeDir(dir);
  }
}

interface ControlPlaneCpu {
  readonly serverMs: number;
  readonly databaseMs: number;
  readonly jobs: number;
}

/**
 * One `serve --no-local-runner` on PostgreSQL; agents are added 1 → 2 → 4 between measurements.
 * Then a wave of CPU_WAVE jobs with the 4 agents, measuring the server's and the database's CPU.
 */
async function agentThroughput(
  cluster: PostgresCluster,
  agents: Agent[],
): Promise<{ rates: Throughput[]; cpu: ControlPlaneCpu }> {
  const dir = tempDir("pipewright-bench-f-pg-");
  const out: Throughput[] = [];
  let server: BenchServer | undefined;
  let api: Client | undefined;
  try {
    server = await startServer(dir, ["--no-local-runner", "--max-batch-size", String(CPU_WAVE)], {
      DATABASE_URL: await cluster.createDatabase(),
    });
    const setup = await setupProject(server.url);
    api = setup.api;
    progress(`PostgreSQL: creating ${N} pipelines`);
    const ids = await createPipelines(api, setup.projectId, N, "true", "agents");
    const token = await runnerToken(server.url);
    for (const count of AGENT_COUNTS) {
      while (agents.length < count)
        agents.push(startAgent(server.url, token, `bench-${agents.length + 1}`, AGENT_SLOTS));
      await waitForAgents(
        server.url,
        agents.map((a) => a.name),
      );
      progress(`PostgreSQL, ${count} agent(s) × ${AGENT_SLOTS} slots`);
      out.push({
        label: `PostgreSQL, ${count} agent${count > 1 ? "s" : ""} × ${AGENT_SLOTS} slots`,
        slots: count * AGENT_SLOTS,
        rates: await measureConfig(api, setup.projectId, ids),
      });
    }
    progress(`PostgreSQL: a wave of ${CPU_WAVE} jobs on ${agents.length} agents, measuring CPU`);
    const wave = [...ids, ...(await createPipelines(api, setup.projectId, CPU_WAVE - N, "true", "wave"))];
    const s0 = cpuMs(server.pid, true);
    const d0 = clusterCpuMs(cluster);
    await batchThroughput(api, setup.projectId, wave);
    const cpu = {
      serverMs: cpuMs(server.pid, true) - s0,
      databaseMs: clusterCpuMs(cluster) - d0,
      jobs: wave.length,
    };
    return { rates: out, cpu };
  } finally {
    api?.close();
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await server?.stop();
    removeDir(dir);
  }
}

/**
 * batch-runs of BATCH on a runnerless SQLite server and a runnerless PostgreSQL one, the calls
 * alternating between them (and which goes first) so that other load weighs on both alike.
 */
async function batchLatency(
  cluster: PostgresCluster | undefined,
): Promise<{ sqlite: number[]; pg: number[] }> {
  const args = ["--no-local-runner", "--max-batch-size", String(BATCH)];
  const dirs = [tempDir("pipewright-bench-f-batch-sqlite-"), tempDir("pipewright-bench-f-batch-pg-")];
  const servers: BenchServer[] = [];
  const apis: Client[] = [];
  try {
    servers.push(await startServer(dirs[0]!, args));
    if (cluster)
      servers.push(await startServer(dirs[1]!, args, { DATABASE_URL: await cluster.createDatabase() }));
    progress(`creating ${BATCH} pipelines on ${servers.length} server(s)`);
    const sides = await Promise.all(
      servers.map(async (s) => {
        const { projectId, api } = await setupProject(s.url);
        apis.push(api);
        const ids = await createPipelines(api, projectId, BATCH, "true", "batch");
        const call = async (): Promise<number> => {
          const t0 = performance.now();
          const res = await api.post(`/v5/${projectId}/api/pipelines/batch-runs`, { pipeline_ids: ids });
          const took = performance.now() - t0;
          if (res.body.result.length !== BATCH)
            throw new Error(`batch answered ${res.body.result.length} runs`);
          return took;
        };
        return call;
      }),
    );
    progress(`warm-up and ${BATCH_ROUNDS} batch-runs of ${BATCH} per store`);
    for (const call of sides) await call();
    const times: number[][] = sides.map(() => []);
    for (let r = 0; r < BATCH_ROUNDS; r++) {
      const order = r % 2 === 0 ? sides.map((_, i) => i) : sides.map((_, i) => i).reverse();
      for (const i of order) times[i]!.push(await sides[i]!());
    }
    return { sqlite: times[0]!, pg: times[1] ?? [] };
  } finally {
    for (const a of apis) a.close();
    await Promise.all(servers.map((s) => s.stop()));
    for (const d of dirs) removeDir(d);
  }
}

// ---- the benchmark ------------------------------------------------------------------------------

export async function scaleOut(): Promise<BenchResult> {
  const notes: string[] = [];
  let cluster: PostgresCluster | undefined;
  const agents: Agent[] = [];
  // Ctrl-C goes out through process.exit: take the cluster and the agents down with us.
  const onExit = (): void => {
    for (const a of agents) a.kill();
    cluster?.stop();
  };
  process.once("exit", onExit);
  try {
    if (POSTGRES_BIN) {
      progress("starting a throwaway PostgreSQL cluster");
      cluster = await startPostgres();
    } else {
      const msg = "PostgreSQL skipped: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)";
      console.log(`  ${msg}`);
      notes.push(msg);
    }
    const embedded = await embeddedThroughput();
    const pg = cluster ? await agentThroughput(cluster, agents) : undefined;
    const scaled = pg?.rates ?? [];
    const latency = await batchLatency(cluster);

    const rows: [string, string][] = [];
    for (const t of [...embedded, ...scaled]) {
      rows.push([
        `${t.label}: per batch (best)`,
        `${t.rates.map(jobsPerSec).join(", ")} (${jobsPerSec(best(t))})`,
      ]);
    }
    const one = scaled[0];
    for (const t of scaled.slice(1)) {
      rows.push([`  ${t.label} / 1 agent (best)`, ratio(best(t) / best(one!))]);
    }
    for (const t of scaled) {
      const same = embedded.find((e) => e.slots === t.slots);
      if (same)
        rows.push([`  PostgreSQL agents / SQLite embedded at ${t.slots} slots`, ratio(best(t) / best(same))]);
    }
    const targets: Target[] = [];
    if (pg) {
      const perJob = (pg.cpu.serverMs + pg.cpu.databaseMs) / pg.cpu.jobs;
      rows.push([
        `control-plane CPU over ${pg.cpu.jobs} jobs (server + PostgreSQL)`,
        `${ms(pg.cpu.serverMs)} + ${ms(pg.cpu.databaseMs)}`,
      ]);
      rows.push([`  per job`, ms(perJob)]);
      targets.push({
        label: "control-plane CPU per job",
        value: ms(perJob),
        goal: `≤ ${CPU_TARGET_MS} ms`,
        met: perJob <= CPU_TARGET_MS,
      });
      const four = scaled.at(-1);
      const same = four && embedded.find((e) => e.slots === four.slots);
      if (four && same) {
        const r = best(four) / best(same);
        targets.push({
          label: "PostgreSQL agents / SQLite embedded, equal slots",
          value: ratio(r),
          goal: "≥ 0.80×",
          met: r >= 0.8,
        });
      }
    }
    const sqliteMs = median(latency.sqlite);
    rows.push([`batch-runs of ${BATCH}, SQLite, each call`, latency.sqlite.map((t) => ms(t)).join(", ")]);
    rows.push([`batch-runs of ${BATCH}, SQLite, median`, ms(sqliteMs)]);
    if (latency.pg.length > 0) {
      const pgMs = median(latency.pg);
      rows.push([`batch-runs of ${BATCH}, PostgreSQL, each call`, latency.pg.map((t) => ms(t)).join(", ")]);
      rows.push([`batch-runs of ${BATCH}, PostgreSQL, median`, ms(pgMs)]);
      rows.push([`  PostgreSQL / SQLite (median)`, ratio(pgMs / sqliteMs)]);
    }
    notes.push(
      `jobs/s = ${N} / (last run's end_time − batch request time), each configuration after a warm-up batch of ${WARM}`,
      `the embedded runner gets ${AGENT_SLOTS} × as many slots as there are agents, so each line compares equal slots`,
      "agents, server, PostgreSQL and the job shells all share this machine's CPUs: more agents add slots, not cores",
      `control-plane CPU: utime+stime from /proc of the server and every PostgreSQL process (ended backends through the postmaster's children times) over one batch of ${CPU_WAVE} jobs, divided by ${CPU_WAVE}`,
    );
    return {
      title: `(f) scale-out: ${N} one-step \`true\` pipelines per batch, runner agents on PostgreSQL vs embedded on SQLite; batch-runs of ${BATCH} on each store`,
      rows,
      targets,
      notes,
    };
  } finally {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    cluster?.stop();
    cluster = undefined;
    process.off("exit", onExit);
  }
}
