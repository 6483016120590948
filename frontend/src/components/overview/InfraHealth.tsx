import type { OracleState, Pod, ResourceUse } from "@/api/types";
import { Badge, Dot } from "@/components/layout/Badge";
import { Panel } from "@/components/layout/Panel";
import { Empty } from "@/components/layout/States";
import { formatBytes, formatPercent } from "@/lib/format";
import { fillTone, healthTone, TONE_DOT } from "@/lib/severity";
import { podMarks } from "@/lib/snapshot";

function Gauge({ label, use, format }: { label: string; use: ResourceUse; format: (v: number) => string }) {
  const ratio = use.usage_of_limit;
  const tone = fillTone(ratio);
  const width = `${Math.min(100, Math.round((ratio ?? 0) * 100))}%`;
  const text =
    use.usage === null ? "no metrics" : `${format(use.usage)}${use.limit !== null ? ` / ${format(use.limit)}` : ""}`;
  return (
    <div className="min-w-0" title={`${label}: ${text} (${formatPercent(ratio)} of limit)`}>
      <div className="flex justify-between text-[11px] text-slate-400">
        <span>{label}</span>
        <span className="tabular-nums">{text}</span>
      </div>
      <div className="mt-0.5 h-1.5 overflow-hidden rounded-full bg-white/5">
        <div className={`h-full rounded-full ${TONE_DOT[tone]}`} style={{ width }} />
      </div>
    </div>
  );
}

const cores = (v: number) => (v < 1 ? `${Math.round(v * 1000)}m` : v.toFixed(2));

function PodRow({ pod }: { pod: Pod }) {
  const marks = podMarks(pod);
  return (
    <li className="grid grid-cols-[minmax(0,1.3fr)_1fr_1fr_auto] items-center gap-3 py-2" data-testid="pod-row" data-pod={pod.name}>
      <div className="min-w-0">
        <div className="flex items-center gap-2">
          <Dot tone={marks.tone} />
          <span className="truncate font-mono text-xs text-slate-200">{pod.name}</span>
        </div>
        <div className="truncate pl-4 text-[11px] text-slate-500">
          {pod.namespace}
          {pod.agent ? ` · ${pod.agent}` : ""}
          {pod.node ? ` · ${pod.node}` : ""}
        </div>
      </div>
      <Gauge label="CPU" use={pod.cpu_cores} format={cores} />
      <Gauge label="Memory" use={pod.memory_bytes} format={formatBytes} />
      <div className="flex items-center gap-1">
        {marks.oomKilled ? (
          <Badge tone="bad" title="last terminated: OOMKilled">
            OOM
          </Badge>
        ) : null}
        {marks.crashLoop ? <Badge tone="bad">CrashLoop</Badge> : null}
        <Badge tone={pod.restarts ? "warn" : "idle"} title="restarts">
          ↻ {pod.restarts}
        </Badge>
      </div>
    </li>
  );
}

/** Per pod CPU and memory against limits, restarts, OOM-kill and crash-loop marks. */
export function InfraHealth({ state }: { state: OracleState }) {
  const { health, pods, metrics_available } = state.kubernetes;
  const sorted = [...pods].sort((a, b) => {
    const rank = { bad: 0, warn: 1, ok: 2, idle: 3, info: 3 } as const;
    return rank[podMarks(a).tone] - rank[podMarks(b).tone] || a.name.localeCompare(b.name);
  });
  return (
    <Panel
      title="Infrastructure"
      testId="infra-health"
      aside={
        <span className="flex items-center gap-1.5">
          <Dot tone={healthTone(health.status)} /> kubernetes {health.status}
          {health.status === "ok" && !metrics_available ? " · no metrics" : ""}
        </span>
      }
    >
      {pods.length === 0 ? (
        <Empty>{health.status === "stopped" ? "The Kubernetes collector is not configured (--kubeconfig)." : "No pods."}</Empty>
      ) : (
        <ul className="scroll-thin max-h-96 divide-y divide-white/5 overflow-y-auto pr-1">
          {sorted.map((pod) => (
            <PodRow key={pod.uid || pod.name} pod={pod} />
          ))}
        </ul>
      )}
    </Panel>
  );
}
