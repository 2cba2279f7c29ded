// A throwaway PostgreSQL cluster for tests: Debian's initdb + pg_ctl in a temp dir, listening on
// loopback at a random port, removed at the end. No Docker. Tests skip (and say so) when the
// binaries are missing; .ci/run installs them so CI skips nothing.

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

function findBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], "bin") : undefined;
}

export const POSTGRES_BIN = findBinDir();
export const POSTGRES_SKIP_REASON =
  "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)";

export interface PostgresCluster {
  readonly port: number;
  /** The cluster's data directory (its postmaster.pid names the server process). */
  readonly dataDir: string;
  /** A URL of a new, empty database in the cluster. */
  createDatabase(name?: string): Promise<string>;
  /** Restarts the cluster as a crash would (`pg_ctl restart -m immediate`): every connection drops. */
  restart(): void;
  /** An outage: stops the cluster as a crash would (`-m immediate`), keeping its data for start(). */
  halt(): void;
  /** Starts a halted cluster again on the same port. */
  start(): void;
  /** Stops the cluster for good and removes its files. */
  stop(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** initdb refuses to run as root: run the server as the `postgres` user when we are root. */
function asPostgresUser(cmd: string, args: string[]): string[] {
  if (process.getuid?.() !== 0) return [cmd, ...args];
  return ["runuser", "-u", "postgres", "--", cmd, ...args];
}

/**
 * A throwaway cluster. It trades durability for speed (no fsync, asynchronous commit) unless
 * `durable`: a test that crashes the database (restart -m immediate) needs commits to survive.
 */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<PostgresCluster> {
  if (!POSTGRES_BIN) throw new Error(POSTGRES_SKIP_REASON);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pipewright-pg-"));
  const data = path.join(dir, "data");
  if (process.getuid?.() === 0) {
    fs.chmodSync(dir, 0o755);
    execFileSync("chown", ["postgres:postgres", dir]);
  }
  const port = await freePort();
  const run = (cmd: string, args: string[]): void => {
    const [c, ...a] = asPostgresUser(path.join(POSTGRES_BIN!, cmd), args);
    const r = spawnSync(c!, a, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stdout}\n${r.stderr}`);
  };
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
  const start = (): void =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      path.join(dir, "log"),
      "-w",
      "-o",
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}${opts.durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"} -c max_connections=200`,
      "start",
    ]);
  start();
  let n = 0;
  const pg = await import("pg");
  return {
    port,
    dataDir: data,
    async createDatabase(name) {
      const db = name ?? `t${process.pid}_${++n}_${Math.random().toString(36).slice(2, 8)}`;
      const client = new pg.default.Client({
        host: "127.0.0.1",
        port,
        user: "postgres",
        database: "postgres",
      });
      await client.connect();
      await client.query(`CREATE DATABASE "${db}"`);
      await client.end();
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    restart() {
      // -l as at start: the new postmaster must not hold our pipes open (spawnSync would wait).
      run("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-m", "immediate", "-w", "restart"]);
    },
    halt() {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    },
    start,
    stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already halted
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
