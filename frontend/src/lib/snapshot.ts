/** Data helpers over system snapshots (pure): what each Overview panel shows. */

import type { AgentView, Alert, OracleState, Pod, StoredSnapshot, UsageGroup } from "@/api/types";
import { fillTone, type Tone } from "@/lib/severity";

export interface PodMarks {
  oomKilled: boolean;
  crashLoop: boolean;
  tone: Tone;
  label: string;
}

/** A pod's health at a glance: OOM-kill and crash-loop marks, and the tone they mean. */
export function podMarks(pod: Pod): PodMarks {
  const reasons = [pod.reason, pod.last_termination_reason].filter(Boolean).join(" ");
  const oomKilled = /OOMKilled/i.test(reasons);
  const crashLoop = /CrashLoop/i.test(reasons);
  const failed = pod.phase === "Failed" || pod.phase === "Unknown";
  let tone: Tone = pod.ready ? "ok" : pod.phase === "Succeeded" ? "idle" : "warn";
  if (oomKilled || crashLoop || failed) tone = "bad";
  const worst = Math.max(pod.memory_bytes.usage_of_limit ?? 0, pod.cpu_cores.usage_of_limit ?? 0);
  if (tone === "ok" && fillTone(worst) !== "ok") tone = fillTone(worst);
  const label = crashLoop
    ? "CrashLoopBackOff"
    : oomKilled && !pod.ready
      ? "OOMKilled"
      : pod.ready
        ? "Ready"
        : pod.reason || pod.phase;
  return { oomKilled, crashLoop, tone, label };
}

/** The pod an agent runs in: by the agent's pod name, else a pod labelled with the agent. */
export function podOfAgent(state: OracleState, agent: AgentView): Pod | undefined {
  const pods = state.kubernetes.pods;
  return (
    (agent.pod ? pods.find((p) => p.name === agent.pod) : undefined) ??
    pods.find((p) => p.agent === agent.name)
  );
}

/** Agents ordered for the grid: errors first, then running, then idle; by name within. */
export function sortAgents(agents: AgentView[]): AgentView[] {
  const rank = { error: 0, running: 1, idle: 2 } as const;
  return [...agents].sort((a, b) => rank[a.status] - rank[b.status] || a.name.localeCompare(b.name));
}

export interface LagPoint {
  t: number;
  [series: string]: number;
}

/** Per consumer group over time: lag in messages (`<group>`) and its worst partition's lag in
 * seconds (`<group>:s`), one point per snapshot, oldest first. */
export function groupLagSeries(series: StoredSnapshot[]): { points: LagPoint[]; groups: string[] } {
  const groups = new Set<string>();
  const points = series.map(({ timestamp_unix_nano, snapshot }) => {
    const point: LagPoint = { t: Math.floor(timestamp_unix_nano / 1e6) };
    for (const [name, group] of Object.entries(snapshot.kafka.groups)) {
      groups.add(name);
      point[name] = group.lag;
      point[`${name}:s`] = Math.max(0, ...group.partitions.map((p) => p.lag_seconds ?? 0));
    }
    return point;
  });
  return { points, groups: [...groups].sort() };
}

/** Per topic throughput (messages per second) over time, oldest first. */
export function topicThroughputSeries(series: StoredSnapshot[]): {
  points: LagPoint[];
  topics: string[];
} {
  const topics = new Set<string>();
  const points = series.map(({ timestamp_unix_nano, snapshot }) => {
    const point: LagPoint = { t: Math.floor(timestamp_unix_nano / 1e6) };
    for (const [name, topic] of Object.entries(snapshot.kafka.topics)) {
      topics.add(name);
      point[name] = topic.throughput_msgs_per_s;
    }
    return point;
  });
  return { points, topics: [...topics].sort() };
}

/** A group's worst lag in seconds now (over its partitions), or null when unknown. */
export function groupLagSeconds(group: { partitions: { lag_seconds: number | null }[] }): number | null {
  const known = group.partitions.map((p) => p.lag_seconds).filter((s): s is number => s !== null);
  return known.length ? Math.max(...known) : null;
}

export interface TokenKinds {
  input: number;
  cached: number;
  output: number;
  reasoning: number;
}

/** Tokens by kind; "input" excludes the cached part. */
export function tokenKinds(usage: {
  input_tokens: number;
  cache_read_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
}): TokenKinds {
  return {
    input: Math.max(0, usage.input_tokens - usage.cache_read_tokens),
    cached: usage.cache_read_tokens,
    output: usage.output_tokens,
    reasoning: usage.reasoning_tokens,
  };
}

/** Cost groups costliest first, at most `limit`, the rest summed into "other". */
export function topGroups(groups: UsageGroup[], limit = 6): { key: string; cost: number }[] {
  const sorted = [...groups].sort((a, b) => b.cost_usd - a.cost_usd);
  const top = sorted.slice(0, limit).map((g) => ({ key: g.key ?? "(none)", cost: g.cost_usd }));
  const rest = sorted.slice(limit).reduce((sum, g) => sum + g.cost_usd, 0);
  if (rest > 0) top.push({ key: "other", cost: rest });
  return top;
}

/** Alerts newest first, the live ones merged over the snapshot's, one per id. */
export function mergeAlerts(...lists: Alert[][]): Alert[] {
  const byId = new Map<string, Alert>();
  for (const list of lists) {
    for (const alert of list) {
      const known = byId.get(alert.id);
      if (!known || known.last_at <= alert.last_at) byId.set(alert.id, alert);
    }
  }
  return [...byId.values()].sort((a, b) => Date.parse(b.last_at) - Date.parse(a.last_at));
}

/** Where an alert leads in the dashboard: its link, else its trace, task or entity. */
export function alertHref(alert: Alert): string {
  if (alert.link && alert.link.startsWith("/")) return alert.link;
  if (alert.trace_id) return `/traces/${alert.trace_id}`;
  if (alert.task_id) return `/tasks/${encodeURIComponent(alert.task_id)}`;
  return `/infra?entity=${encodeURIComponent(alert.entity)}`;
}
