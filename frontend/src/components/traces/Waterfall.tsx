import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useMemo, useRef, useState } from "react";
import type { InfraEventJson } from "@/api/types";
import { formatDuration } from "@/lib/format";
import { severityTone, TONE_HEX } from "@/lib/severity";
import {
  criticalPath,
  eventMarks,
  isProblem,
  labelRows,
  serviceColour,
  ticks,
  traceAxis,
  visibleRows,
  type SpanNode,
  type SpanTree,
} from "@/lib/waterfall";

const ROW = 28;
/** Labels of event marks (the title has the whole story). */
const SHORT: Record<string, string> = {
  oom_killed: "OOM",
  rate_limit_burst: "429",
  quota_exhausted: "quota",
  lag_spike: "lag",
  consumer_status_changed: "consumer",
  pod_rescheduled: "resched",
  pod_not_ready: "not ready",
  crash_loop: "crash loop",
  dlq_growth: "DLQ",
};
const NAME_WIDTH = "34%";

const Row = memo(function Row({
  node,
  start,
  duration,
  collapsed,
  critical,
  selected,
  onToggle,
  onSelect,
}: {
  node: SpanNode;
  start: number;
  duration: number;
  collapsed: boolean;
  critical: boolean;
  selected: boolean;
  onToggle: (id: string) => void;
  onSelect: (id: string) => void;
}) {
  const left = duration ? ((node.startMs - start) / duration) * 100 : 0;
  const width = duration ? Math.max(0.15, ((node.endMs - node.startMs) / duration) * 100) : 100;
  const colour = serviceColour(node.span.service_name);
  return (
    <div
      className={`flex h-full cursor-pointer items-center border-b border-white/[0.03] text-xs ${selected ? "bg-sky-400/10" : "hover:bg-white/[0.04]"}`}
      onClick={() => onSelect(node.span.span_id)}
      data-testid="span-row"
      data-span-id={node.span.span_id}
      data-error={node.error || undefined}
      data-critical={critical || undefined}
    >
      <div className="flex min-w-0 items-center gap-1 pr-2" style={{ width: NAME_WIDTH, paddingLeft: 6 + Math.min(node.depth, 30) * 14 }}>
        {node.children.length ? (
          <button
            type="button"
            className="w-4 shrink-0 text-slate-400 hover:text-slate-100"
            aria-label={collapsed ? "expand" : "collapse"}
            onClick={(e) => {
              e.stopPropagation();
              onToggle(node.span.span_id);
            }}
          >
            {collapsed ? "▸" : "▾"}
          </button>
        ) : (
          <span className="w-4 shrink-0" />
        )}
        <span className="h-2.5 w-1 shrink-0 rounded-sm" style={{ background: colour }} />
        {node.error ? <span className="shrink-0 text-rose-400" title="error">●</span> : null}
        <span className={`truncate ${node.error ? "text-rose-200" : "text-slate-200"}`} title={node.span.name}>
          {node.span.name}
        </span>
        <span className="ml-1 truncate text-[10px] text-slate-500">{node.span.service_name}</span>
      </div>
      <div className="relative h-full flex-1">
        <div
          className={`absolute top-1/2 h-3 -translate-y-1/2 rounded-sm ${critical ? "ring-1 ring-amber-300/80" : ""}`}
          style={{ left: `${left}%`, width: `${width}%`, background: node.error ? "#f43f5e" : colour, opacity: critical ? 0.95 : 0.6 }}
        />
        <span
          className="absolute top-1/2 -translate-y-1/2 whitespace-nowrap pl-1 text-[10px] text-slate-400"
          style={left + width > 82 ? { right: `${100 - left + 0.5}%` } : { left: `${left + width}%` }}
        >
          {formatDuration(node.endMs - node.startMs)}
        </span>
      </div>
    </div>
  );
});

