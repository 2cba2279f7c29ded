// Code events from forges (GitHub, GitLab, Gitee, CodeArts Repo) and our generic JSON form: each
// delivery read into one shape, its signature or token checked, and matched against a pipeline's
// triggers (spec §5.3: `git_url`, `events[{type, enable}]`; our `branches`, `tags` and `paths`
// filters).

import crypto from "node:crypto";
import picomatch from "picomatch";
import { invalidField } from "./issues.js";

/** `codehub` is CodeArts Repo, named as CodeArts's own `git_type` names it. */
export type Forge = "github" | "gitlab" | "gitee" | "codehub" | "generic";
export type CodeEvent = "push" | "tag_push" | "merge_request";

export interface Delivery {
  readonly forge: Forge;
  /** The forge's id of this delivery (a redelivery carries the same one). */
  readonly deliveryId: string;
  readonly event: CodeEvent;
  /** The repository's URLs as the payload gives them (clone, ssh, web). */
  readonly repoUrls: readonly string[];
  /** A branch (push, merge request source) or a tag. */
  readonly ref: { readonly type: "branch" | "tag"; readonly name: string };
  readonly commit: string;
  readonly message: string;
  readonly author: string;
  /** Paths the event's commits changed; undefined when the payload does not say. */
  readonly changedPaths: readonly string[] | undefined;
  readonly mergeRequest?:
    | { readonly action: string; readonly target: string; readonly id: string }
    | undefined;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;
const header = (h: Headers, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * CodeArts Repo's event header: `X-Devcloud-Event` in its documentation (from its CodeHub days),
 * `X-Codehub-Event` as integrations read it, and `X-Repo-Event` (undocumented; named like the
 * `X-Repo-Token` it sends now) in case the rename reached it.
 */
const codehubEvent = (h: Headers): string | undefined =>
  header(h, "x-repo-event") ?? header(h, "x-codehub-event") ?? header(h, "x-devcloud-event");

/**
 * What a delivery's headers say before its body is read: the forge's delivery id and event name
 * (empty when absent), for the record of a delivery refused before its body counts.
 */
export function deliveryHeaders(h: Headers): { readonly deliveryId: string; readonly event: string } {
  return {
    deliveryId:
      header(h, "x-github-delivery") ??
      header(h, "x-gitlab-event-uuid") ??
      header(h, "x-gitee-delivery") ??
      header(h, "x-pipewright-delivery") ??
      "",
    event:
      header(h, "x-github-event") ??
      codehubEvent(h) ??
      header(h, "x-gitlab-event") ??
      header(h, "x-gitee-event") ??
      "",
  };
}

/** Which forge sent a delivery, by its event header; the generic form has none of them. */
export function forgeOf(h: Headers): Forge {
  if (header(h, "x-github-event")) return "github";
  // Before GitLab's: CodeArts Repo speaks GitLab's format and may send GitLab's headers too.
  if (codehubEvent(h)) return "codehub";
  if (header(h, "x-gitlab-event")) return "gitlab";
  if (header(h, "x-gitee-event")) return "gitee";
  return "generic";
}

function hmacHex(secret: string, data: Buffer | string): string {
  return crypto.createHmac("sha256", secret).update(data).digest("hex");
}
function equal(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

/** The signature header of our generic form: `sha256=<hex HMAC-SHA256 of the body>`. */
export const GENERIC_SIGNATURE_HEADER = "x-pipewright-signature";

/**
 * Whether the delivery proves it knows the secret, the way its forge does: GitHub and the
 * generic form sign the body (HMAC-SHA256, `sha256=` + hex); GitLab sends the secret as its
 * token; Gitee sends either the secret or a signature of its timestamp (base64 HMAC-SHA256 of
 * `timestamp\nsecret`); CodeArts Repo sends the secret as its token, in the header its webhook's
 * token type names. Comparisons take constant time.
 */
export function verifyDelivery(forge: Forge, h: Headers, body: Buffer, secret: string): boolean {
  switch (forge) {
    case "github": {
      const sig = header(h, "x-hub-signature-256");
      return sig !== undefined && equal(sig, `sha256=${hmacHex(secret, body)}`);
    }
    case "generic": {
      const sig = header(h, GENERIC_SIGNATURE_HEADER);
      return sig !== undefined && equal(sig, `sha256=${hmacHex(secret, body)}`);
    }
    case "gitlab": {
      const token = header(h, "x-gitlab-token");
      return token !== undefined && equal(token, secret);
    }
    case "gitee": {
      const token = header(h, "x-gitee-token");
      if (token === undefined) return false;
      const ts = header(h, "x-gitee-timestamp");
      if (ts !== undefined && /^\d+$/.test(ts)) {
        const sign = crypto.createHmac("sha256", secret).update(`${ts}\n${secret}`).digest("base64");
        if (equal(token, sign)) return true;
      }
      return equal(token, secret);
    }
    case "codehub": {
      // The webhook's token type picks the header: X-Repo-Token (the default), X-Gitlab-Token or
      // X-Auth-Token; older CodeHub sent X-Devcloud-Token. No signature: the token is the secret.
      const tokens = CODEHUB_TOKEN_HEADERS.map((k) => header(h, k)).filter((t) => t !== undefined);
      return tokens.some((t) => equal(t, secret));
    }
  }
}

const CODEHUB_TOKEN_HEADERS = [
  "x-repo-token",
  "x-gitlab-token",
  "x-auth-token",
  "x-devcloud-token",
  "x-codehub-token",
] as const;

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const notFormat = (forge: Forge, what: string) =>
  invalidField("body", `is not a ${forge} ${what} payload the way ${forge} documents it`);

/** A ref as a branch or a tag (`refs/heads/x`, `refs/tags/x`). */
function refOf(ref: string): { type: "branch" | "tag"; name: string } | undefined {
  if (ref.startsWith("refs/heads/")) return { type: "branch", name: ref.slice(11) };
  if (ref.startsWith("refs/tags/")) return { type: "tag", name: ref.slice(10) };
  return undefined;
}

/** Paths added, modified or removed by the commits of a push (every forge alike). */
function changedPaths(commits: unknown): string[] | undefined {
  if (!Array.isArray(commits)) return undefined;
  const out = new Set<string>();
  for (const c of commits) {
    for (const k of ["added", "modified", "removed"]) {
      const list = obj(c)[k];
      if (Array.isArray(list)) for (const p of list) if (typeof p === "string") out.add(p);
    }
  }
  return [...out];
}

const urlsOf = (repo: Record<string, unknown>, keys: readonly string[]): string[] =>
  keys.map((k) => str(repo[k])).filter((u): u is string => u !== undefined && u !== "");
const urlsIn = (repos: readonly unknown[], keys: readonly string[]): string[] => [
  ...new Set(repos.flatMap((r) => urlsOf(obj(r), keys))),
];

/** A push (branch or tag) in GitHub's, GitLab's, Gitee's or CodeArts Repo's shape (shared fields). */
function push(
  forge: Forge,
  p: Record<string, unknown>,
  repoKeys: readonly string[],
  repos: readonly unknown[],
) {
  const ref = refOf(str(p.ref) ?? "");
  const commit = str(p.after) ?? str(p.checkout_sha);
  if (!ref || !commit) throw notFormat(forge, "push");
  const head = obj(p.head_commit);
  const commits = Array.isArray(p.commits) ? p.commits : [];
  const last = obj(commits.at(-1));
  const author =
    str(obj(p.pusher).name) ?? str(p.user_username) ?? str(p.user_name) ?? str(obj(head.author).name) ?? "";
  return {
    event: (ref.type === "tag" ? "tag_push" : "push") as CodeEvent,
    repoUrls: urlsIn(repos, repoKeys),
    ref,
    commit,
    message: str(head.message) ?? str(last.message) ?? str(p.message) ?? "",
    author,
    changedPaths: changedPaths(p.commits),
  };
}

const GITHUB_REPO = ["clone_url", "ssh_url", "html_url", "git_url"];
const GITLAB_REPO = ["git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url"];
const GITEE_REPO = ["clone_url", "git_http_url", "ssh_url", "html_url", "git_ssh_url"];
const CODEHUB_REPO = [...GITLAB_REPO, "homepage", "url"];

/**
 * CodeArts Repo's event by GitLab's names (`Push Hook`, `Tag Push Hook`, `Merge Request Hook`,
 * as its documentation shows); its documentation shows only the push, so another name falls
 * back on the payload's `object_kind`.
 */
function codehubEventName(ev: string | undefined, kind: unknown): string | undefined {
  if (ev === "Push Hook" || ev === "Tag Push Hook" || ev === "Merge Request Hook") return ev;
  return { push: "Push Hook", tag_push: "Tag Push Hook", merge_request: "Merge Request Hook" }[
    str(kind) ?? ""
  ];
}

/**
 * A delivery's payload in our one shape; throws a 400 (`body: …`) when it is not the forge's
 * format. Events the triggers cannot ask for (an issue, a ping) answer undefined.
 */
export function parseDelivery(forge: Forge, h: Headers, payload: unknown): Delivery | undefined {
  const p = obj(payload);
  if (Object.keys(p).length === 0) throw notFormat(forge, "event");
  const deliveryId =
    deliveryHeaders(h).deliveryId ||
    str(p.delivery_id) ||
    // Without an id of the forge's, the body is the delivery: a redelivery is the same body.
    crypto.createHash("sha256").update(JSON.stringify(payload)).digest("hex");
  const base = { forge, deliveryId };
  if (forge === "github") {
    const ev = header(h, "x-github-event");
    if (ev === "push") {
      if (p.deleted === true) return undefined; // a branch deleted: nothing to build
      return { ...base, ...push(forge, p, GITHUB_REPO, [p.repository]) };
    }
    if (ev === "pull_request") {
      const pr = obj(p.pull_request);
      const action = str(p.action);
      const mapped =
        action === "opened"
          ? "open"
          : action === "reopened"
            ? "reopen"
            : action === "synchronize"
              ? "update"
              : action === "closed" && pr.merged === true
                ? "merge"
                : undefined;
      const headRef = obj(pr.head);
      const source = str(headRef.ref);
      const commit = str(headRef.sha);
      const target = str(obj(pr.base).ref);
      if (!source || !commit || !target) throw notFormat(forge, "pull_request");
      if (!mapped) return undefined;
      return {
        ...base,
        event: "merge_request",
        repoUrls: urlsOf(obj(p.repository), GITHUB_REPO),
        ref: { type: "branch", name: source },
        commit,
        message: str(pr.title) ?? "",
        author: str(obj(pr.user).login) ?? "",
        changedPaths: undefined,
        mergeRequest: { action: mapped, target, id: String(pr.number ?? "") },
      };
    }
    return undefined;
  }
  if (forge === "gitlab" || forge === "gitee" || forge === "codehub") {
    const ev =
      forge === "codehub"
        ? codehubEventName(codehubEvent(h), p.object_kind)
        : header(h, forge === "gitlab" ? "x-gitlab-event" : "x-gitee-event");
    const repoKeys = forge === "gitlab" ? GITLAB_REPO : forge === "gitee" ? GITEE_REPO : CODEHUB_REPO;
    // GitLab names the repository `project` (and `repository` before 8.5); what CodeArts Repo's
    // documentation shows does not go that far, so both are read.
    const repos =
      forge === "gitlab"
        ? [p.project ?? p.repository]
        : forge === "gitee"
          ? [p.repository ?? p.project]
          : [p.project, p.repository];
    if (ev === "Push Hook" || ev === "Tag Push Hook") {
      if (/^0+$/.test(str(p.after) ?? "")) return undefined; // deleted
      return { ...base, ...push(forge, p, repoKeys, repos) };
    }
    if (ev === "Merge Request Hook") {
      const mr = obj(forge === "gitee" ? (p.pull_request ?? p.object_attributes) : p.object_attributes);
      const source = str(mr.source_branch) ?? str(obj(mr.head).ref);
      const target = str(mr.target_branch) ?? str(obj(mr.base).ref);
      const commit = str(obj(mr.last_commit).id) ?? str(obj(mr.head).sha) ?? str(mr.merge_commit_sha);
      if (!source || !target || !commit) throw notFormat(forge, "merge request");
      const action = str(mr.action) ?? str(p.action) ?? "";
      const mapped = {
        open: "open",
        opened: "open",
        reopen: "reopen",
        update: "update",
        merge: "merge",
        merged: "merge",
      }[action];
      if (!mapped) return undefined;
      return {
        ...base,
        event: "merge_request",
        repoUrls: urlsIn(repos, repoKeys),
        ref: { type: "branch", name: source },
        commit,
        message: str(mr.title) ?? "",
        author: str(obj(p.user).username) ?? str(obj(p.user).name) ?? str(obj(p.sender).login) ?? "",
        changedPaths: undefined,
        mergeRequest: { action: mapped, target, id: String(mr.iid ?? mr.number ?? mr.id ?? "") },
      };
    }
    return undefined;
  }
  // Generic: {event, repository, ref, commit, message?, author?, changed_paths?}.
  const event = str(p.event);
  if (event !== "push" && event !== "tag_push" && event !== "merge_request")
    throw invalidField("event", "must be push, tag_push or merge_request");
  const repository = str(p.repository);
  if (!repository) throw invalidField("repository", "is required (the repository's clone URL)");
  const ref = refOf(str(p.ref) ?? "") ?? undefined;
  if (!ref) throw invalidField("ref", "must be refs/heads/<branch> or refs/tags/<tag>");
  const commit = str(p.commit);
  if (!commit || !/^[0-9a-f]{7,64}$/i.test(commit)) throw invalidField("commit", "must be a commit id (hex)");
  const paths = p.changed_paths;
  if (paths !== undefined && (!Array.isArray(paths) || paths.some((x) => typeof x !== "string")))
    throw invalidField("changed_paths", "must be a list of paths");
  const target = str(p.target_branch);
  if (event === "merge_request" && !target)
    throw invalidField("target_branch", "is required for merge_request");
  return {
    ...base,
    event: event === "push" && ref.type === "tag" ? "tag_push" : event,
    repoUrls: [repository],
    ref,
    commit,
    message: str(p.message) ?? "",
    author: str(p.author) ?? "",
    changedPaths: paths as string[] | undefined,
    ...(event === "merge_request"
      ? { mergeRequest: { action: str(p.action) ?? "open", target: target!, id: "" } }
      : {}),
  };
}

/**
 * A repository URL reduced to host and path, so that the clone, ssh and web URLs of one
 * repository compare equal: `https://user@Host/owner/repo.git/` → `host/owner/repo`.
 */
export function repoKey(url: string): string {
  let u = url.trim();
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/.exec(u);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) u = `${scp[1]}/${scp[2]}`;
  u = u.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/^[^@/]+@/, "");
  u = u.replace(/:\d+(?=\/)/, "");
  u = u.replace(/\/+$/, "").replace(/\.git$/, "");
  const slash = u.indexOf("/");
  return slash < 0 ? u.toLowerCase() : u.slice(0, slash).toLowerCase() + u.slice(slash);
}

/** A pipeline trigger as stored (CodeArts's fields and our filters). */
export interface TriggerFilter {
  readonly git_url?: unknown;
  readonly events?: unknown;
  readonly branches?: unknown;
  readonly tags?: unknown;
  readonly paths?: unknown;
}

const list = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;

const enabled = (v: unknown): boolean => v === undefined || v === true || v === "true";
const SKIP = /\[(skip ci|ci skip)\]/i;

/**
 * Whether a delivery starts a pipeline with this trigger: its repository, an enabled event of its
 * type (none listed: push and tag_push), its branch or tag against the patterns (none: any), one
 * changed path against the path patterns, and no `[skip ci]` in the message. Answers the reason
 * when it does not.
 */
export function matchTrigger(
  t: TriggerFilter,
  d: Delivery,
): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  if (typeof t.git_url !== "string" || !d.repoUrls.some((u) => repoKey(u) === repoKey(t.git_url as string)))
    return { ok: false, reason: "another repository" };
  const events = Array.isArray(t.events) ? t.events.map(obj) : undefined;
  const on = events
    ? events.some((e) => e.type === d.event && enabled(e.enable))
    : d.event === "push" || d.event === "tag_push";
  if (!on) return { ok: false, reason: `event ${d.event} is not enabled` };
  const patterns = list(d.ref.type === "tag" ? t.tags : t.branches);
  const subject = d.event === "merge_request" ? d.mergeRequest!.target : d.ref.name;
  if (patterns && patterns.length > 0 && !picomatch.isMatch(subject, patterns))
    return { ok: false, reason: `${d.ref.type === "tag" ? "tag" : "branch"} ${subject} matches no pattern` };
  const paths = list(t.paths);
  if (paths && paths.length > 0 && d.changedPaths !== undefined) {
    if (!d.changedPaths.some((p) => picomatch.isMatch(p, paths, { dot: true })))
      return { ok: false, reason: "no changed path matches" };
  }
  if (SKIP.test(d.message)) return { ok: false, reason: "[skip ci] in the commit message" };
  return { ok: true };
}

/** The run's trigger type for an event (spec §2). */
export function triggerTypeOf(event: CodeEvent): string {
  return event === "push" ? "Push" : event === "tag_push" ? "CreateTag" : "MR";
}
