// The live run detail stream (Server-Sent Events) used by the web UI and the CLI.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  setupProject,
  startServerProcess,
} from "./helpers/server.js";

/** Reads a whole SSE response into its events. */
async function readEvents(url: string, token: string): Promise<{ event: string; data: string }[]> {
  const res = await fetch(url, { headers: { "x-auth-token": token } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((b) => b.startsWith("event:"))
    .map((b) => {
      const lines = b.split("\n");
      return { event: lines[0]!.slice(7), data: lines.slice(1).join("\n").slice(6) };
    });
}

describe("run events stream", () => {
  let server: ServerProcess;
  let api: Client;
  let pid: string;
  beforeAll(async () => {
    server = await startServerProcess();
    ({ projectId: pid, api } = await setupProject(server.url));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("sends the run detail as it changes and ends after the run finished", async () => {
    const p = await createPipelineVia(api, pid, {
      definition: definition([
        { identifier: "one", jobs: [{ identifier: "a", steps: [{ script: "sleep 0.3" }] }] },
        { identifier: "two", jobs: [{ identifier: "b", steps: [{ script: "sleep 0.3" }] }] },
      ]),
    });
    const run = (await api.post(`/v5/${pid}/api/pipelines/${p}/run`, {})).body.pipeline_run_id;
    const events = await readEvents(
      `${server.url}/v5/${pid}/api/pipelines/${p}/pipeline-runs/${run}/events`,
      E2E_ADMIN_TOKEN,
    );
    expect(events.at(-1)!.event).toBe("end");
    const runs = events.filter((e) => e.event === "run").map((e) => JSON.parse(e.data));
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.at(-1).status).toBe("COMPLETED");
    expect(runs.at(-1).id).toBe(run);
    // It saw the run before it finished: some earlier event shows stage two not yet completed.
    expect(runs.some((r) => r.stages[1].status !== "COMPLETED")).toBe(true);
    // A finished run: one event, then end.
    const again = await readEvents(
      `${server.url}/v5/${pid}/api/pipelines/${p}/pipeline-runs/${run}/events`,
      E2E_ADMIN_TOKEN,
    );
    expect(again.map((e) => e.event)).toEqual(["run", "end"]);
  });

  it("needs credentials", async () => {
    const res = await fetch(
      `${server.url}/v5/${pid}/api/pipelines/${"a".repeat(32)}/pipeline-runs/${"b".repeat(32)}/events`,
    );
    expect(res.status).toBe(401);
  });
});