/** The span tree with time bars; collapsible, virtualised, events drawn at their instants. */
export function Waterfall({
  tree,
  events,
  selected,
  onSelect,
}: {
  tree: SpanTree;
  events: InfraEventJson[];
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const critical = useMemo(() => criticalPath(tree), [tree]);
  const [allEvents, setAllEvents] = useState(false);
  const problems = useMemo(() => events.filter(isProblem), [events]);
  const shown = allEvents ? events : problems;
  const { start, end } = useMemo(() => traceAxis(tree, shown), [tree, shown]);
  const duration = end - start;
  const marks = useMemo(() => eventMarks(shown, start, duration), [shown, start, duration]);
  const MAX_LABEL_ROWS = 3;
  const rowsOfMarks = labelRows(marks.map((m) => m.at), 0.07);
  const labelHeight = 15 * Math.min(MAX_LABEL_ROWS, Math.max(1, ...rowsOfMarks.map((r) => r + 1)));
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 8,
  });
  const toggle = useCallback(
    (id: string) =>
      setCollapsed((old) => {
        const next = new Set(old);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        return next;
      }),
    [],
  );
  const pos = (t: number) => `${duration ? ((t - start) / duration) * 100 : 0}%`;
  return (
    <div className="glass flex min-h-0 flex-1 flex-col overflow-hidden" data-testid="waterfall" data-rows={rows.length}>
      <div className="flex shrink-0 items-end border-b border-white/10 text-[10px] text-slate-500" style={{ height: 24 + labelHeight }}>
        <div className="flex flex-col gap-1 px-2 pb-1" style={{ width: NAME_WIDTH }}>
          <span>
            {rows.length} of {tree.byId.size} spans · critical path outlined
          </span>
          {events.length > problems.length ? (
            <label className="flex cursor-pointer items-center gap-1">
              <input type="checkbox" checked={allEvents} onChange={(e) => setAllEvents(e.target.checked)} data-testid="all-events" />
              also the {events.length - problems.length} informational events
            </label>
          ) : null}
        </div>
        <div className="relative h-full flex-1">
          {ticks(duration).map((t) => (
            <span key={t} className="absolute bottom-1 -translate-x-1/2" style={{ left: pos(start + t) }}>
              {formatDuration(t)}
            </span>
          ))}
          {marks.map((m, i) => {
            const e = m.event;
            const label = SHORT[e.kind] ?? e.kind.split("_")[0];
            const hidden = rowsOfMarks[i] >= MAX_LABEL_ROWS; // a tick only; the title says what
            return (
              <span
                key={e.event_id}
                className={`absolute whitespace-nowrap rounded px-1 text-[10px] font-semibold text-slate-950 ${m.at > 0.88 ? "-translate-x-full" : "-translate-x-1/2"}`}
                style={{
                  top: 3 + Math.min(rowsOfMarks[i], MAX_LABEL_ROWS - 1) * 15,
                  left: `${m.at * 100}%`,
                  background: TONE_HEX[severityTone(e.severity)],
                  ...(hidden ? { width: 3, padding: 0, height: 12 } : {}),
                }}
                title={`${e.kind}${m.count > 1 ? ` ×${m.count}` : ""} · ${e.entity} · ${e.summary}`}
                data-testid="event-mark"
                data-kind={e.kind}
              >
                {hidden ? null : m.count > 1 ? `${label} ×${m.count}` : label}
              </span>
            );
          })}
        </div>
      </div>
      <div className="relative min-h-0 flex-1">
        <div className="pointer-events-none absolute inset-y-0 right-0 z-10" style={{ left: NAME_WIDTH }}>
          {marks.map((m) => (
            <div
              key={m.event.event_id}
              className="absolute inset-y-0 w-px"
              style={{ left: `${m.at * 100}%`, background: TONE_HEX[severityTone(m.event.severity)], opacity: 0.7 }}
            />
          ))}
        </div>
        <div ref={scroller} className="scroll-thin fast-scroll absolute inset-0 overflow-y-auto" data-testid="waterfall-scroll">
          <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
            {virtual.getVirtualItems().map((item) => {
              const node = rows[item.index];
              return (
                <div key={node.span.span_id} style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW, transform: `translateY(${item.start}px)` }}>
                  <Row
                    node={node}
                    start={start}
                    duration={duration}
                    collapsed={collapsed.has(node.span.span_id)}
                    critical={critical.has(node.span.span_id)}
                    selected={selected === node.span.span_id}
                    onToggle={toggle}
                    onSelect={onSelect}
                  />
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </div>
  );
}
