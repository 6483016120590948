import { describe, expect, it } from "vitest";
import type { Alert, Pod, StoredSnapshot } from "@/api/types";
import { formatDuration, formatUsd } from "@/lib/format";
import { alertHref, groupLagSeries, mergeAlerts, podMarks, tokenKinds, topGroups } from "@/lib/snapshot";
import { neighbour, position, timeAt } from "@/components/timeline/marks";

const use = (usage: number | null, limit: number | null) => ({
  usage,
  request: null,
  limit,
  usage_of_request: null,
  usage_of_limit: usage !== null && limit ? usage / limit : null,
});

function pod(overrides: Partial<Pod>): Pod {
  return {
    namespace: "agents",
    name: "p",
    uid: "u",
    phase: "Running",
    reason: null,
    ready: true,
    restarts: 0,
    last_termination_reason: null,
    node: null,
    owner: null,
    agent: null,
    cpu_cores: use(0.1, 1),
    memory_bytes: use(100, 1000),
    ...overrides,
  };
}

describe("podMarks", () => {
  it("reads green, amber near the limit, red when OOM-killed or crash-looping", () => {
    expect(podMarks(pod({})).tone).toBe("ok");
    expect(podMarks(pod({ memory_bytes: use(800, 1000) })).tone).toBe("warn");
    const killed = podMarks(pod({ ready: false, last_termination_reason: "OOMKilled" }));
    expect([killed.tone, killed.oomKilled, killed.label]).toEqual(["bad", true, "OOMKilled"]);
    expect(podMarks(pod({ ready: false, reason: "CrashLoopBackOff" })).crashLoop).toBe(true);
  });
});

describe("series and costs", () => {
  it("gives each group's lag and worst lag in seconds per snapshot", () => {
    const snap = (t: number, lag: number, seconds: number | null) =>
      ({
        timestamp_unix_nano: t * 1e6,
        snapshot: {
          kafka: {
            groups: {
              g: { lag, partitions: [{ lag_seconds: seconds }, { lag_seconds: 1 }] },
            },
            topics: {},
          },
        },
      }) as unknown as StoredSnapshot;
    const { points, groups } = groupLagSeries([snap(1000, 5, 30), snap(2000, 0, null)]);
    expect(groups).toEqual(["g"]);
    expect(points).toEqual([
      { t: 1000, g: 5, "g:s": 30 },
      { t: 2000, g: 0, "g:s": 1 },
    ]);
  });

  it("splits cached input from fresh input", () => {
    expect(tokenKinds({ input_tokens: 100, cache_read_tokens: 30, output_tokens: 20, reasoning_tokens: 5 })).toEqual({
      input: 70,
      cached: 30,
      output: 20,
      reasoning: 5,
    });
  });

  it("keeps the costliest groups and sums the rest", () => {
    const groups = [1, 5, 3].map((cost, i) => ({ key: `k${i}`, cost_usd: cost }) as never);
    expect(topGroups(groups, 2)).toEqual([
      { key: "k1", cost: 5 },
      { key: "k2", cost: 3 },
      { key: "other", cost: 1 },
    ]);
  });
});

describe("alerts", () => {
  const alert = (id: string, last: string, extra: Partial<Alert> = {}): Alert => ({
    id,
    kind: "oom_killed",
    severity: "critical",
    first_at: last,
    last_at: last,
    count: 1,
    entity: "pod/agents/p",
    summary: "",
    trace_id: null,
    task_id: null,
    link: "",
    ...extra,
  });
  it("merges by id, newest first", () => {
    const merged = mergeAlerts([alert("a", "2026-01-01T00:00:01Z")], [alert("a", "2026-01-01T00:00:05Z"), alert("b", "2026-01-01T00:00:03Z")]);
    expect(merged.map((a) => [a.id, a.last_at])).toEqual([
      ["a", "2026-01-01T00:00:05Z"],
      ["b", "2026-01-01T00:00:03Z"],
    ]);
  });
  it("links to the alert's link, trace, task or entity", () => {
    expect(alertHref(alert("a", "", { link: "/traces/abc" }))).toBe("/traces/abc");
    expect(alertHref(alert("a", "", { link: "https://evil.example" , trace_id: "t1" }))).toBe("/traces/t1");
    expect(alertHref(alert("a", "", { task_id: "task 1" }))).toBe("/tasks/task%201");
    expect(alertHref(alert("a", ""))).toBe("/infra?entity=pod%2Fagents%2Fp");
  });
});

describe("time axis and formats", () => {
  it("maps times to positions and back, and steps between snapshots", () => {
    expect(position(150, 100, 200)).toBe(0.5);
    expect(position(999, 100, 200)).toBe(1);
    expect(timeAt(0.25, 100, 200)).toBe(125);
    expect(neighbour([10, 20, 30], 20, -1)).toBe(10);
    expect(neighbour([10, 20, 30], 20, 1)).toBe(30);
    expect(neighbour([10, 20, 30], 30, 1)).toBeNull();
  });
  it("formats money and durations for a glance", () => {
    expect(formatUsd(2.849)).toBe("$2.85");
    expect(formatUsd(0.0012)).toBe("$0.0012");
    expect(formatDuration(0.5)).toBe("500 µs");
    expect(formatDuration(1500)).toBe("1.50 s");
    expect(formatDuration(185_000)).toBe("3m 05s");
  });
});
