// (a) Artifacts through the API: a 100 MB artifact uploaded the way a runner sends one (PUT on
// the runner API, for a job this bench claimed as a runner), then downloaded the way a user does
// (GET …/artifacts/{name}/download into a file). Baseline in the same run: `cp` of the same file
// on the same disk. Server RSS is sampled every 20 ms meanwhile: the bytes must stream, not
// gather in memory.

import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DEFAULT_CONDITION } from "../src/pipeline/definition.js";
import {
  type BenchResult,
  client,
  median,
  progress,
  ratio,
  removeDir,
  rssMb,
  runnerToken,
  setupProject,
  startServer,
  tempDir,
} from "./harness.js";

const SIZE = 100 * 1024 * 1024;
const ROUNDS = 3;
const TARGET_RATIO = 0.5;
const TARGET_RSS_MB = 50;

function keepingPipeline(): string {
  return JSON.stringify({
    stages: [
      {
        name: "s",
        identifier: "s",
        jobs: [
          {
            name: "j",
            identifier: "j",
            condition: DEFAULT_CONDITION,
            artifacts: [{ name: "big", paths: ["big.bin"] }],
            steps: [
              {
                name: "s",
                task: "official_shell_plugin",
                inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "true" }],
              },
            ],
          },
        ],
      },
    ],
  });
}

/** Streams `file` to or from the server; answers the milliseconds it took. */
function transfer(url: URL, token: string, method: "PUT" | "GET", file: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        headers: {
          "x-auth-token": token,
          ...(method === "PUT"
            ? { "content-type": "application/octet-stream", "content-length": fs.statSync(file).size }
            : {}),
        },
      },
      (res) => {
        if (res.statusCode !== 200) {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () =>
            reject(new Error(`${method} ${url.pathname}: ${res.statusCode} ${text.slice(0, 300)}`)),
          );
          return;
        }
        const sink =
          method === "GET" ? fs.createWriteStream(file, { highWaterMark: 1024 * 1024 }) : undefined;
        pipeline(res, sink ?? devNull())
          .then(() => resolve(performance.now() - t0))
          .catch(reject);
      },
    );
    req.on("error", reject);
    if (method === "PUT") fs.createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(req);
    else req.end();
  });
}

/** A writable that drops what it gets (the upload's small JSON answer). */
const devNull = (): Writable =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

/**
 * A second baseline: a bare node:http server in another process doing what the artifact path
 * must (hash the upload while writing it to a file; stream the file back), so the figures show
 * what Pipewright adds over HTTP itself.
 */
const BARE_SERVER = `
const http = require("node:http"), fs = require("node:fs"), crypto = require("node:crypto");
const { pipeline } = require("node:stream/promises"), { Transform } = require("node:stream");
const file = process.argv[1];
http.createServer(async (req, res) => {
  if (req.method === "PUT") {
    const h = crypto.createHash("sha256");
    const t = new Transform({ transform(c, _e, d) { h.update(c); d(null, c); } });
    await pipeline(req, t, fs.createWriteStream(file, { highWaterMark: 1 << 20 }));
    res.end(JSON.stringify({ sha256: h.digest("hex") }));
  } else {
    res.writeHead(200, { "content-length": fs.statSync(file).size });
    await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), res);
  }
}).listen(0, "127.0.0.1", function () { process.stdout.write(String(this.address().port) + "\\n"); });
`;

/**
 * What bounds any HTTP artifact path on this machine, measured in the same run: sha256 of the
 * bytes (content addressing needs it on upload) and a raw TCP stream over loopback in Node. An
 * upload must at least hash and carry the bytes, a download carry them: their sum is the floor.
 */
async function floorMs(): Promise<{ hashMs: number; tcpMs: number }> {
  const block = crypto.randomBytes(1024 * 1024);
  const blocks = SIZE / block.length;
  let t = performance.now();
  const h = crypto.createHash("sha256");
  for (let i = 0; i < blocks; i++) h.update(block);
  h.digest();
  const hashMs = performance.now() - t;
  const net = await import("node:net");
  const tcpMs = await new Promise<number>((resolve, reject) => {
    const srv = net.createServer((sock) => {
      sock.on("data", () => {});
      sock.on("end", () => {
        resolve(performance.now() - t);
        srv.close();
      });
    });
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const sock = net.connect(typeof addr === "object" && addr ? addr.port : 0, "127.0.0.1");
      t = performance.now();
      let i = 0;
      const write = (): void => {
        while (i < blocks) {
          i++;
          if (!sock.write(block)) {
            sock.once("drain", write);
            return;
          }
        }
        sock.end();
      };
      sock.once("connect", write);
    });
  });
  return { hashMs, tcpMs };
}

