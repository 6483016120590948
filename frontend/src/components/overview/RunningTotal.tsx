import { useEffect, useRef, useState } from "react";
import type { CostsAnswer } from "@/api/types";
import { useApi } from "@/api/useApi";
import { formatUsd, toRfc3339 } from "@/lib/format";

const LIVE_REFRESH_MS = 10_000;

/** `value`, but while `throttled` it changes at most once every `ms` (the newest value wins). */
export function useThrottled<T>(value: T, ms: number, throttled: boolean): T {
  const [held, setHeld] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    const take = () => {
      last.current = Date.now();
      setHeld(value);
    };
    const wait = throttled ? last.current + ms - Date.now() : 0;
    if (wait <= 0) {
      take();
      return;
    }
    const timer = window.setTimeout(take, wait);
    return () => window.clearTimeout(timer);
  }, [value, ms, throttled]);
  return throttled ? held : value;
}

/** LLM cost since the beginning, as of the shown instant (`GET /costs?end=`): while live
 * it follows the snapshots at most every ten seconds. */
export function RunningTotal({ instantMs, live }: { instantMs: number; live: boolean }) {
  const end = useThrottled(toRfc3339(instantMs), LIVE_REFRESH_MS, live);
  const costs = useApi<CostsAnswer>("/costs", { group_by: "agent", end }, 0, true);
  let figure;
  if (costs.data) figure = formatUsd(costs.data.total.cost_usd);
  else if (costs.error) figure = <span className="text-base text-rose-300">unavailable</span>;
  else figure = <span className="text-slate-500">…</span>;
  return (
    <div title={costs.error ? `total: ${costs.error.message}` : `LLM cost up to ${end}`}>
      <div className="text-[11px] text-slate-500">total</div>
      <div
        className="text-2xl font-semibold tabular-nums text-slate-50"
        data-testid="cost-running-total"
        data-end={end}
        data-state={costs.loading ? "loading" : costs.error ? "error" : "ready"}
      >
        {figure}
      </div>
    </div>
  );
}
