// Artifacts' records: which blob each job of a run kept under each name.

import type { ArtifactTable } from "../schema.js";
import type { ArtifactRecord, ArtifactStore } from "../store.js";
import type { SqlContext } from "./context.js";

const toArtifact = (r: ArtifactTable): ArtifactRecord => ({
  ...r,
  size: Number(r.size),
  create_time: Number(r.create_time),
});

export function artifactQueries({ db }: SqlContext): ArtifactStore {
  return {
    async putArtifact(a) {
      await db
        .insertInto("artifacts")
        .values(a)
        .onConflict((oc) =>
          oc.columns(["run_id", "name"]).doUpdateSet({
            job_run_id: a.job_run_id,
            job_identifier: a.job_identifier,
            sha256: a.sha256,
            size: a.size,
            create_time: a.create_time,
          }),
        )
        .execute();
    },
    async listArtifacts(runId) {
      const rows = await db
        .selectFrom("artifacts")
        .selectAll()
        .where("run_id", "=", runId)
        .orderBy("create_time")
        .orderBy("name")
        .execute();
      return rows.map(toArtifact);
    },
    async getArtifact(runId, name) {
      const row = await db
        .selectFrom("artifacts")
        .selectAll()
        .where("run_id", "=", runId)
        .where("name", "=", name)
        .executeTakeFirst();
      return row && toArtifact(row);
    },
  };
}
