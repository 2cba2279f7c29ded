import { describe, expect, it } from "vitest";
import { maskUrl, noticeEventsOf, renderWebhook, targetIssues } from "./notices.js";

const message = {
  event: "pipelineRun.failed" as const,
  project_id: "p",
  pipeline_id: "pl",
  pipeline_name: "app",
  run_id: "r",
  run_number: 7,
  status: "FAILED",
  trigger_type: "Manual",
  executor_name: "alice",
  start_time: 1000,
  end_time: 2000,
  message: "step failed",
};

describe("notices", () => {
  it("a status change is the events CodeArts names; a review passed is no new start", () => {
    expect(noticeEventsOf("QUEUED", "RUNNING")).toEqual(["pipelineRun.start"]);
    expect(noticeEventsOf("PAUSED", "RUNNING")).toEqual([]);
    expect(noticeEventsOf("QUEUED", "PAUSED")).toEqual(["pipelineRun.start", "pipelineRun.pause"]);
    expect(noticeEventsOf("RUNNING", "PAUSED")).toEqual(["pipelineRun.pause"]);
    expect(noticeEventsOf("RUNNING", "COMPLETED")).toEqual(["pipelineRun.succeed"]);
    expect(noticeEventsOf("", "FAILED")).toEqual(["pipelineRun.failed"]);
    expect(noticeEventsOf("PAUSED", "CANCELED")).toEqual(["pipelineRun.cancel"]);
    expect(noticeEventsOf("", "QUEUED")).toEqual([]);
    expect(noticeEventsOf("RUNNING", "RUNNING")).toEqual([]);
  });

  it("URLs are shown by their origin only: the path and query may hold the credential", () => {
    expect(maskUrl("https://hooks.slack.com/services/T/B/secret")).toBe("https://hooks.slack.com/******");
    expect(maskUrl("https://oapi.dingtalk.com/robot/send?access_token=x")).toBe(
      "https://oapi.dingtalk.com/******",
    );
    expect(maskUrl("http://10.0.0.1:8080/")).toBe("http://10.0.0.1:8080/");
    expect(maskUrl("not a url")).toBe("******");
  });

  it("targets' fields are checked for their type, naming the field", () => {
    expect(targetIssues({ kind: "webhook", url: "https://x.example/h", users: [] })).toEqual([]);
    expect(targetIssues({ kind: "webhook", url: "javascript:alert(1)", users: [] })[0]?.field).toBe(
      "send_url",
    );
    expect(targetIssues({ kind: "email", url: "", users: ["a@b.example", "nope"] })[0]?.field).toBe(
      "notice_users[1]",
    );
    expect(targetIssues({ kind: "fax", url: "", users: [] })[0]?.field).toBe("notice_type");
  });

  it("DingTalk's signature goes in the URL, beside the access token it keeps", () => {
    const req = renderWebhook({
      kind: "dingtalk",
      url: "https://oapi.dingtalk.com/robot/send?access_token=tok",
      secret: "SECabc",
      message,
      deliveryId: "d",
      link: "",
      now: 1_700_000_000_000,
    });
    const u = new URL(req.url);
    expect(u.searchParams.get("access_token")).toBe("tok");
    expect(u.searchParams.get("timestamp")).toBe("1700000000000");
    expect(u.searchParams.get("sign")).toMatch(/^[A-Za-z0-9+/]+=*$/);
    // Without a secret the URL is left as given.
    expect(
      renderWebhook({
        kind: "dingtalk",
        url: "https://d.example/x?a=1",
        secret: "",
        message,
        deliveryId: "d",
        link: "",
        now: 1,
      }).url,
    ).toBe("https://d.example/x?a=1");
  });
});
