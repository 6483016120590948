import { cleanup, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it } from "vitest";
import type { AgentView } from "@/api/types";
import { AgentCard } from "@/components/overview/AgentGrid";

afterEach(cleanup);

const agent: AgentView = {
  name: "writer",
  id: null,
  status: "error",
  current_task: "task-77",
  last_reasoning: "Compare <img src=x onerror=alert(1)> then <b>write</b>",
  tools_planned: ["outline"],
  tokens: { input: 3200, output: 640 },
  cost_usd: 0.95,
  errors: 2,
  pod: "writer-0",
  last_seen_ns: 0,
};

describe("AgentCard", () => {
  it("shows agent reasoning as text, never as markup", () => {
    const { container } = render(
      <MemoryRouter>
        <AgentCard agent={agent} />
      </MemoryRouter>,
    );
    expect(screen.getByTestId("agent-reasoning").textContent).toBe(agent.last_reasoning);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
  });

  it("shows status, task link, tools, tokens, cost and errors", () => {
    render(
      <MemoryRouter>
        <AgentCard agent={agent} />
      </MemoryRouter>,
    );
    expect(screen.getByTestId("agent-card").dataset.status).toBe("error");
    expect(screen.getByRole("link", { name: "task-77" }).getAttribute("href")).toBe("/tasks/task-77");
    expect(screen.getByText("outline")).toBeTruthy();
    expect(screen.getByText("3,200")).toBeTruthy();
    expect(screen.getByText("$0.95")).toBeTruthy();
    expect(screen.getByText("2")).toBeTruthy();
  });

  it("links to its latest trace when no span names a task", () => {
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    render(
      <MemoryRouter>
        <AgentCard agent={{ ...agent, current_task: null, current_trace: trace }} />
      </MemoryRouter>,
    );
    expect(screen.getByRole("link", { name: "trace 4bf92f35…" }).getAttribute("href")).toBe(`/traces/${trace}`);
  });
});
