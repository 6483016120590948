import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { OracleState, UsageCounts, UsageGroup } from "@/api/types";
import { CostTracker } from "@/components/overview/CostTracker";

afterEach(cleanup);

function counts(cost: number, input = 0): UsageCounts {
  return {
    requests: 1, rate_limited: 0, errors: 0, input_tokens: input, output_tokens: 0,
    cache_read_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, cost_usd: cost,
    unpriced_requests: 0,
  };
}

function group(key: string | null, cost: number): UsageGroup {
  return { key, ...counts(cost) };
}

const health = { status: "ok", detail: "", since_ns: 0 };
const state = {
  timestamp: "2026-12-06T12:00:00Z",
  kubernetes: { health, metrics_available: false, pods: [] },
  kafka: { health, broker: null, polled_at_ns: null, groups: {}, topics: {} },
  llm_usage: {
    health,
    window_seconds: 300,
    totals: counts(0.75),
    by_agent: [group("planner", 0.5), group("writer", 0.125), group(null, 0.125)],
    by_model: [group("gpt-4o-mini", 0.75)],
    by_provider: [group("openai", 0.75)],
    cost_last_hour_usd: 1.5,
    to_date: counts(3.25),
    polled_at_ns: Date.UTC(2026, 11, 6, 11, 59, 58) * 1e6,
    budget_usd_per_hour: null,
    rate_limit_bursts: [],
  },
  agents: [],
  alerts: [],
} as unknown as OracleState;

describe("CostTracker", () => {
  it("shows one set of numbers, each saying what it covers", () => {
    render(<CostTracker state={state} series={[]} instantMs={0} live={false} />);
    expect(screen.getByTestId("cost-to-date").textContent).toBe("$3.25");
    expect(screen.getByTestId("cost-total").textContent).toBe("$0.75");
    // The agents' share of the window leaves out the calls no agent made.
    expect(screen.getByTestId("cost-agents").textContent).toBe("$0.63");
    expect(screen.getByText("total to date")).toBeTruthy();
    expect(screen.getByText("last 5 min")).toBeTruthy();
    expect(screen.getByText("agents, last 5 min")).toBeTruthy();
    expect(screen.getByText("per agent, last 5 min")).toBeTruthy();
    expect(screen.getByText("all figures as of 2026-12-06 11:59:58")).toBeTruthy();
    expect(screen.queryByTestId("cost-running-total")).toBeNull();
  });
});
