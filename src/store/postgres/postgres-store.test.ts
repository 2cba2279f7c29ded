import { Kysely, Migrator, PostgresDialect } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  POSTGRES_BIN,
  POSTGRES_SKIP_REASON,
  type PostgresCluster,
  startPostgres,
} from "../../../test/helpers/postgres.js";
import { TEST_SEALER } from "../../../test/helpers/sealer.js";
import { waitFor } from "../../../test/helpers/server.js";
import { describeRunStoreContract } from "../run-store-contract.js";
import { describeSecretContract } from "../secret-store-contract.js";
import { describeMigrationContract, describeStoreContract } from "../store-contract.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import { openPostgresStore } from "./open.js";
import { createPostgresReadySignal, READY_CHANNEL } from "./ready-signal.js";

describe("the ready signal's sending", () => {
  /** A send that stays on its way until released. */
  const held = () => {
    const sent: string[] = [];
    let release: () => void = () => {};
    const send = async (channel: string) => {
      sent.push(channel);
      await new Promise<void>((r) => (release = r));
    };
    return { sent, send, release: () => release() };
  };
  // Timers of 0 ms (the interval given as 0) have fired after this.
  const turn = () => new Promise((r) => setTimeout(r, 5));

  it("sends one NOTIFY for what is asked at once, and one more for what is asked while it is on its way", async () => {
    const h = held();
    const signal = createPostgresReadySignal({
      url: "postgres://unused.invalid/none",
      send: h.send,
      minIntervalMs: 0,
    });
    for (let i = 0; i < 5; i++) signal.notify();
    await turn();
    expect(h.sent).toEqual([READY_CHANNEL]);
    // Asked again (many times) while that one is on its way: one more once it is through.
    for (let i = 0; i < 5; i++) signal.notify();
    await turn();
    expect(h.sent).toHaveLength(1);
    h.release();
    await turn();
    await turn();
    expect(h.sent).toHaveLength(2);
    h.release();
    await turn();
    await turn();
    expect(h.sent).toHaveLength(2);
    await signal.close();
    signal.notify();
    await turn();
    expect(h.sent).toHaveLength(2);
  });

  it("sends at most one NOTIFY per interval: what is asked meanwhile waits for its end", async () => {
    const h = held();
    const signal = createPostgresReadySignal({
      url: "postgres://unused.invalid/none",
      send: h.send,
      minIntervalMs: 60_000,
    });
    signal.notify();
    await turn();
    expect(h.sent).toHaveLength(1);
    h.release();
    await turn();
    // Asked again right after: it goes once the minute since the last one has passed, not now.
    signal.notify();
    await turn();
    await turn();
    expect(h.sent).toHaveLength(1);
    await signal.close();
  });
});

if (!POSTGRES_BIN) {
  describe("store contract: postgres", () => {
    it.skip(`skipped: ${POSTGRES_SKIP_REASON}`, () => {});
  });
} else {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 60_000);
  afterAll(() => cluster?.stop());
  const open = async () =>
    openPostgresStore(await cluster.createDatabase(), { poolSize: 4, sealer: TEST_SEALER });
  describeStoreContract("postgres", open);
  describeRunStoreContract("postgres", open);
  /** Waits until `n` connections of the database's URL listen for wakeups. */
  const listening = async (url: string, n: number): Promise<void> => {
    const database = new URL(url).pathname.slice(1);
    await waitFor(
      async () => {
        const c = new pg.Client({ connectionString: url.replace(`/${database}`, "/postgres") });
        try {
          await c.connect();
          const r = await c.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query = 'LISTEN ${READY_CHANNEL}'`,
            [database],
          );
          return r.rows[0].n === n;
        } catch {
          return false;
        } finally {
          await c.end().catch(() => {});
        }
      },
      20_000,
      `${n} listening connection(s)`,
    );
  };
  describeMigrationContract("postgres", async (migration) => {
    const url = await cluster.createDatabase();
    const db = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    });
    const { error } = await new Migrator({
      db,
      provider: { getMigrations: async () => POSTGRES_MIGRATIONS },
    }).migrateTo(migration);
    if (error) throw error;
    return { db, open: () => openPostgresStore(url, { poolSize: 2, sealer: TEST_SEALER }) };
  });
  describe("postgres: prepared statements", () => {
    it("keeps answering when the schema changed under a statement prepared on the connection", async () => {
      const url = await cluster.createDatabase();
      const store = await openPostgresStore(url, { poolSize: 1, sealer: TEST_SEALER });
      const id = "a".repeat(32);
      try {
        await store.createProject({ id, name: "p", create_time: 1 });
        for (let i = 0; i < 3; i++) expect(await store.getProject(id)).toMatchObject({ name: "p" });
        // Another replica's migration adds a column: the prepared `select *` no longer fits.
        const other = new pg.Client({ connectionString: url });
        await other.connect();
        await other.query("ALTER TABLE projects ADD COLUMN later TEXT");
        await other.end();
        expect(await store.getProject(id)).toMatchObject({ name: "p" });
        expect(await store.getProject(id)).toMatchObject({ name: "p" });
      } finally {
        await store.close();
      }
    });
  });
  describe("postgres: wakeups between processes (LISTEN/NOTIFY)", () => {
    it("one process's notify wakes another's subscribers", async () => {
      const url = await cluster.createDatabase();
      const a = await openPostgresStore(url, { poolSize: 2, sealer: TEST_SEALER });
      const b = await openPostgresStore(url, { poolSize: 2, sealer: TEST_SEALER });
      try {
        let woken = 0;
        b.ready!.subscribe(() => woken++);
        await listening(url, 1);
        a.ready!.notify();
        await waitFor(async () => woken > 0, 10_000, "b woken");
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("listens again after the database restarted, and reports the drop", async () => {
      const own = await startPostgres({ durable: true });
      try {
        const url = await own.createDatabase();
        const drops: Error[] = [];
        const a = await openPostgresStore(url, { poolSize: 2, sealer: TEST_SEALER });
        const b = await openPostgresStore(url, {
          poolSize: 2,
          sealer: TEST_SEALER,
          onListenerError: (err) => drops.push(err),
        });
        try {
          let woken = 0;
          b.ready!.subscribe(() => woken++);
          await listening(url, 1);
          own.restart();
          await waitFor(async () => drops.length > 0, 10_000, "the drop reported");
          await listening(url, 1);
          const before = woken;
          // a's pooled connections died too: its first notify may be lost (the poll's case).
          await waitFor(
            async () => {
              a.ready!.notify();
              await new Promise((r) => setTimeout(r, 50));
              return woken > before;
            },
            20_000,
            "b woken after the restart",
          );
        } finally {
          await a.close();
          await b.close();
        }
      } finally {
        own.stop();
      }
    }, 60_000);
  });
  describeSecretContract("postgres", async () => {
    const url = await cluster.createDatabase();
    return { open: (sealer) => openPostgresStore(url, { poolSize: 2, sealer }) };
  });
}
