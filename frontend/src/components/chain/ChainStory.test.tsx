import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it } from "vitest";
import type { CausalChain, ChainLink } from "@/api/types";
import { ChainStory } from "@/components/chain/ChainStory";

afterEach(cleanup);

const link = (kind: string, at: string, caused_by: number | null, spans: string[] = [], events: string[] = []): ChainLink => ({
  kind,
  at,
  last_at: at,
  count: 1,
  entity: `x/${kind}`,
  summary: `${kind} happened`,
  evidence: { span_ids: spans, event_ids: events, metrics: { figure: 3 } },
  caused_by,
  rule: caused_by === null ? null : "child_of",
});

describe("ChainStory", () => {
  const spans = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(15, "0")}`);
  const chain: CausalChain = {
    root_cause: link("kafka_lag_spike", "2026-11-27T07:20:20Z", null),
    chain: [link("kafka_lag_spike", "2026-11-27T07:20:20Z", null, [], ["e1"]), link("task_orphaned", "2026-11-27T07:21:00Z", 0, spans)],
    summary: "",
  };

  it("tells the links in order, the root cause marked, evidence linked to the waterfall", () => {
    render(
      <MemoryRouter>
        <ChainStory chain={chain} traceId={"a".repeat(32)} />
      </MemoryRouter>,
    );
    const items = screen.getAllByTestId("chain-link-item");
    expect(items.map((i) => i.dataset.kind)).toEqual(["kafka_lag_spike", "task_orphaned"]);
    expect(items[0].textContent).toContain("root cause");
    expect(items[1].textContent).not.toContain("root cause");
    expect(items[1].textContent).toContain("caused by #1");
    expect(screen.getAllByTestId("evidence-span")[0].getAttribute("href")).toBe(`/traces/${"a".repeat(32)}?span=${spans[0]}`);
    expect(screen.getByTestId("evidence-event").getAttribute("href")).toContain("event=e1");
  });

  it("shows a dozen pieces of evidence, the rest on demand", () => {
    render(
      <MemoryRouter>
        <ChainStory chain={chain} traceId={"a".repeat(32)} />
      </MemoryRouter>,
    );
    expect(screen.getAllByTestId("evidence-span")).toHaveLength(12);
    fireEvent.click(screen.getByRole("button", { name: "+8 more" }));
    expect(screen.getAllByTestId("evidence-span")).toHaveLength(20);
  });

  it("shows how many times a folded step happened and until when", () => {
    const retry = { ...link("retry", "2026-11-27T07:20:30Z", 0), count: 5, last_at: "2026-11-27T07:21:41Z" };
    render(
      <MemoryRouter>
        <ChainStory chain={{ ...chain, chain: [chain.chain[0], retry] }} />
      </MemoryRouter>,
    );
    expect(screen.getByTestId("chain-link-count").textContent).toBe("×5 until 07:21:41");
  });
});
