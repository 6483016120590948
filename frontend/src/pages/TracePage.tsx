import { useCallback, useMemo } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import type { InfraEventJson, TraceDetail } from "@/api/types";
import { useApi } from "@/api/useApi";
import { Badge } from "@/components/layout/Badge";
import { ErrorState, Loading } from "@/components/layout/States";
import { SpanDetails } from "@/components/traces/SpanDetails";
import { Waterfall } from "@/components/traces/Waterfall";
import { formatClock, formatDuration, toRfc3339 } from "@/lib/format";
import { buildTree, relatedEvents } from "@/lib/waterfall";

/** One trace: the waterfall, the selected span (`?span=`), its infrastructure events. */
export function TracePage() {
  const { traceId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const selected = params.get("span");
  const trace = useApi<TraceDetail>(`/traces/${encodeURIComponent(traceId)}`);
  const tree = useMemo(() => (trace.data ? buildTree(trace.data.spans) : null), [trace.data]);
  const serverEvents = trace.data?.events;
  // Until the server correlates events itself, take those of the trace's window and entities.
  const window = useApi<{ events: InfraEventJson[] }>(
    tree && serverEvents === undefined ? "/events" : null,
    tree ? { start: toRfc3339(tree.startMs - 30_000), end: toRfc3339(tree.endMs + 30_000), limit: 1000 } : {},
  );
  const events = useMemo(() => {
    if (!tree || !trace.data) return [];
    if (serverEvents !== undefined) return serverEvents;
    return relatedEvents(trace.data.spans, window.data?.events ?? [], tree.startMs, tree.endMs);
  }, [tree, trace.data, serverEvents, window.data]);
  const select = useCallback(
    (id: string | null) =>
      setParams(
        (old) => {
          const next = new URLSearchParams(old);
          if (id) next.set("span", id);
          else next.delete("span");
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );
  if (trace.error) return <ErrorState error={trace.error} what={`trace ${traceId}`} />;
  if (!trace.data || !tree) return <Loading what="Loading the trace" />;
  const span = selected ? tree.byId.get(selected)?.span : undefined;
  const errors = trace.data.spans.filter((s) => s.status.code === "ERROR").length;
  const root = tree.roots[0]?.span;
  return (
    <div className="flex h-[calc(100vh-6rem)] min-h-[480px] flex-col gap-3" data-testid="trace-page">
      <div className="glass flex flex-wrap items-center gap-3 px-4 py-2.5 text-sm">
        <Link to="/traces" className="text-slate-400 hover:text-slate-200">
          ← Traces
        </Link>
        <h1 className="font-semibold text-slate-100">{root?.name ?? "trace"}</h1>
        {tree.roots.some((n) => n.orphan) ? (
          <Badge tone="warn" title="a parent span never arrived (its process may have been killed)">
            parent span missing
          </Badge>
        ) : null}
        <span className="font-mono text-xs text-slate-500">{trace.data.trace_id}</span>
        <span className="text-xs text-slate-400">
          {formatClock(tree.startMs, true)} · {formatDuration(tree.endMs - tree.startMs)} · {trace.data.spans.length} spans
        </span>
        {errors ? <Badge tone="bad">{errors} errors</Badge> : <Badge tone="ok">no errors</Badge>}
        {events.length ? <Badge tone="warn">{events.length} infra events</Badge> : null}
        <Link to={`/traces/${trace.data.trace_id}/chain`} className="btn ml-auto" data-testid="chain-link">
          Causal chain →
        </Link>
      </div>
      <div className="flex min-h-0 flex-1 flex-col gap-3 lg:flex-row">
        <Waterfall tree={tree} events={events} selected={selected} onSelect={select} />
        {span ? <SpanDetails span={span} events={events} onClose={() => select(null)} /> : null}
      </div>
    </div>
  );
}
