import { Link } from "react-router";
import type { Alert } from "@/api/types";
import { Badge } from "@/components/layout/Badge";
import { Panel } from "@/components/layout/Panel";
import { Empty } from "@/components/layout/States";
import { formatClock, parseTime } from "@/lib/format";
import { severityTone } from "@/lib/severity";
import { alertHref } from "@/lib/snapshot";

/** The newest alerts, each a link to its trace, task or entity. */
export function AlertTicker({ alerts }: { alerts: Alert[] }) {
  return (
    <Panel title="Alerts" aside={`${alerts.length}`} testId="alert-ticker">
      {alerts.length === 0 ? (
        <Empty>No alerts. All quiet.</Empty>
      ) : (
        <ul className="scroll-thin flex max-h-80 flex-col gap-1.5 overflow-y-auto pr-1">
          {alerts.slice(0, 50).map((alert) => (
            <li key={alert.id} className="ticker-in">
              <Link
                to={alertHref(alert)}
                className="flex items-start gap-2 rounded-lg px-2 py-1.5 text-xs hover:bg-white/5"
                data-testid="alert-item"
                data-kind={alert.kind}
              >
                <Badge tone={severityTone(alert.severity)}>{alert.kind.replaceAll("_", " ")}</Badge>
                <span className="min-w-0 flex-1">
                  <span className="block truncate text-slate-200">{alert.summary}</span>
                  <span className="block truncate font-mono text-[11px] text-slate-500">
                    {formatClock(parseTime(alert.last_at))} · {alert.entity}
                    {alert.count > 1 ? ` · ×${alert.count}` : ""}
                  </span>
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
