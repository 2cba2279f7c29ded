// Vitest global setup of the "postgres" project: one throwaway cluster for all its test files;
// each server the e2e harness starts gets a database of its own in it.

import type { TestProject } from "vitest/node";
import { type PostgresCluster, startPostgres } from "./postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgPort: number;
  }
}

let cluster: PostgresCluster | undefined;

export async function setup(project: TestProject): Promise<void> {
  cluster = await startPostgres();
  project.provide("pgPort", cluster.port);
}

export function teardown(): void {
  cluster?.stop();
}
