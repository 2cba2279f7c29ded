// "Artifacts" on a run's page: the archives its jobs kept (name, job, size, SHA-256) with a
// download for each. Hidden while the run has none; read again when jobs end.

import { paths } from "./api.js";
import { type Ctx, errorText } from "./context.js";
import { h, keepFocus, setText } from "./dom.js";
import { formatBytes } from "./format.js";
import type { Artifact } from "./types.js";

/**
 * A download is read whole into the tab's memory (a Blob) before the browser saves it: the only
 * way to send the token as a header and hand the bytes over without putting the token in a URL.
 * That bounds it by the browser's memory and blob limits, not the network: fine for archives of
 * tens or hundreds of MiB, unreliable past about 1 GiB (Chromium gives up near 2 GiB, small
 * machines sooner). The server's cap (--max-artifact-bytes, 1 GiB by default) keeps most
 * archives below that; the CLI (`pipewright artifacts download`) streams any size to disk.
 * Streaming ways around it (a service worker adding the header, showSaveFilePicker) need a
 * secure context, which a self-hosted server on plain HTTP is not.
 */
const HASH_LIMIT = 256 * 1024 * 1024;

export interface ArtifactsPanel {
  readonly el: HTMLElement;
  /** Reads the run's artifacts and shows them (or hides the panel when there are none). */
  load(): Promise<void>;
  dispose(): void;
}

const sha256Of = (a: Artifact): string | undefined =>
  a.hash_code.find((x) => x.hash_type.toLowerCase().replace("-", "") === "sha256")?.hash_value.toLowerCase();

const sizeOf = (a: Artifact): number | undefined =>
  /^\d+$/.test(String(a.file_size)) ? Number(a.file_size) : undefined;

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Why the bytes are not the artifact, or null when they are (as far as this browser can check). */
async function mismatch(blob: Blob, sha256: string | null, length: string | null): Promise<string | null> {
  if (length !== null && /^\d+$/.test(length) && blob.size !== Number(length)) {
    return `${formatBytes(blob.size)} of ${formatBytes(Number(length))} arrived`;
  }
  // WebCrypto digests whole buffers only (and only in a secure context): a second copy in memory,
  // so very large archives go unchecked here; their size was checked above.
  if (!sha256 || !globalThis.crypto?.subtle || blob.size > HASH_LIMIT) return null;
  const got = hex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  return got === sha256.trim().toLowerCase() ? null : `its SHA-256 is ${got}, not the server's ${sha256}`;
}

/** Hands bytes to the browser as a file download. */
function save(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: fileName, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has taken its own reference by the time the click returns; a margin all the same.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function createArtifactsPanel(
  ctx: Ctx,
  ids: { readonly pipelineId: string; readonly runId: string },
): ArtifactsPanel {
  const { api } = ctx;
  const life = new AbortController();
  const listPath = paths.artifacts(ctx.projectId, ids.pipelineId, ids.runId);
  const tbody = h("tbody", {});
  const problem = h("p", {
    class: "form-error",
    role: "alert",
    hidden: true,
    "data-testid": "artifacts-error",
  });
  const el = h(
    "section",
    {
      class: "card artifacts-card",
      "aria-labelledby": "artifacts-heading",
      "data-testid": "artifacts-panel",
      hidden: true,
    },
    h("h2", { id: "artifacts-heading" }, "Artifacts"),
    problem,
    h(
      "table",
      { class: "table compact artifacts" },
      h("caption", { class: "visually-hidden" }, "Archives of the files this run's jobs kept"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "Job"),
          h("th", { scope: "col", class: "num" }, "Size"),
          h("th", { scope: "col" }, "SHA-256"),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Download")),
        ),
      ),
      tbody,
    ),
  );

  const busy = new Set<string>();
  let lastKey = "";
  let seq = 0;

  async function download(a: Artifact, button: HTMLButtonElement): Promise<void> {
    if (busy.has(a.name)) return;
    busy.add(a.name);
    const label = button.querySelector(".dl-text")!;
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
    button.setAttribute("aria-disabled", "true");
    setText(label, "Downloading…");
    const fileName = `${a.name}.tar`;
    try {
      const got = await api.bytes(paths.artifactDownload(ctx.projectId, ids.pipelineId, ids.runId, a.name), {
        signal: life.signal,
        onProgress: (n, total) =>
          setText(label, total ? `${Math.floor((n / total) * 100)}%` : formatBytes(n)),
      });
      const wrong = await mismatch(got.blob, got.header("x-checksum-sha256"), got.header("content-length"));
      if (wrong) throw new Error(`the download is not the artifact: ${wrong}`);
      save(got.blob, fileName);
      ctx.notify(`Downloaded ${fileName} (${formatBytes(got.blob.size)})`, "success");
    } catch (err) {
      if (!life.signal.aborted) ctx.notify(`Could not download ${fileName}: ${errorText(err)}`, "error");
    } finally {
      busy.delete(a.name);
      button.removeAttribute("aria-disabled");
      setText(label, "Download");
    }
  }

  function row(a: Artifact): HTMLTableRowElement {
    const sha = sha256Of(a);
    const size = sizeOf(a);
    const button = h(
      "button",
      {
        type: "button",
        class: "btn small",
        "data-testid": "artifact-download",
        "data-focus-key": `artifact-${a.name}`,
      },
      h("span", { class: "dl-text" }, "Download"),
      h("span", { class: "visually-hidden" }, ` ${a.name}.tar`),
    );
    button.addEventListener("click", () => void download(a, button));
    return h(
      "tr",
      { "data-testid": `artifact-${a.name}` },
      h("th", { scope: "row", class: "a-name" }, a.name),
      h("td", { class: "a-job", "data-testid": "artifact-job" }, a.job_identifier || a.job_id),
      h(
        "td",
        {
          class: "a-size num",
          "data-testid": "artifact-size",
          title: size === undefined ? "" : `${size} bytes`,
        },
        size === undefined ? "—" : formatBytes(size),
      ),
      h(
        "td",
        { class: "a-hash" },
        sha
          ? // Short to read, whole on hover (title) and on keyboard focus (the CSS swaps the two).
            h(
              "code",
              { class: "hash", tabindex: "0", title: sha, "data-testid": "artifact-sha" },
              h("span", { class: "hash-short" }, sha.slice(0, 12)),
              h("span", { class: "hash-full" }, sha),
            )
          : "—",
      ),
      h("td", { class: "a-dl" }, button),
    );
  }

  return {
    el,
    async load() {
      const mine = ++seq;
      let artifacts: readonly Artifact[];
      try {
        artifacts = (await api.get<{ artifacts: Artifact[] }>(listPath)).artifacts ?? [];
      } catch (err) {
        if (mine !== seq || life.signal.aborted) return;
        setText(problem, `Could not list the artifacts: ${errorText(err)}`);
        problem.hidden = false;
        el.hidden = false;
        return;
      }
      // A later load has answered, or will: this one is out of date.
      if (mine !== seq || life.signal.aborted) return;
      problem.hidden = true;
      el.hidden = artifacts.length === 0;
      const key = JSON.stringify(artifacts);
      if (key === lastKey) return;
      lastKey = key;
      keepFocus(tbody, () => tbody.replaceChildren(...artifacts.map(row)));
    },
    dispose() {
      life.abort();
    },
  };
}
