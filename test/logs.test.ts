// Step logs over HTTP against a real server process: capture of stdout and stderr while the step
// runs, paging by byte offsets, secret masking, the per-step size cap and the live SSE stream.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  type Answer,
  type Client,
  createPipelineVia,
  definition,
  runDetail,
  type ServerProcess,
  setupProject,
  startServerProcess,
  stepLog,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

type Detail = Answer["body"];

interface StepRef {
  pl: string;
  run: string;
  job: string;
  step: string;
}

/** A shell line that waits (at most 30 s) for `file` and fails the step if it never comes. */
const awaitFile = (file: string): string =>
  `for i in $(seq 1 300); do [ -f "${file}" ] && break; sleep 0.1; done\n[ -f "${file}" ]`;

interface SseEvent {
  event: string;
  data: string;
}

/**
 * A Server-Sent Events reader over fetch; `next` answers undefined once the stream ended. The
 * answer's headers must come within an upper bound shorter than the server's keep-alive interval.
 */
async function openStream(url: string, token: string | undefined) {
  const abort = new AbortController();
  const noHeaders = setTimeout(() => abort.abort(), 10_000);
  const res = await fetch(url, {
    headers: token === undefined ? {} : { "x-auth-token": token },
    signal: abort.signal,
  }).catch((err: unknown) => {
    throw abort.signal.aborted ? new Error(`no answer to GET ${url} within 10 s`) : err;
  });
  clearTimeout(noHeaders);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let done = false;
  async function next(): Promise<SseEvent | undefined> {
    for (;;) {
      const cut = buffer.indexOf("\n\n");
      if (cut >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const ev: SseEvent = { event: "message", data: "" };
        let any = false;
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue; // keep-alive comment
          const [field, ...rest] = line.split(":");
          const value = rest.join(":").replace(/^ /, "");
          if (field === "event") ev.event = value;
          else if (field === "data") ev.data += value;
          any = true;
        }
        if (any) return ev;
        continue;
      }
      if (done) return undefined;
      const chunk = await reader.read();
      if (chunk.done) done = true;
      else buffer += decoder.decode(chunk.value, { stream: true });
    }
  }
  /** Reads events until `until` holds for one of them (which is included); fails after an upper bound. */
  async function readUntil(until: (e: SseEvent) => boolean, timeoutMs = 20_000): Promise<SseEvent[]> {
    const got: SseEvent[] = [];
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      for (;;) {
        const e = await next();
        if (e === undefined)
          throw new Error(`stream ended before the awaited event; got ${JSON.stringify(got)}`);
        got.push(e);
        if (until(e)) return got;
      }
    } catch (err) {
      if (abort.signal.aborted)
        throw new Error(`no awaited event within ${timeoutMs} ms; got ${JSON.stringify(got)}`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
  return { res, next, readUntil, close: () => abort.abort() };
}

const logEvents = (events: SseEvent[]): { offset: number; text: string }[] =>
  events.filter((e) => e.event === "log").map((e) => JSON.parse(e.data) as { offset: number; text: string });

/** The log events cover the text from `from` on without gap or overlap; answers that text. */
function contiguous(events: SseEvent[], from: number): string {
  let at = from;
  let text = "";
  for (const e of logEvents(events)) {
    expect(e.offset).toBe(at);
    at += Buffer.byteLength(e.text);
    text += e.text;
  }
  return text;
}

describe("step logs", () => {
  let server: ServerProcess;
  let api: Client;
  let pid: string;
  let token: string;
  /** Flag files outside the workspaces: they hold steps open until a test has seen what it wants. */
  const dir = tempDir("pipewright-logs-");

  beforeAll(async () => {
    server = await startServerProcess();
    let admin: Client;
    ({ projectId: pid, api, admin } = await setupProject(server.url));
    // The stream is read with a viewer's token: reading logs needs no more.
    const t = await admin.post("/admin/v1/tokens", { name: "sse", role: "viewer", project_ids: [pid] });
    if (t.status !== 200) throw new Error(JSON.stringify(t.body));
    token = t.body.token;
  });
  afterAll(async () => {
    await server?.stop();
  });

  const stepPath = (r: StepRef): string =>
    `/v5/${pid}/api/pipelines/${r.pl}/pipeline-runs/${r.run}/jobs/${r.job}/steps/${r.step}`;
  const logs = (r: StepRef, body: Record<string, unknown>) => api.post(`${stepPath(r)}/logs`, body);

  /** Creates and starts a one-job pipeline; answers the ids of its steps as soon as it runs. */
  async function startSteps(
    scripts: string[],
    variables: Record<string, unknown>[] = [],
  ): Promise<{ refs: StepRef[]; detail: () => Promise<Detail> }> {
    const pl = await createPipelineVia(api, pid, {
      definition: definition([
        { identifier: "build", jobs: [{ identifier: "job", steps: scripts.map((script) => ({ script })) }] },
      ]),
      variables,
    });
    const res = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
    if (res.status !== 200) throw new Error(JSON.stringify(res.body));
    const run: string = res.body.pipeline_run_id;
    const d = await runDetail(api, pid, pl, run);
    const job = d.stages[0].jobs[0];
    return {
      refs: job.steps.map((s: { id: string }) => ({ pl, run, job: job.id, step: s.id })),
      detail: () => runDetail(api, pid, pl, run),
    };
  }
  const finished = (r: StepRef): Promise<Detail> => waitForRun(api, pid, r.pl, r.run);
  const fullLog = (r: StepRef): Promise<string> => stepLog(api, pid, r.pl, r.run, r.job, r.step);

  it("captures stdout and stderr, and a last line without newline", async () => {
    const { refs } = await startSteps(["echo to-stdout\necho to-stderr >&2", "printf 'no newline'"]);
    expect((await finished(refs[0]!)).status).toBe("COMPLETED");
    expect((await fullLog(refs[0]!)).split("\n").sort()).toEqual(["", "to-stderr", "to-stdout"]);
    expect(await fullLog(refs[1]!)).toBe("no newline");
  });

  it("stores the log while the step runs, not only at its end", async () => {
    const flag = path.join(dir, "live.flag");
    const { refs, detail } = await startSteps([`echo first-line\n${awaitFile(flag)}\necho second-line`]);
    const ref = refs[0]!;
    const seen = await waitFor(
      async () => {
        const res = await logs(ref, { start_offset: 0, limit: 100, sort: "asc" });
        return res.status === 200 && res.body.log !== "" ? res.body : undefined;
      },
      20_000,
      "the first line in the stored log",
    );
    // The step cannot have ended: it waits for the flag that only now gets created.
    expect(seen.log).toBe("first-line\n");
    expect(seen.has_more).toBe(true);
    expect(seen.start_offset).toBe("0");
    expect(seen.end_offset).toBe(String("first-line\n".length));
    const d = await detail();
    expect(d.status).toBe("RUNNING");
    expect(d.stages[0].jobs[0].steps[0].status).toBe("RUNNING");

    fs.writeFileSync(flag, "");
    expect((await finished(ref)).status).toBe("COMPLETED");
    const rest = await logs(ref, { start_offset: seen.end_offset, limit: 100, sort: "asc" });
    expect(rest.body.log).toBe("second-line\n");
    expect(rest.body.has_more).toBe(false);
    expect(await fullLog(ref)).toBe("first-line\nsecond-line\n");
  });

  describe("paging", () => {
    let ref: StepRef;
    let full: string;
    let lines: string[];
    beforeAll(async () => {
      // Multi-byte characters: offsets are bytes, and pages must still cut at line ends.
      const started = await startSteps([`for i in $(seq -w 1 50); do echo "line $i ünïcødé ✓"; done`]);
      ref = started.refs[0]!;
      expect((await finished(ref)).status).toBe("COMPLETED");
      full = await fullLog(ref);
      lines = full.split(/(?<=\n)/);
    });

    it("reassembles the whole log exactly from asc pages of limit lines", async () => {
      expect(lines).toHaveLength(50);
      expect(lines[0]).toBe("line 01 ünïcødé ✓\n");
      const pages: string[] = [];
      let offset = "0";
      for (let guard = 0; guard < 100; guard++) {
        const res = await logs(ref, { start_offset: offset, end_offset: 0, limit: 7, sort: "asc" });
        expect(res.status).toBe(200);
        expect(res.body.step_run_id).toBe(ref.step);
        expect(res.body.start_offset).toBe(offset);
        expect(Number(res.body.end_offset)).toBe(Number(offset) + Buffer.byteLength(res.body.log));
        pages.push(res.body.log);
        offset = res.body.end_offset;
        if (!res.body.has_more) break;
      }
      expect(pages.join("")).toBe(full);
      expect(pages.map((p) => p.split("\n").length - 1)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
      expect(offset).toBe(String(Buffer.byteLength(full)));

      // At the end of a finished step there is nothing more.
      const end = await logs(ref, { start_offset: offset, limit: 7, sort: "asc" });
      expect(end.body.log).toBe("");
      expect(end.body.has_more).toBe(false);
    });

    it("answers the last lines with sort desc, and pages backwards from there", async () => {
      const res = await logs(ref, { limit: 5, sort: "desc" });
      expect(res.status).toBe(200);
      expect(res.body.log).toBe(lines.slice(-5).join(""));
      expect(res.body.has_more).toBe(true);
      expect(res.body.end_offset).toBe(String(Buffer.byteLength(full)));
      expect(res.body.start_offset).toBe(String(Buffer.byteLength(lines.slice(0, -5).join(""))));

      const pages: string[] = [res.body.log];
      let end = res.body.start_offset;
      for (let guard = 0; guard < 100; guard++) {
        const page = await logs(ref, { end_offset: end, limit: 5, sort: "desc" });
        pages.unshift(page.body.log);
        end = page.body.start_offset;
        if (!page.body.has_more) break;
      }
      expect(pages).toHaveLength(10);
      expect(pages.join("")).toBe(full);
      expect(end).toBe("0");
    });

    it("rejects a bad offset or sort with 400 naming the field", async () => {
      const bad = await logs(ref, { start_offset: "-1", limit: 5, sort: "asc" });
      expect(bad.status).toBe(400);
      expect(bad.body.error_msg).toContain("start_offset");
      const sort = await logs(ref, { limit: 5, sort: "sideways" });
      expect(sort.status).toBe(400);
      expect(sort.body.error_msg).toContain("sort");
    });
  });

  it("masks secret values as ***, also when the secret arrives split across output chunks", async () => {
    const { refs, detail } = await startSteps(
      [
        [
          'echo "token is $TOKEN."',
          "printf 'sec'; sleep 0.2; printf 'ret\\n'",
          // A prefix of the secret that does not become it stays as it is.
          "printf 'se'; sleep 0.2; printf 'cond\\n'",
          "printf 'secre'",
        ].join("\n"),
        'echo "on stderr: $TOKEN" >&2',
      ],
      [{ name: "TOKEN", value: "secret", type: "string", is_secret: true }],
    );
    expect((await finished(refs[0]!)).status).toBe("COMPLETED");
    expect(await fullLog(refs[0]!)).toBe("token is ***.\n***\nsecond\nsecre");
    expect(await fullLog(refs[1]!)).toBe("on stderr: ***\n");
    const vars = (await detail()).variables as { name: string; value: string }[];
    expect(vars.find((v) => v.name === "TOKEN")!.value).not.toContain("secret");
  });

  describe("live stream", () => {
    it("sends lines of a running step as they come, then an end event; a reconnect resumes without duplicates", async () => {
      const flag = path.join(dir, "stream.flag");
      const { refs, detail } = await startSteps([
        `echo stream-1\n${awaitFile(flag)}\necho stream-2\nprintf 'stream-3 ✓\\n'`,
      ]);
      const ref = refs[0]!;
      const url = `${server.url}${stepPath(ref)}/logs/stream`;

      const unauthenticated = await fetch(url);
      expect(unauthenticated.status).toBe(401);

      const live = await openStream(url, token);
      expect(live.res.status).toBe(200);
      expect(live.res.headers.get("content-type")).toContain("text/event-stream");
      let got = "";
      const first = await live.readUntil((e) => {
        if (e.event === "log") got += (JSON.parse(e.data) as { text: string }).text;
        return got.includes("stream-1\n");
      });
      // Still held open by the flag: the line arrived before the step ended.
      expect(contiguous(first, 0)).toBe("stream-1\n");
      expect((await detail()).stages[0].jobs[0].steps[0].status).toBe("RUNNING");

      fs.writeFileSync(flag, "");
      const rest = await live.readUntil((e) => e.event === "end");
      expect(await live.next()).toBeUndefined(); // the server closes the stream after `end`
      const streamed = contiguous([...first, ...rest], 0);
      expect((await finished(ref)).status).toBe("COMPLETED");
      const full = await fullLog(ref);
      expect(full).toBe("stream-1\nstream-2\nstream-3 ✓\n");
      expect(streamed).toBe(full);

      // Resuming from an offset sends exactly the rest.
      const from = Buffer.byteLength("stream-1\n");
      const resumed = await openStream(`${url}?offset=${from}`, token);
      const again = await resumed.readUntil((e) => e.event === "end");
      expect(contiguous(again, from)).toBe(full.slice("stream-1\n".length));
      const replay = await openStream(url, token);
      expect(contiguous(await replay.readUntil((e) => e.event === "end"), 0)).toBe(full);
    });

    it("answers at once for a step that has printed nothing yet", async () => {
      const flag = path.join(dir, "quiet.flag");
      const { refs } = await startSteps([`${awaitFile(flag)}\necho finally`]);
      const ref = refs[0]!;
      const conn = await openStream(`${server.url}${stepPath(ref)}/logs/stream`, token);
      expect(conn.res.status).toBe(200);
      fs.writeFileSync(flag, "");
      expect(contiguous(await conn.readUntil((e) => e.event === "end"), 0)).toBe("finally\n");
    });

    it("resumes a running step's stream from an offset without duplicates", async () => {
      const flag = path.join(dir, "resume.flag");
      const { refs } = await startSteps([`echo part-1\necho part-2\n${awaitFile(flag)}\necho part-3`]);
      const ref = refs[0]!;
      const url = `${server.url}${stepPath(ref)}/logs/stream`;
      const firstConn = await openStream(url, token);
      let got = "";
      const events = await firstConn.readUntil((e) => {
        got += e.event === "log" ? (JSON.parse(e.data) as { text: string }).text : "";
        return got.includes("part-2\n");
      });
      firstConn.close();
      const seenTo = Buffer.byteLength(contiguous(events, 0));

      const second = await openStream(`${url}?offset=${seenTo}`, token);
      fs.writeFileSync(flag, "");
      const rest = await second.readUntil((e) => e.event === "end");
      expect(contiguous(events, 0) + contiguous(rest, seenTo)).toBe("part-1\npart-2\npart-3\n");
      expect(await fullLog(ref)).toBe("part-1\npart-2\npart-3\n");
    });
  });
});

describe("step log size cap", () => {
  let server: ServerProcess;
  let api: Client;
  let pid: string;
  beforeAll(async () => {
    server = await startServerProcess({ args: ["--max-log-bytes", "1000"] });
    ({ projectId: pid, api } = await setupProject(server.url));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("keeps the first part of a big log and says where it cut; the next step has its own cap", async () => {
    const line = (i: number): string => `line-${i}-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghij\n`;
    const printed = Array.from({ length: 2000 }, (_, i) => line(i + 1)).join("");
    expect(printed.length).toBeGreaterThan(100_000);
    const pl = await createPipelineVia(api, pid, {
      definition: definition([
        {
          identifier: "build",
          jobs: [
            {
              identifier: "job",
              steps: [
                {
                  script:
                    'for i in $(seq 1 2000); do echo "line-$i-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghij"; done',
                },
                { script: "echo next-step" },
              ],
            },
          ],
        },
      ]),
    });
    const res = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
    const run: string = res.body.pipeline_run_id;
    const d = await waitForRun(api, pid, pl, run);
    expect(d.status).toBe("COMPLETED");
    const job = d.stages[0].jobs[0];
    const log = await stepLog(api, pid, pl, run, job.id, job.steps[0].id);
    expect(log.slice(0, 1000)).toBe(printed.slice(0, 1000));
    expect(log.slice(1000)).toMatch(/^\n\[pipewright\] log truncated[^\n]*1000 bytes[^\n]*\n$/);
    expect(log).not.toContain("line-2000-");
    expect(job.steps[0].log_size).toBe(Buffer.byteLength(log));
    expect(await stepLog(api, pid, pl, run, job.id, job.steps[1].id)).toBe("next-step\n");
  });
});
