import { useState } from "react";
import { Link } from "react-router";
import type { CausalChain } from "@/api/types";
import { Badge } from "@/components/layout/Badge";
import { formatClock, parseTime } from "@/lib/format";
import type { Tone } from "@/lib/severity";

const KIND_TONE: Record<string, Tone> = {
  oom_killed: "bad",
  task_orphaned: "bad",
  task_failed: "bad",
  crash_loop: "bad",
  llm_quota_exhausted: "bad",
  kafka_lag_spike: "warn",
  agent_timeout: "warn",
  retry: "info",
  llm_rate_limited: "warn",
  pod_rescheduled: "info",
};

/** The chain as a vertical story: time, entity, summary, evidence linking spans and events. */
const MAX_CHIPS = 12;

/** Whether `link` is the chain's root cause (the API names it; else the first link). */
function isRoot(chain: CausalChain, index: number): boolean {
  const root = chain.root_cause;
  if (!root) return index === 0;
  const link = chain.chain[index];
  return link.kind === root.kind && link.at === root.at && link.entity === root.entity;
}

export function ChainStory({
  chain,
  traceId,
  traceOf = {},
}: {
  chain: CausalChain;
  /** The trace the chain is of (its spans link into its waterfall). */
  traceId?: string;
  /** For a task's chain: span id → its trace. */
  traceOf?: Record<string, string>;
}) {
  const [expanded, setExpanded] = useState<Set<number>>(() => new Set());
  return (
    <ol className="relative ml-3 flex flex-col gap-4 border-l border-white/10 pl-6" data-testid="chain">
      {chain.chain.map((link, index) => {
        const root = isRoot(chain, index);
        const chips = link.evidence.span_ids.length + link.evidence.event_ids.length;
        const open = expanded.has(index) || chips <= MAX_CHIPS;
        const spanIds = open ? link.evidence.span_ids : link.evidence.span_ids.slice(0, MAX_CHIPS);
        const eventIds = open ? link.evidence.event_ids : link.evidence.event_ids.slice(0, Math.max(0, MAX_CHIPS - spanIds.length));
        return (
          <li key={index} className="relative" data-testid="chain-link-item" data-kind={link.kind}>
            <span
              className={`absolute -left-[31px] top-3 h-3 w-3 rounded-full border-2 border-slate-900 ${root ? "bg-rose-500" : link.caused_by === null ? "bg-amber-400" : "bg-sky-400"}`}
            />
            <div className="glass p-3">
              <div className="flex flex-wrap items-center gap-2 text-xs">
                <span className="font-mono text-slate-400">{formatClock(parseTime(link.at), true)}</span>
                <Badge tone={KIND_TONE[link.kind] ?? "info"}>{link.kind.replaceAll("_", " ")}</Badge>
                {link.count && link.count > 1 ? (
                  <span className="text-slate-400" data-testid="chain-link-count" title={`${link.count} times, the last at ${link.last_at ?? link.at}`}>
                    ×{link.count}
                    {link.last_at ? ` until ${formatClock(parseTime(link.last_at), false)}` : ""}
                  </span>
                ) : null}
                {root ? <Badge tone="bad">root cause</Badge> : null}
                <span className="font-mono text-slate-300">{link.entity}</span>
                {link.caused_by !== null ? (
                  <span className="text-slate-500">
                    ← caused by #{link.caused_by + 1}
                    {link.rule ? ` (${link.rule.replaceAll("_", " ")})` : ""}
                  </span>
                ) : null}
              </div>
              <p className="mt-1 text-sm text-slate-100">{link.summary}</p>
              <div className="mt-2 flex flex-wrap gap-1.5 text-[11px]">
                {spanIds.map((id) =>
                  (traceId ?? traceOf[id]) ? (
                    <Link key={id} to={`/traces/${traceId ?? traceOf[id]}?span=${id}`} className="rounded bg-sky-400/10 px-1.5 py-0.5 font-mono text-sky-200 hover:bg-sky-400/20" data-testid="evidence-span">
                      span {id}
                    </Link>
                  ) : (
                    <span key={id} className="rounded bg-sky-400/10 px-1.5 py-0.5 font-mono text-sky-200">
                      span {id}
                    </span>
                  ),
                )}
                {eventIds.map((id) => (
                  <Link
                    key={id}
                    to={`/infra?entity=${encodeURIComponent(link.entity)}&event=${id}`}
                    className="rounded bg-amber-400/10 px-1.5 py-0.5 font-mono text-amber-200 hover:bg-amber-400/20"
                    data-testid="evidence-event"
                  >
                    event {id.slice(0, 8)}
                  </Link>
                ))}
                {!open ? (
                  <button
                    type="button"
                    className="rounded bg-white/5 px-1.5 py-0.5 text-slate-300 hover:bg-white/10"
                    onClick={() => setExpanded((old) => new Set(old).add(index))}
                  >
                    +{chips - spanIds.length - eventIds.length} more
                  </button>
                ) : null}
                {Object.entries(link.evidence.metrics).map(([key, value]) => (
                  <span key={key} className="rounded bg-white/5 px-1.5 py-0.5 font-mono text-slate-300">
                    {key}={typeof value === "string" ? value : JSON.stringify(value)}
                  </span>
                ))}
              </div>
            </div>
          </li>
        );
      })}
    </ol>
  );
}
