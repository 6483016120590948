import { useCallback, useEffect, useMemo } from "react";
import { useSearchParams } from "react-router";
import { useLive } from "@/api/live";
import type { StoredSnapshot } from "@/api/types";
import { useApi } from "@/api/useApi";
import { Panel } from "@/components/layout/Panel";
import { Empty, ErrorState, Loading } from "@/components/layout/States";
import { AgentGrid } from "@/components/overview/AgentGrid";
import { AlertTicker } from "@/components/overview/AlertTicker";
import { CostTracker } from "@/components/overview/CostTracker";
import { InfraHealth } from "@/components/overview/InfraHealth";
import { MessageFlow } from "@/components/overview/MessageFlow";
import { Scrubber } from "@/components/timeline/Scrubber";
import { formatAgo, formatClock, toRfc3339 } from "@/lib/format";
import { mergeAlerts } from "@/lib/snapshot";

const HISTORY_MS = 10 * 60_000;
const HISTORY_STEP_S = 6;

/** The live system, or the system as it was at `?at=` (a scrubbed time). */
export function OverviewPage() {
  const [params, setParams] = useSearchParams();
  const atText = params.get("at");
  const at = atText ? Date.parse(atText) : null;
  const badAt = atText !== null && Number.isNaN(at);
  const live = useLive();
  const past = useApi<StoredSnapshot>(at !== null && !badAt ? "/snapshots/at" : null, { ts: atText ?? "" }, 0, true);
  const current = at === null ? live.latest : (past.data ?? null);

  // The charts' history: the ten minutes before the shown moment (refreshed while live).
  const ref = at ?? Math.floor(Date.now() / 10_000) * 10_000;
  const history = useApi<{ snapshots: StoredSnapshot[] }>(
    "/snapshots",
    { start: toRfc3339(ref - HISTORY_MS), end: at === null ? null : toRfc3339(ref), step: HISTORY_STEP_S },
    at === null ? 10_000 : 0,
    true,
  );
  const series = useMemo(() => {
    const stored = history.data?.snapshots ?? [];
    if (at !== null) return stored;
    const newest = stored.length ? stored[stored.length - 1].timestamp_unix_nano : 0;
    return [...stored, ...live.recent.filter((s) => s.timestamp_unix_nano > newest)];
  }, [history.data, live.recent, at]);

  const ready = Boolean(current);
  useEffect(() => {
    // For the browser tests' first-render figure (reported, not asserted).
    if (ready && performance.getEntriesByName("overview-rendered").length === 0) performance.mark("overview-rendered");
  }, [ready]);

  const onScrub = useCallback(
    (t: number | null, commit: boolean) => {
      setParams(
        (old) => {
          const next = new URLSearchParams(old);
          if (t === null) next.delete("at");
          else next.set("at", toRfc3339(t));
          return next;
        },
        { replace: !commit },
      );
    },
    [setParams],
  );

  let body;
  if (badAt) {
    body = <Empty>The time in the address ({atText}) is not an RFC 3339 time.</Empty>;
  } else if (at !== null && past.error) {
    body =
      past.error.status === 404 ? (
        <Panel title="Overview">
          <Empty>No snapshot was taken at or before {atText}. Drag the scrubber later, or go live.</Empty>
        </Panel>
      ) : (
        <ErrorState error={past.error} what="snapshot" />
      );
  } else if (!current) {
    body =
      at === null && live.empty ? (
        <Panel title="Overview">
          <Empty>No data yet: the first system snapshot is taken a few seconds after the server starts.</Empty>
        </Panel>
      ) : at === null && live.connection === "unreachable" ? (
        <Panel title="Overview">
          <Empty>Server unreachable — reconnecting automatically.</Empty>
        </Panel>
      ) : (
        <Loading what="Loading the system snapshot" />
      );
  } else {
    const state = current.snapshot;
    const alerts = at === null ? mergeAlerts(state.alerts, live.alerts) : state.alerts;
    const takenMs = current.timestamp_unix_nano / 1e6;
    body = (
      <div className="flex flex-col gap-4" data-testid="overview" data-snapshot-time={state.timestamp}>
        <div className="flex items-center gap-2 px-1 text-xs text-slate-400">
          {at === null ? "Live" : "As it was"} · snapshot {formatClock(takenMs, true)} UTC ({formatAgo(takenMs, Date.now())})
        </div>
        <AgentGrid state={state} />
        <div className="grid grid-cols-1 gap-4 xl:grid-cols-[minmax(0,1.2fr)_minmax(0,1fr)]">
          <InfraHealth state={state} />
          <MessageFlow state={state} series={series} />
        </div>
        <div className="grid grid-cols-1 gap-4 xl:grid-cols-[minmax(0,1fr)_minmax(0,1fr)]">
          <CostTracker state={state} series={series} instantMs={takenMs} live={at === null} />
          <AlertTicker alerts={alerts} />
        </div>
      </div>
    );
  }
  return (
    <>
      <Scrubber at={at !== null && !badAt ? at : null} onChange={onScrub} />
      {body}
    </>
  );
}
