// The Store implemented once over Kysely for both backends: each role's queries live in their own
// module and are composed here into one object per connection (or per open transaction). A
// backend folder only opens the connection, owns its migrations and may bring a faster bulk writer.

import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import type { Sealer } from "../sealer.js";
import type { ReadySignal, Store, StoreCapabilities } from "../store.js";
import { credentialQueries, metaQueries, projectQueries } from "./accounts.js";
import { artifactQueries } from "./artifacts.js";
import { batchQueries } from "./batches.js";
import { cacheQueries } from "./caches.js";
import {
  type BulkWriter,
  DefinitionCache,
  inTransaction,
  kyselyBulkWriter,
  type SqlContext,
} from "./context.js";
import { groupQueries } from "./groups.js";
import { jobQueueQueries } from "./job-queue.js";
import { logQueries } from "./logs.js";
import { noticeQueries } from "./notices.js";
import { permissionQueries } from "./permissions.js";
import { pipelineQueries } from "./pipelines.js";
import { pollQueries } from "./polls.js";
import { retentionQueries } from "./retention.js";
import { runQueries } from "./runs.js";
import { scheduleQueries } from "./schedules.js";
import { secretQueries } from "./secrets.js";
import { tagQueries } from "./tags.js";
import { templateQueries } from "./templates.js";
import { variableGroupQueries } from "./variable-groups.js";
import { webhookQueries } from "./webhooks.js";

/** A Store over SQL; `db` is there for tests that look at rows directly. */
export interface SqlStore extends Store {
  readonly db: Kysely<Database>;
  transaction<T>(fn: (tx: SqlStore) => Promise<T>): Promise<T>;
}

export interface SqlStoreOptions {
  readonly db: Kysely<Database>;
  readonly capabilities: StoreCapabilities;
  readonly bulk?: BulkWriter;
  readonly sealer: Sealer;
  /** Wakeups between processes on the database (PostgreSQL); none on SQLite. */
  readonly ready?: ReadySignal | undefined;
  /** Closes the connection and whatever the backend keeps beside it. */
  readonly onClose?: () => Promise<void>;
}

export function createSqlStore(opts: SqlStoreOptions): SqlStore {
  const onClose = opts.onClose ?? (() => opts.db.destroy());
  const build = (ctx: SqlContext): SqlStore => {
    const store: SqlStore = {
      db: ctx.db,
      capabilities: ctx.capabilities,
      ready: opts.ready,
      ...metaQueries(ctx),
      ...projectQueries(ctx),
      ...credentialQueries(ctx),
      ...pipelineQueries(ctx),
      ...permissionQueries(ctx),
      ...runQueries(ctx),
      ...jobQueueQueries(ctx),
      ...logQueries(ctx),
      ...batchQueries(ctx),
      ...scheduleQueries(ctx),
      ...pollQueries(ctx),
      ...variableGroupQueries(ctx),
      ...artifactQueries(ctx),
      ...retentionQueries(ctx),
      ...cacheQueries(ctx),
      ...tagQueries(ctx),
      ...templateQueries(ctx),
      ...groupQueries(ctx),
      ...webhookQueries(ctx),
      ...noticeQueries(ctx),
      ...secretQueries(ctx),
      transaction: (fn) => inTransaction(ctx, (tx) => fn(tx === ctx ? store : build(tx))),
      // A transaction's store closes nothing: the connection belongs to the store that opened it.
      close: ctx.db.isTransaction ? async () => {} : onClose,
    };
    return store;
  };
  return build({
    db: opts.db,
    capabilities: opts.capabilities,
    bulk: opts.bulk ?? kyselyBulkWriter,
    definitions: new DefinitionCache(),
    sealer: opts.sealer,
  });
}
