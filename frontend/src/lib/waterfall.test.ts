import { describe, expect, it } from "vitest";
import type { ApiSpan, InfraEventJson } from "@/api/types";
import {
  buildTree,
  criticalPath,
  eventMarks,
  isProblem,
  labelRows,
  relatedEvents,
  serviceColour,
  ticks,
  traceAxis,
  visibleRows,
} from "@/lib/waterfall";

function span(id: string, parent: string | null, startMs: number, durationMs: number, extra: Partial<ApiSpan> = {}): ApiSpan {
  return {
    trace_id: "t".repeat(32),
    span_id: id,
    parent_span_id: parent,
    name: `span ${id}`,
    kind: "INTERNAL",
    service_name: "svc",
    start_time: "",
    end_time: "",
    start_time_unix_nano: startMs * 1e6,
    duration_ms: durationMs,
    status: { code: "UNSET", message: "" },
    attributes: {},
    resource: { attributes: {} },
    scope: { name: "", version: "" },
    events: [],
    links: [],
    agent_name: null,
    agent_source: null,
    agent_from: null,
    conversation_id: null,
    tool_name: null,
    handoff: null,
    provider: null,
    model: null,
    tokens: { input: null, output: null, cache_read: null, cache_creation: null, reasoning: null },
    cost_usd: null,
    rate_limited: false,
    k8s: { pod_name: null, namespace: null },
    task_id: null,
    ...extra,
  };
}

const spans = [
  span("root", null, 0, 100),
  span("b", "root", 50, 50),
  span("a", "root", 0, 40),
  span("a1", "a", 10, 20),
  span("lost", "never-arrived", 5, 5),
];

describe("buildTree", () => {
  it("links children by start time and marks orphans", () => {
    const tree = buildTree(spans);
    expect(tree.roots.map((n) => n.span.span_id)).toEqual(["root", "lost"]);
    expect(tree.byId.get("root")!.children.map((n) => n.span.span_id)).toEqual(["a", "b"]);
    expect(tree.byId.get("a1")!.depth).toBe(2);
    expect(tree.byId.get("lost")!.orphan).toBe(true);
    expect([tree.startMs, tree.endMs]).toEqual([0, 100]);
  });

  it("handles a 5,000-deep chain without overflowing the stack", () => {
    const chain = Array.from({ length: 5000 }, (_, i) => span(`s${i}`, i ? `s${i - 1}` : null, i, 1));
    const tree = buildTree(chain);
    expect(visibleRows(tree, new Set())).toHaveLength(5000);
    expect(tree.byId.get("s4999")!.depth).toBe(4999);
  });
});

describe("visibleRows", () => {
  it("walks depth first and hides the descendants of collapsed spans", () => {
    const tree = buildTree(spans);
    expect(visibleRows(tree, new Set()).map((n) => n.span.span_id)).toEqual(["root", "a", "a1", "b", "lost"]);
    expect(visibleRows(tree, new Set(["a"])).map((n) => n.span.span_id)).toEqual(["root", "a", "b", "lost"]);
  });
});

describe("criticalPath", () => {
  it("follows the last-finishing child, then what finished before it started", () => {
    const path = criticalPath(buildTree(spans));
    expect([...path].sort()).toEqual(["a", "a1", "b", "root"]);
  });

  it("skips a child that overlaps the later one", () => {
    const overlapping = [span("r", null, 0, 100), span("late", "r", 60, 40), span("overlap", "r", 30, 50)];
    expect([...criticalPath(buildTree(overlapping))].sort()).toEqual(["late", "r"]);
  });
});

describe("relatedEvents", () => {
  const event = (entity: string, t: number, attributes = {}): InfraEventJson => ({
    event_id: `${entity}@${t}`,
    time: "",
    time_unix_nano: t * 1e6,
    source: "k8s",
    kind: "oom_killed",
    entity,
    severity: "error",
    summary: "",
    attributes,
  });
  it("keeps events on the trace's pods and partitions of its consumer group, in its window", () => {
    const traced = [
      span("x", null, 1000, 100, { k8s: { pod_name: "p1", namespace: "agents" } }),
      span("y", "x", 1010, 10, {
        attributes: {
          "messaging.destination.name": "tool-responses",
          "messaging.destination.partition.id": "3",
          "messaging.kafka.consumer.group": "research-agents",
        },
      }),
    ];
    const found = relatedEvents(
      traced,
      [
        event("pod/agents/p1", 1050),
        event("pod/agents/p2", 1050),
        event("pod/agents/p1", 1000 - 3_600_000),
        event("partition/tool-responses/3", 1020, { "messaging.kafka.consumer.group": "research-agents" }),
        event("partition/tool-responses/3", 1021, { "messaging.kafka.consumer.group": "billing" }),
      ],
      1000,
      1100,
    );
    expect(found.map((e) => e.event_id)).toEqual(["pod/agents/p1@1050", "partition/tool-responses/3@1020"]);
  });
});

describe("helpers", () => {
  it("gives each service a stable colour", () => {
    expect(serviceColour("research-agent")).toBe(serviceColour("research-agent"));
    expect(serviceColour(null)).toMatch(/^#/);
  });
  it("picks round ticks", () => {
    expect(ticks(1000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
  });
});

describe("labelRows", () => {
  it("moves a label down a row when it would touch the one before", () => {
    expect(labelRows([0.1, 0.12, 0.5, 0.96, 0.97, 0.98], 0.04)).toEqual([0, 1, 0, 0, 1, 2]);
  });
});

describe("event marks", () => {
  const ev = (id: string, kind: string, t: number, severity: InfraEventJson["severity"] = "warning"): InfraEventJson => ({
    event_id: id,
    time: "",
    time_unix_nano: t * 1e6,
    source: "k8s",
    kind,
    entity: "e",
    severity,
    summary: "",
    attributes: {},
  });
  it("merges close events of one kind and leaves out those off the axis", () => {
    const marks = eventMarks(
      [ev("a", "consumer_status_changed", 100), ev("b", "consumer_status_changed", 101), ev("c", "oom_killed", 101), ev("d", "lag_spike", 5000)],
      0,
      1000,
    );
    expect(marks.map((m) => [m.event.event_id, m.count])).toEqual([
      ["a", 2],
      ["c", 1],
    ]);
  });
  it("draws problems, not informational events, by default", () => {
    expect(isProblem(ev("a", "pod_ready", 0, "info"))).toBe(false);
    expect(isProblem(ev("a", "oom_killed", 0, "error"))).toBe(true);
  });
  it("widens the axis to a problem just after the trace, not to one long after", () => {
    const tree = buildTree([span("r", null, 0, 10_000)]);
    const axis = traceAxis(tree, [ev("oom", "oom_killed", 12_000), ev("late", "oom_killed", 3_600_000)]);
    expect(axis.start).toBe(0);
    expect(axis.end).toBeCloseTo(12_000 * 1.04);
  });
});
