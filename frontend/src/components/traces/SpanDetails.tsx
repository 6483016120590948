import type { ApiSpan, InfraEventJson } from "@/api/types";
import { Badge } from "@/components/layout/Badge";
import { formatClock, formatCount, formatDuration, formatUsd } from "@/lib/format";
import { severityTone } from "@/lib/severity";
import { isError, spanStartMs } from "@/lib/waterfall";

/** An attribute value (or an item of an array one) as text. */
function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The selected span: attributes, reasoning (as text), tokens, cost, correlated events. */
export function SpanDetails({ span, events, onClose }: { span: ApiSpan; events: InfraEventJson[]; onClose: () => void }) {
  const reasoning = span.attributes["oracle.agent.reasoning"];
  const planned = span.attributes["oracle.agent.tools_planned"];
  const start = spanStartMs(span);
  const end = start + span.duration_ms;
  // The server says which spans an event touches; without that, those around the span.
  const near = events.filter((e) => {
    if (e.span_ids) return e.span_ids.includes(span.span_id);
    const t = e.time_unix_nano / 1e6;
    return t >= start - 5000 && t <= end + 5000;
  });
  const tokens = span.tokens ?? {};
  return (
    <aside className="glass scroll-thin flex w-full flex-col gap-3 overflow-y-auto p-4 text-sm lg:w-[420px]" data-testid="span-details">
      <div className="flex items-start justify-between gap-2">
        <div className="min-w-0">
          <h3 className="break-words font-semibold text-slate-100">{span.name}</h3>
          <div className="font-mono text-[11px] text-slate-500">{span.span_id}</div>
        </div>
        <button type="button" className="btn" onClick={onClose} aria-label="close details">
          ✕
        </button>
      </div>
      <div className="flex flex-wrap gap-1.5">
        <Badge tone={isError(span) ? "bad" : "ok"}>{span.status.code}</Badge>
        <Badge tone="info">{span.kind}</Badge>
        {span.service_name ? <Badge tone="idle">{span.service_name}</Badge> : null}
      </div>
      {span.status.message ? <p className="text-rose-200">{span.status.message}</p> : null}
      <dl className="grid grid-cols-2 gap-x-3 gap-y-1 text-xs">
        <dt className="text-slate-500">start</dt>
        <dd className="font-mono">{formatClock(start, true)}</dd>
        <dt className="text-slate-500">duration</dt>
        <dd>{formatDuration(span.duration_ms)}</dd>
        {span.agent_name ? (
          <>
            <dt className="text-slate-500">agent</dt>
            <dd data-testid="span-agent">
              {span.agent_name}
              {span.agent_source === "ancestor" ? (
                <span className="text-slate-500" title={`named by span ${span.agent_from ?? ""}`}>
                  {" "}
                  (from the span above)
                </span>
              ) : null}
            </dd>
          </>
        ) : null}
        {span.tool_name ? (
          <>
            <dt className="text-slate-500">tool</dt>
            <dd>{span.tool_name}</dd>
          </>
        ) : null}
        {span.handoff ? (
          <>
            <dt className="text-slate-500">handoff</dt>
            <dd>
              {span.handoff.from ?? span.agent_name ?? "?"} → {span.handoff.to ?? "?"}
            </dd>
          </>
        ) : null}
        {span.conversation_id ? (
          <>
            <dt className="text-slate-500">conversation</dt>
            <dd className="truncate font-mono">{span.conversation_id}</dd>
          </>
        ) : null}
        {span.model ? (
          <>
            <dt className="text-slate-500">model</dt>
            <dd>
              {span.provider}/{span.model}
            </dd>
          </>
        ) : null}
        {tokens.input !== null || tokens.output !== null ? (
          <>
            <dt className="text-slate-500">tokens</dt>
            <dd className="tabular-nums">
              in {formatCount(tokens.input)} · cached {formatCount(tokens.cache_read ?? 0)} · out {formatCount(tokens.output)}
              {tokens.reasoning ? ` · reasoning ${formatCount(tokens.reasoning)}` : ""}
            </dd>
          </>
        ) : null}
        {span.cost_usd !== null ? (
          <>
            <dt className="text-slate-500">cost</dt>
            <dd>{formatUsd(span.cost_usd)}</dd>
          </>
        ) : null}
        {span.k8s?.pod_name ? (
          <>
            <dt className="text-slate-500">pod</dt>
            <dd className="truncate font-mono">{span.k8s.pod_name}</dd>
          </>
        ) : null}
      </dl>
      {reasoning !== undefined ? (
        <section>
          <h4 className="mb-1 text-xs uppercase tracking-wider text-slate-400">Reasoning</h4>
          {/* Agent text is data, never markup. */}
          <p className="whitespace-pre-wrap rounded-lg bg-white/[0.04] p-2 text-slate-200" data-testid="span-reasoning">
            {text(reasoning)}
          </p>
          {Array.isArray(planned) ? <p className="mt-1 text-xs text-slate-400">tools planned: {planned.map(text).join(", ")}</p> : null}
        </section>
      ) : null}
      {near.length ? (
        <section>
          <h4 className="mb-1 text-xs uppercase tracking-wider text-slate-400">Correlated events</h4>
          <ul className="flex flex-col gap-1 text-xs">
            {near.map((e) => (
              <li key={e.event_id} className="flex items-start gap-2">
                <Badge tone={severityTone(e.severity)}>{e.kind}</Badge>
                <span className="min-w-0">
                  <span className="block text-slate-200">{e.summary}</span>
                  <span className="block font-mono text-[11px] text-slate-500">
                    {formatClock(e.time_unix_nano / 1e6)} · {e.entity}
                  </span>
                </span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {span.events.length ? (
        <section>
          <h4 className="mb-1 text-xs uppercase tracking-wider text-slate-400">Span events</h4>
          <ul className="flex flex-col gap-1 text-xs">
            {span.events.map((e, i) => (
              <li key={i}>
                <span className="text-slate-200">{e.name}</span>{" "}
                <span className="text-slate-400">{Object.entries(e.attributes ?? {}).map(([k, v]) => `${k}=${text(v)}`).join(" ")}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section>
        <h4 className="mb-1 text-xs uppercase tracking-wider text-slate-400">Attributes</h4>
        <table className="w-full table-fixed text-xs" data-testid="span-attributes">
          <tbody>
            {Object.entries({ ...span.attributes, ...Object.fromEntries(Object.entries(span.resource?.attributes ?? {}).map(([k, v]) => [`resource.${k}`, v])) }).map(([key, value]) => (
              <tr key={key} className="border-t border-white/5 align-top">
                <td className="w-2/5 break-all py-0.5 pr-2 font-mono text-slate-400">{key}</td>
                <td className="break-all py-0.5 font-mono text-slate-200">{text(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </aside>
  );
}
