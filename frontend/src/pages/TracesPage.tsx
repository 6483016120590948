import { useMemo, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import type { TraceSummary } from "@/api/types";
import { useApi } from "@/api/useApi";
import { Badge } from "@/components/layout/Badge";
import { Panel } from "@/components/layout/Panel";
import { Empty, ErrorState, Loading } from "@/components/layout/States";
import { formatClock, formatCount, formatDuration, parseTime, toRfc3339 } from "@/lib/format";

const RANGES: Record<string, number | null> = { "15m": 15 * 60_000, "1h": 3600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, all: null };
const FIELDS = ["service", "agent", "status", "range", "q"] as const;

/** Whether a trace summary matches free text (trace id, root span, services, agents). */
export function matchesText(trace: TraceSummary, text: string): boolean {
  const needle = text.trim().toLowerCase();
  if (!needle) return true;
  return [trace.trace_id, trace.root_name ?? "", trace.root_service ?? "", ...trace.services, ...trace.agents]
    .some((value) => value.toLowerCase().includes(needle));
}

/** Search traces by service, agent, status, time range and text; every filter in the URL. */
export function TracesPage() {
  const [params, setParams] = useSearchParams();
  const [draft, setDraft] = useState(() => Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? (f === "range" ? "all" : "")])));
  const range = RANGES[params.get("range") ?? "all"] ?? null;
  const start = useMemo(() => (range ? toRfc3339(Date.now() - range) : null), [range, params]);
  const found = useApi<{ traces: TraceSummary[] }>("/traces", {
    service: params.get("service"),
    agent: params.get("agent"),
    status: params.get("status"),
    start,
    limit: 200,
  });
  const text = params.get("q") ?? "";
  const traces = (found.data?.traces ?? []).filter((t) => matchesText(t, text));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const f of FIELDS) if (draft[f] && !(f === "range" && draft[f] === "all")) next.set(f, draft[f]);
    setParams(next);
  };
  const input = "rounded-lg border border-white/10 bg-white/5 px-2 py-1 text-sm text-slate-100 placeholder:text-slate-500";
  return (
    <div className="flex flex-col gap-4" data-testid="traces-page">
      <form className="glass flex flex-wrap items-end gap-3 px-4 py-3" onSubmit={submit} role="search">
        {(["service", "agent"] as const).map((f) => (
          <label key={f} className="flex flex-col gap-1 text-xs text-slate-400">
            {f}
            <input className={input} name={f} value={draft[f]} onChange={(e) => setDraft({ ...draft, [f]: e.target.value })} placeholder="any" />
          </label>
        ))}
        <label className="flex flex-col gap-1 text-xs text-slate-400">
          status
          <select className={input} name="status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
            <option value="">any</option>
            <option value="ok">ok</option>
            <option value="error">error</option>
          </select>
        </label>
        <label className="flex flex-col gap-1 text-xs text-slate-400">
          started
          <select className={input} name="range" value={draft.range} onChange={(e) => setDraft({ ...draft, range: e.target.value })}>
            <option value="15m">last 15 min</option>
            <option value="1h">last hour</option>
            <option value="24h">last 24 h</option>
            <option value="7d">last 7 days</option>
            <option value="all">any time</option>
          </select>
        </label>
        <label className="flex flex-1 flex-col gap-1 text-xs text-slate-400">
          text
          <input className={input} name="q" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} placeholder="trace id, span name, agent…" />
        </label>
        <button type="submit" className="btn py-1">
          Search
        </button>
      </form>
      <Panel title="Traces" aside={found.data ? `${traces.length} shown` : undefined} testId="trace-list">
        {found.error ? (
          <ErrorState error={found.error} what="traces" />
        ) : !found.data ? (
          <Loading what="Searching" />
        ) : traces.length === 0 ? (
          <Empty>No trace matches. Widen the time range or clear a filter.</Empty>
        ) : (
          <table className="w-full text-sm">
            <thead className="text-left text-xs text-slate-500">
              <tr>
                <th className="font-normal">root span</th>
                <th className="font-normal">services · agents</th>
                <th className="font-normal">started (UTC)</th>
                <th className="text-right font-normal">duration</th>
                <th className="text-right font-normal">spans</th>
                <th className="text-right font-normal">tokens</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {traces.map((t) => (
                <tr key={t.trace_id} className="border-t border-white/5 hover:bg-white/[0.03]" data-testid="trace-row" data-trace-id={t.trace_id}>
                  <td className="py-1.5">
                    <Link to={`/traces/${t.trace_id}`} className="text-sky-300 hover:underline">
                      {t.root_name ?? "(root missing)"}
                    </Link>
                    <div className="font-mono text-[11px] text-slate-500">{t.trace_id}</div>
                  </td>
                  <td className="text-xs text-slate-300">
                    {t.services.join(", ")}
                    {t.agents.length ? <span className="text-slate-500"> · {t.agents.join(", ")}</span> : null}
                  </td>
                  <td className="font-mono text-xs text-slate-300">{formatClock(parseTime(t.start_time), true)}</td>
                  <td className="text-right tabular-nums">{formatDuration(t.duration_ms)}</td>
                  <td className="text-right tabular-nums">{formatCount(t.span_count)}</td>
                  <td className="text-right tabular-nums">{formatCount(t.total_tokens)}</td>
                  <td className="pl-2 text-right">{t.has_error ? <Badge tone="bad">{t.error_count} err</Badge> : <Badge tone="ok">ok</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}
