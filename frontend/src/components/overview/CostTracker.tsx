import type { OracleState, StoredSnapshot } from "@/api/types";
import { Panel } from "@/components/layout/Panel";
import { TimeChart } from "@/components/overview/LazyChart";
import { RunningTotal } from "@/components/overview/RunningTotal";
import { formatClock, formatCount, formatUsd } from "@/lib/format";
import { tokenKinds, topGroups } from "@/lib/snapshot";

const KIND_COLOURS = { input: "bg-sky-400", cached: "bg-teal-300", output: "bg-violet-400", reasoning: "bg-pink-400" };

function Breakdown({ title, groups }: { title: string; groups: { key: string; cost: number }[] }) {
  const max = Math.max(...groups.map((g) => g.cost), 0);
  return (
    <div className="min-w-0">
      <div className="mb-1 text-[11px] text-slate-500">{title}</div>
      {groups.length === 0 ? <div className="text-xs text-slate-500">none</div> : null}
      <ul className="flex flex-col gap-1">
        {groups.map((g) => (
          <li key={g.key} className="text-xs" data-testid="cost-row">
            <div className="flex justify-between gap-2">
              <span className="truncate font-mono text-slate-300">{g.key}</span>
              <span className="tabular-nums text-slate-200">{formatUsd(g.cost)}</span>
            </div>
            <div className="h-1 rounded-full bg-white/5">
              <div className="h-full rounded-full bg-sky-400/70" style={{ width: `${max ? (g.cost / max) * 100 : 0}%` }} />
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The total to date, the last hour, the LLM window, the agents' share of it, per agent and
 * model, tokens by kind: one set of numbers, read by the LLM collector for one instant over
 * nested ranges, so no total is less than a part of it (snapshots from before the collector
 * kept a total to date fall back to `GET /costs` up to the shown instant). */
export function CostTracker({
  state,
  series,
  instantMs,
  live,
}: {
  state: OracleState;
  series: StoredSnapshot[];
  instantMs: number;
  live: boolean;
}) {
  const usage = state.llm_usage;
  const kinds = tokenKinds(usage.totals);
  const totalTokens = kinds.input + kinds.cached + kinds.output + kinds.reasoning;
  const agentsCost = usage.by_agent.reduce((sum, g) => sum + (g.key === null ? 0 : g.cost_usd), 0);
  const minutes = usage.window_seconds ? Math.round(usage.window_seconds / 60) : null;
  const windowName = minutes === null ? "window" : `last ${minutes} min`;
  const readAt = usage.polled_at_ns ? formatClock(usage.polled_at_ns / 1e6, true) : null;
  const perHour = usage.cost_last_hour_usd;
  const budget = usage.budget_usd_per_hour;
  const over = budget !== null && perHour > budget;
  const points = series.map((s) => ({ t: Math.floor(s.timestamp_unix_nano / 1e6), cost: s.snapshot.llm_usage.totals.cost_usd }));
  return (
    <Panel
      title="Cost"
      testId="cost-tracker"
      aside={readAt ? `all figures as of ${readAt}` : `llm ${usage.health.status}`}
    >
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-4">
        {usage.to_date ? (
          <div title={`every LLM call up to ${readAt ?? "the snapshot"}`}>
            <div className="text-[11px] text-slate-500">total to date</div>
            <div className="text-2xl font-semibold tabular-nums text-slate-50" data-testid="cost-to-date">
              {formatUsd(Math.max(usage.to_date.cost_usd, 0))}
            </div>
          </div>
        ) : (
          <RunningTotal instantMs={instantMs} live={live} />
        )}
        <div title={`LLM calls started in the ${windowName}`}>
          <div className="text-[11px] text-slate-500">{windowName}</div>
          <div className="text-2xl font-semibold tabular-nums text-slate-50" data-testid="cost-total">
            {formatUsd(Math.max(usage.totals.cost_usd, 0))}
          </div>
        </div>
        <div>
          <div className="text-[11px] text-slate-500">last hour</div>
          <div className={`text-2xl font-semibold tabular-nums ${over ? "text-rose-300" : "text-slate-50"}`}>
            {formatUsd(perHour)}
            <span className="text-sm text-slate-400">/h</span>
          </div>
          {budget !== null ? <div className="text-[11px] text-slate-500">budget {formatUsd(budget)}/h</div> : null}
        </div>
        <div title={`the calls of the ${windowName} made under a named agent`}>
          <div className="text-[11px] text-slate-500">agents, {windowName}</div>
          <div className="text-2xl font-semibold tabular-nums text-slate-50" data-testid="cost-agents">
            {formatUsd(agentsCost)}
          </div>
        </div>
      </div>
      <div className="mt-3">
        <div className="mb-1 flex justify-between text-[11px] text-slate-500">
          <span>tokens by kind, {windowName}</span>
          <span className="tabular-nums">{formatCount(totalTokens)}</span>
        </div>
        <div className="flex h-2 overflow-hidden rounded-full bg-white/5" data-testid="token-kinds">
          {(Object.keys(kinds) as (keyof typeof kinds)[]).map((kind) => (
            <div key={kind} className={KIND_COLOURS[kind]} style={{ width: `${totalTokens ? (kinds[kind] / totalTokens) * 100 : 0}%` }} />
          ))}
        </div>
        <div className="mt-1 flex flex-wrap gap-3 text-[11px] text-slate-400">
          {(Object.keys(kinds) as (keyof typeof kinds)[]).map((kind) => (
            <span key={kind} className="flex items-center gap-1">
              <span className={`h-2 w-2 rounded-sm ${KIND_COLOURS[kind]}`} />
              {kind} <span className="tabular-nums text-slate-300">{formatCount(kinds[kind])}</span>
            </span>
          ))}
        </div>
      </div>
      <div className="mt-3 grid grid-cols-2 gap-4">
        <Breakdown title={`per agent, ${windowName}`} groups={topGroups(usage.by_agent)} />
        <Breakdown title={`per model, ${windowName}`} groups={topGroups(usage.by_model)} />
      </div>
      {points.length > 1 ? (
        <div className="mt-3">
          <TimeChart label="LLM cost over time" points={points} keys={[{ key: "cost", name: "window cost" }]} height={90} format={formatUsd} />
        </div>
      ) : null}
    </Panel>
  );
}
