import { useSearchParams } from "react-router";
import { useLive } from "@/api/live";
import type { InfraEventJson } from "@/api/types";
import { useApi } from "@/api/useApi";
import { Badge } from "@/components/layout/Badge";
import { Panel } from "@/components/layout/Panel";
import { Empty, ErrorState, Loading } from "@/components/layout/States";
import { formatClock } from "@/lib/format";
import { severityTone } from "@/lib/severity";

/** One entity's infrastructure events (`/infra?entity=pod/agents/research-0`). */
export function InfraPage() {
  const [params] = useSearchParams();
  const entity = params.get("entity");
  const highlighted = params.get("event");
  const found = useApi<{ events: InfraEventJson[] }>("/events", { entity, limit: 200 });
  const { latest } = useLive();
  const pod = entity?.startsWith("pod/") ? latest?.snapshot.kubernetes.pods.find((p) => `pod/${p.namespace}/${p.name}` === entity) : undefined;
  return (
    <div className="flex flex-col gap-4" data-testid="infra-page">
      <Panel title={entity ? `Events · ${entity}` : "Infrastructure events"} aside={pod ? `${pod.phase} · ↻ ${pod.restarts}` : undefined}>
        {found.error ? (
          <ErrorState error={found.error} what="events" />
        ) : !found.data ? (
          <Loading what="Loading events" />
        ) : found.data.events.length === 0 ? (
          <Empty>No events recorded{entity ? ` for ${entity}` : ""}.</Empty>
        ) : (
          <ul className="flex flex-col gap-1 text-sm">
            {found.data.events.map((e) => (
              <li
                key={e.event_id}
                className={`flex items-start gap-3 rounded-lg px-2 py-1.5 ${e.event_id === highlighted ? "bg-amber-400/10 ring-1 ring-amber-300/40" : ""}`}
                data-testid="event-row"
              >
                <span className="font-mono text-xs text-slate-400">{formatClock(e.time_unix_nano / 1e6, true)}</span>
                <Badge tone={severityTone(e.severity)}>{e.kind}</Badge>
                <span className="min-w-0 flex-1 text-slate-200">
                  {e.summary}
                  <span className="block font-mono text-[11px] text-slate-500">
                    {e.source} · {e.entity}
                  </span>
                </span>
              </li>
            ))}
          </ul>
        )}
      </Panel>
    </div>
  );
}
