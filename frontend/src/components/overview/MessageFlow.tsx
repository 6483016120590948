import type { OracleState, StoredSnapshot } from "@/api/types";
import { Badge, Dot } from "@/components/layout/Badge";
import { Panel } from "@/components/layout/Panel";
import { Empty } from "@/components/layout/States";
import { TimeChart } from "@/components/overview/LazyChart";
import { formatCount } from "@/lib/format";
import { seriesColour } from "@/lib/palette";
import { healthTone, kafkaTone } from "@/lib/severity";
import { groupLagSeconds, groupLagSeries, topicThroughputSeries } from "@/lib/snapshot";

function Legend({ names }: { names: string[] }) {
  return (
    <div className="mt-1 flex flex-wrap gap-x-3 gap-y-0.5 text-[11px] text-slate-400">
      {names.map((name, index) => (
        <span key={name} className="flex items-center gap-1 font-mono">
          <span className="h-0.5 w-3 rounded" style={{ background: seriesColour(index) }} />
          {name}
        </span>
      ))}
    </div>
  );
}

/** Per topic throughput and per group lag (messages and seconds) over time, group status. */
export function MessageFlow({ state, series }: { state: OracleState; series: StoredSnapshot[] }) {
  const { health, groups, topics } = state.kafka;
  const names = Object.keys(groups).sort();
  const lag = groupLagSeries(series);
  const flow = topicThroughputSeries(series);
  const seconds = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)}s`;
  return (
    <Panel
      title="Message flow"
      testId="message-flow"
      aside={
        <span className="flex items-center gap-1.5">
          <Dot tone={healthTone(health.status)} /> kafka {health.status}
        </span>
      }
    >
      {names.length === 0 && Object.keys(topics).length === 0 ? (
        <Empty>{health.status === "stopped" ? "The Kafka collector is not configured (--kafka-bootstrap)." : "No consumer groups yet."}</Empty>
      ) : (
        <div className="flex flex-col gap-3">
          <table className="w-full text-xs">
            <thead className="text-left text-slate-500">
              <tr>
                <th className="font-normal">group</th>
                <th className="font-normal">status</th>
                <th className="text-right font-normal">lag (msgs)</th>
                <th className="text-right font-normal">lag (s)</th>
              </tr>
            </thead>
            <tbody>
              {names.map((name) => {
                const group = groups[name];
                const lagSeconds = groupLagSeconds(group);
                return (
                  <tr key={name} className="border-t border-white/5" data-testid="group-row" data-group={name} data-status={group.status}>
                    <td className="py-1 font-mono text-slate-200">{name}</td>
                    <td>
                      <Badge tone={kafkaTone(group.status)}>{group.status}</Badge>
                    </td>
                    <td className="text-right tabular-nums text-slate-200">{formatCount(group.lag)}</td>
                    <td className="text-right tabular-nums text-slate-200">{lagSeconds === null ? "—" : seconds(lagSeconds)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {lag.points.length > 1 ? (
            <div className="grid grid-cols-1 gap-2 xl:grid-cols-2">
              <div>
                <div className="text-[11px] text-slate-500">lag, messages</div>
                <TimeChart label="consumer lag in messages" points={lag.points} keys={lag.groups.map((g) => ({ key: g, name: g }))} format={formatCount} />
              </div>
              <div>
                <div className="text-[11px] text-slate-500">lag, seconds</div>
                <TimeChart label="consumer lag in seconds" points={lag.points} keys={lag.groups.map((g) => ({ key: `${g}:s`, name: g }))} format={seconds} />
              </div>
              <div className="xl:col-span-2">
                <Legend names={lag.groups} />
              </div>
            </div>
          ) : null}
          {flow.points.length > 1 ? (
            <div>
              <div className="text-[11px] text-slate-500">throughput, messages/s per topic</div>
              <TimeChart label="topic throughput" points={flow.points} keys={flow.topics.map((t) => ({ key: t, name: t }))} height={110} format={(v) => v.toFixed(1)} />
              <Legend names={flow.topics} />
            </div>
          ) : null}
        </div>
      )}
    </Panel>
  );
}
