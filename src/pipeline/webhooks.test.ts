import { describe, expect, it } from "vitest";
import { InvalidInput } from "./issues.js";
import { deliveryHeaders, forgeOf, matchTrigger, parseDelivery, verifyDelivery } from "./webhooks.js";

// CodeArts Repo (CodeHub): GitLab's payloads under its own event and token headers.
const HOST = "codehub.devcloud.cn-north-4.huaweicloud.com";
const project = {
  id: 2111589946,
  name: "app",
  web_url: `https://${HOST}/acme00001/app`,
  git_http_url: `https://${HOST}/acme00001/app.git`,
  git_ssh_url: `git@${HOST}:acme00001/app.git`,
  path_with_namespace: "acme00001/app",
  default_branch: "master",
};
const push = (ref: string, after = "a".repeat(40)) => ({
  object_kind: ref.startsWith("refs/tags/") ? "tag_push" : "push",
  event_name: ref.startsWith("refs/tags/") ? "tag_push" : "push",
  before: "b".repeat(40),
  after,
  ref,
  checkout_sha: after,
  user_name: "Alice",
  user_username: "alice",
  project_id: project.id,
  project,
  commits: [
    {
      id: after,
      message: "fix it",
      author: { name: "Alice", email: "alice@example.com" },
      added: ["src/a.ts"],
      modified: ["README.md"],
      removed: [],
    },
  ],
  total_commits_count: 1,
});
const mergeRequest = (action: string) => ({
  object_kind: "merge_request",
  user: { name: "Bob", username: "bob" },
  project,
  object_attributes: {
    iid: 12,
    title: "Add it",
    source_branch: "topic",
    target_branch: "master",
    state: "opened",
    action,
    last_commit: { id: "c".repeat(40), message: "add it" },
  },
});

describe("CodeArts Repo deliveries", () => {
  it("are told by their event header, before GitLab's, which CodeArts Repo may send too", () => {
    expect(forgeOf({ "x-devcloud-event": "Push Hook" })).toBe("codehub");
    expect(forgeOf({ "x-codehub-event": "Push Hook" })).toBe("codehub");
    expect(forgeOf({ "x-repo-event": "Push Hook", "x-gitlab-event": "Push Hook" })).toBe("codehub");
    expect(forgeOf({ "x-gitlab-event": "Push Hook" })).toBe("gitlab");
    expect(deliveryHeaders({ "x-devcloud-event": "Tag Push Hook" })).toEqual({
      deliveryId: "",
      event: "Tag Push Hook",
    });
  });

  it("prove the secret with the token header their webhook's token type names", () => {
    const body = Buffer.from("{}");
    const ev = { "x-devcloud-event": "Push Hook" };
    for (const k of ["x-repo-token", "x-gitlab-token", "x-auth-token", "x-devcloud-token"])
      expect(verifyDelivery("codehub", { ...ev, [k]: "s3cret" }, body, "s3cret"), k).toBe(true);
    expect(verifyDelivery("codehub", { ...ev, "x-repo-token": "s3cre" }, body, "s3cret")).toBe(false);
    expect(verifyDelivery("codehub", { ...ev, "x-repo-token": "" }, body, "s3cret")).toBe(false);
    expect(verifyDelivery("codehub", ev, body, "s3cret")).toBe(false);
  });

  it("read a push, a tag push and a merge request as GitLab's, matching the trigger's git_url", () => {
    const d = parseDelivery("codehub", { "x-devcloud-event": "Push Hook" }, push("refs/heads/master"));
    expect(d).toMatchObject({
      forge: "codehub",
      event: "push",
      ref: { type: "branch", name: "master" },
      commit: "a".repeat(40),
      message: "fix it",
      author: "alice",
      changedPaths: ["src/a.ts", "README.md"],
    });
    expect(d!.repoUrls).toEqual([project.git_http_url, project.git_ssh_url, project.web_url]);
    // Without a delivery id header, the body is the delivery.
    expect(d!.deliveryId).toMatch(/^[0-9a-f]{64}$/);
    const trigger = { git_url: `git@${HOST}:acme00001/app.git`, git_type: "codehub" };
    expect(matchTrigger(trigger, d!)).toEqual({ ok: true });

    const tag = parseDelivery("codehub", { "x-repo-event": "Tag Push Hook" }, push("refs/tags/v1.0.0"));
    expect(tag).toMatchObject({ event: "tag_push", ref: { type: "tag", name: "v1.0.0" } });

    const mr = parseDelivery("codehub", { "x-codehub-event": "Merge Request Hook" }, mergeRequest("open"));
    expect(mr).toMatchObject({
      event: "merge_request",
      ref: { type: "branch", name: "topic" },
      commit: "c".repeat(40),
      message: "Add it",
      author: "bob",
      mergeRequest: { action: "open", target: "master", id: "12" },
    });
    // A name other than those falls back on the payload's object_kind.
    const odd = parseDelivery("codehub", { "x-repo-event": "push" }, push("refs/heads/master"));
    expect(odd).toMatchObject({ event: "push" });
  });

  it("start nothing for a deleted branch, a closed merge request or a comment", () => {
    const ev = (e: string) => ({ "x-devcloud-event": e });
    expect(parseDelivery("codehub", ev("Push Hook"), push("refs/heads/x", "0".repeat(40)))).toBeUndefined();
    expect(parseDelivery("codehub", ev("Merge Request Hook"), mergeRequest("close"))).toBeUndefined();
    expect(parseDelivery("codehub", ev("Note Hook"), { object_kind: "note", project })).toBeUndefined();
  });

  it("refuse a payload not in the format, naming the body", () => {
    const bad = () =>
      parseDelivery("codehub", { "x-devcloud-event": "Push Hook" }, { ref: "master", project });
    expect(bad).toThrow(InvalidInput);
    expect(bad).toThrow(/body: is not a codehub push payload/);
  });
});
