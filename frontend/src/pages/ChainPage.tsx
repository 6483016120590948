import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { getJaeger } from "@/api/client";
import type { CausalChain } from "@/api/types";
import { useApi } from "@/api/useApi";
import { ChainStory } from "@/components/chain/ChainStory";
import { Panel } from "@/components/layout/Panel";
import { Empty, ErrorState, Loading } from "@/components/layout/States";

const HOUR_US = 3600 * 1_000_000;

/** For a task's chain: which trace each evidence span is in (a task may span traces), found
 * through the Jaeger API's tag search on `oracle.task.id`; empty when that fails. */
function useTaskTraces(taskId: string | null, chain: CausalChain | undefined): Record<string, string> {
  const [found, setFound] = useState<Record<string, string>>({});
  useEffect(() => {
    if (!taskId || !chain || chain.chain.length === 0) return;
    const controller = new AbortController();
    const times = chain.chain.map((link) => Date.parse(link.at) * 1000);
    getJaeger<{ data: { traceID: string; spans: { spanID: string }[] }[] }>(
      "/traces",
      {
        tags: JSON.stringify({ "oracle.task.id": taskId }),
        start: Math.min(...times) - HOUR_US,
        end: Math.max(...times) + HOUR_US,
        limit: 50,
      },
      controller.signal,
    )
      .then((body) => {
        const map: Record<string, string> = {};
        for (const trace of body.data) for (const span of trace.spans) map[span.spanID] = trace.traceID;
        setFound(map);
      })
      .catch(() => setFound({}));
    return () => controller.abort();
  }, [taskId, chain]);
  return found;
}

/** Why a trace or task failed: `/traces/<id>/chain` or `/tasks/<task id>`. */
export function ChainPage() {
  const { traceId, taskId } = useParams();
  const path = traceId
    ? `/traces/${encodeURIComponent(traceId)}/causal-chain`
    : `/tasks/${encodeURIComponent(taskId ?? "")}/causal-chain`;
  const chain = useApi<CausalChain>(path);
  const what = traceId ? `trace ${traceId}` : `task ${taskId}`;
  const traceOf = useTaskTraces(taskId && chain.data ? taskId : null, chain.data);
  return (
    <div className="flex flex-col gap-4" data-testid="chain-page">
      <div className="glass flex flex-wrap items-center gap-3 px-4 py-2.5 text-sm">
        {traceId ? (
          <Link to={`/traces/${traceId}`} className="text-slate-400 hover:text-slate-200">
            ← Waterfall
          </Link>
        ) : (
          <Link to="/" className="text-slate-400 hover:text-slate-200">
            ← Overview
          </Link>
        )}
        <h1 className="font-semibold text-slate-100">Causal chain</h1>
        <span className="font-mono text-xs text-slate-500">{what}</span>
      </div>
      {chain.error ? (
        <ErrorState error={chain.error} what={what} />
      ) : !chain.data ? (
        <Loading what="Building the causal chain" />
      ) : (
        <Panel title="What happened" testId="chain-panel">
          <p className="mb-4 text-base text-slate-100" data-testid="chain-summary">
            {chain.data.summary}
          </p>
          {chain.data.chain.length === 0 ? (
            <Empty>Nothing went wrong: the chain is empty.</Empty>
          ) : (
            <ChainStory chain={chain.data} traceId={traceId} traceOf={traceOf} />
          )}
        </Panel>
      )}
    </div>
  );
}