async function startBare(file: string): Promise<{ url: string; stop(): void }> {
  const proc = spawn(process.execPath, ["-e", BARE_SERVER, file], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve, reject) => {
    proc.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim()));
    proc.once("exit", (code) => reject(new Error(`bare server exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, stop: () => proc.kill() };
}

export async function artifacts(): Promise<BenchResult> {
  const dir = tempDir("pipewright-bench-a-");
  const server = await startServer(dir, ["--no-local-runner", "--max-artifact-bytes", String(2 * SIZE)]);
  const work = tempDir("pipewright-bench-a-files-");
  try {
    const { projectId, api } = await setupProject(server.url);
    const token = await runnerToken(server.url);
    const runner = client(server.url, token);
    const reg = await runner.post("/runner/v1/register", {
      name: "bench",
      labels: [],
      slots: 1,
      version: "bench",
    });
    const runnerId = reg.body.runner_id as string;
    const pl = (
      await api.post(`/v5/${projectId}/api/pipelines`, {
        name: "keep",
        is_publish: false,
        definition: keepingPipeline(),
      })
    ).body.pipeline_id as string;
    const run = (await api.post(`/v5/${projectId}/api/pipelines/${pl}/run`, {})).body
      .pipeline_run_id as string;
    const claimed = await runner.post("/runner/v1/claim", { runner_id: runnerId, limit: 1, wait_ms: 5000 });
    const job = claimed.body.jobs[0] as { jobRunId: string; attempt: number };
    if (!job) throw new Error("no job to claim");

    progress(`writing a ${SIZE / 1024 / 1024} MB file`);
    const src = path.join(work, "big.bin");
    const fd = fs.openSync(src, "w");
    const chunk = crypto.randomBytes(1024 * 1024);
    for (let i = 0; i < SIZE / chunk.length; i++) fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);

    const uploadUrl = new URL(
      `${server.url}/runner/v1/jobs/${job.jobRunId}/artifacts/big?runner_id=${runnerId}&attempt=${job.attempt}`,
    );
    const downloadUrl = new URL(
      `${server.url}/v5/${projectId}/api/pipelines/${pl}/pipeline-runs/${run}/artifacts/big/download`,
    );
    const bare = await startBare(path.join(work, "bare.bin"));
    const rows: [string, string][] = [];
    const bares: number[] = [];
    const floors: number[] = [];
    const cps: number[] = [];
    const ups: number[] = [];
    const downs: number[] = [];
    let rssGrowth = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const dst = path.join(work, `copy-${r}.bin`);
      const t0 = performance.now();
      const cp = spawnSync("cp", [src, dst]);
      if (cp.status !== 0) throw new Error(`cp failed: ${cp.stderr}`);
      cps.push(performance.now() - t0);
      fs.rmSync(dst);
      const floor = await floorMs();
      floors.push(floor.hashMs + 2 * floor.tcpMs);
      const bareUp = await transfer(new URL(bare.url), "", "PUT", src);
      const bareGot = path.join(work, `bare-got-${r}.bin`);
      const bareDown = await transfer(new URL(bare.url), "", "GET", bareGot);
      fs.rmSync(bareGot);
      bares.push(bareUp + bareDown);

      const before = rssMb(server.pid);
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(server.pid));
      }, 20);
      try {
        ups.push(await transfer(uploadUrl, token, "PUT", src));
        const got = path.join(work, `got-${r}.tar`);
        downs.push(await transfer(downloadUrl, api.token, "GET", got));
        if (fs.statSync(got).size !== SIZE) throw new Error(`downloaded ${fs.statSync(got).size} bytes`);
        fs.rmSync(got);
      } finally {
        clearInterval(sampler);
      }
      rssGrowth = Math.max(rssGrowth, peak - before);
      const load = os.loadavg()[0]!.toFixed(2);
      rows.push([
        `round ${r + 1} (load ${load})`,
        `cp ${cps[r]!.toFixed(0)} ms · floor (sha256 + 2 × raw TCP) ${floors[r]!.toFixed(0)} ms · bare node:http up+down ${bares[r]!.toFixed(0)} ms · upload ${ups[r]!.toFixed(0)} ms · download ${downs[r]!.toFixed(0)} ms · RSS +${(peak - before).toFixed(1)} MB`,
      ]);
    }
    runner.close();
    api.close();
    bare.stop();

    // Round trip: the artifact up and down again, against one cp of it.
    const trips = ups.map((u, i) => cps[i]! / (u + downs[i]!));
    const worst = Math.min(...trips);
    const mbps = (ms: number) => `${(SIZE / 1024 / 1024 / (ms / 1000)).toFixed(0)} MB/s`;
    return {
      title: `(a) a ${SIZE / 1024 / 1024} MB artifact up (runner API) and down (user API), against cp`,
      rows: [
        ...rows,
        ["cp (median)", mbps(median(cps))],
        ["upload (median)", `${mbps(median(ups))} (${ratio(median(cps) / median(ups))} of cp)`],
        ["download (median)", `${mbps(median(downs))} (${ratio(median(cps) / median(downs))} of cp)`],
        ["round trip throughput / cp (per round)", trips.map((t) => ratio(t)).join(" · ")],
        [
          "floor throughput / cp (per round): the best any hashing HTTP path could do",
          floors.map((f, i) => ratio(cps[i]! / f)).join(" · "),
        ],
        [
          "Pipewright up+down / bare node:http up+down (per round)",
          ups.map((u, i) => ratio((u + downs[i]!) / bares[i]!)).join(" · "),
        ],
      ],
      targets: [
        {
          label: "up+down throughput vs cp (worst round)",
          value: ratio(worst),
          goal: `≥ ${ratio(TARGET_RATIO)}`,
          met: worst >= TARGET_RATIO,
        },
        {
          label: "server RSS growth (worst round)",
          value: `${rssGrowth.toFixed(1)} MB`,
          goal: `< ${TARGET_RSS_MB} MB`,
          met: rssGrowth < TARGET_RSS_MB,
        },
      ],
      notes: [
        "round trip throughput = size / (upload + download time), against size / cp time, so 0.50× means the two transfers took twice one cp",
        "cp copies within the page cache (copy_file_range); the bare node:http server shows what HTTP on this machine allows",
        "floor = sha256 of the bytes (content addressing) + carrying them twice over a raw loopback TCP stream in Node: when it is above half of cp's speed, the 0.5× target cannot be met by any hashing HTTP path here",
      ],
    };
  } finally {
    await server.stop();
    removeDir(dir);
    removeDir(work);
  }
}
