import { memo } from "react";
import { Link } from "react-router";
import type { AgentView, OracleState, Pod } from "@/api/types";
import { Badge, Dot } from "@/components/layout/Badge";
import { Panel } from "@/components/layout/Panel";
import { Empty } from "@/components/layout/States";
import { formatCount, formatUsd } from "@/lib/format";
import { agentTone } from "@/lib/severity";
import { podMarks, podOfAgent, sortAgents } from "@/lib/snapshot";

/** One agent: status, task, reasoning (as text), tools, tokens, cost, errors, its pod. */
export const AgentCard = memo(function AgentCard({ agent, pod }: { agent: AgentView; pod?: Pod }) {
  const tone = agentTone(agent.status);
  const marks = pod ? podMarks(pod) : null;
  return (
    <article
      className={`glass flex min-w-0 flex-col gap-2 p-3 ${agent.status === "error" ? "border-rose-500/40" : ""}`}
      data-testid="agent-card"
      data-agent={agent.name}
      data-status={agent.status}
    >
      <div className="flex items-center justify-between gap-2">
        <h3 className="truncate font-semibold text-slate-100">{agent.name}</h3>
        <Badge tone={tone}>
          <Dot tone={tone} pulse={agent.status === "running"} />
          {agent.status}
        </Badge>
      </div>
      <div className="truncate text-xs text-slate-400">
        task{" "}
        {agent.current_task ? (
          <Link className="font-mono text-sky-300 hover:underline" to={`/tasks/${encodeURIComponent(agent.current_task)}`}>
            {agent.current_task}
          </Link>
        ) : agent.current_trace ? (
          <Link className="font-mono text-sky-300 hover:underline" to={`/traces/${encodeURIComponent(agent.current_trace)}`} title="the trace of its latest span">
            trace {agent.current_trace.slice(0, 8)}…
          </Link>
        ) : (
          <span>—</span>
        )}
      </div>
      {/* Agent text is data, never markup: rendered as a text node. */}
      <p className="line-clamp-3 min-h-[3.75em] text-sm leading-snug text-slate-300" data-testid="agent-reasoning">
        {agent.last_reasoning ?? <span className="text-slate-500">no reasoning recorded</span>}
      </p>
      <div className="flex min-h-6 flex-wrap gap-1">
        {agent.tools_planned.map((tool) => (
          <span key={tool} className="rounded-md bg-indigo-400/10 px-1.5 py-0.5 font-mono text-[11px] text-indigo-200">
            {tool}
          </span>
        ))}
      </div>
      <dl className="grid grid-cols-4 gap-1 text-xs">
        <div>
          <dt className="text-slate-500">in</dt>
          <dd className="tabular-nums text-slate-200">{formatCount(agent.tokens.input)}</dd>
        </div>
        <div>
          <dt className="text-slate-500">out</dt>
          <dd className="tabular-nums text-slate-200">{formatCount(agent.tokens.output)}</dd>
        </div>
        <div>
          <dt className="text-slate-500">cost</dt>
          <dd className="tabular-nums text-slate-200">{formatUsd(agent.cost_usd)}</dd>
        </div>
        <div>
          <dt className="text-slate-500">errors</dt>
          <dd className={`tabular-nums ${agent.errors ? "text-rose-300" : "text-slate-200"}`}>{agent.errors}</dd>
        </div>
      </dl>
      <div className="flex items-center gap-2 truncate border-t border-white/5 pt-2 text-xs text-slate-400" data-testid="agent-pod">
        {marks ? <Dot tone={marks.tone} /> : <Dot tone="idle" />}
        <span className="truncate font-mono">{agent.pod ?? "no pod"}</span>
        {marks ? <span className="ml-auto shrink-0">{marks.label}</span> : null}
      </div>
    </article>
  );
});

export function AgentGrid({ state }: { state: OracleState }) {
  const agents = sortAgents(state.agents);
  return (
    <Panel title="Agents" aside={`${agents.length} seen in the last 5 min`} testId="agent-grid">
      {agents.length === 0 ? (
        <Empty>No agent has sent spans in the last five minutes.</Empty>
      ) : (
        <div className="grid grid-cols-[repeat(auto-fill,minmax(240px,1fr))] gap-3">
          {agents.map((agent) => (
            <AgentCard key={agent.name} agent={agent} pod={podOfAgent(state, agent)} />
          ))}
        </div>
      )}
    </Panel>
  );
}
