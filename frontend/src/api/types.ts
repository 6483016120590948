/** The shapes of the REST API and the live stream (see the server's README and schema). */

export interface Health {
  status: "starting" | "ok" | "degraded" | "unreachable" | "stopped";
  detail: string;
  since_ns: number;
}

export interface ResourceUse {
  usage: number | null;
  request: number | null;
  limit: number | null;
  usage_of_request: number | null;
  usage_of_limit: number | null;
}

export interface Pod {
  namespace: string;
  name: string;
  uid: string;
  phase: string;
  reason: string | null;
  ready: boolean;
  restarts: number;
  last_termination_reason: string | null;
  node: string | null;
  owner: { kind: string; name: string } | null;
  agent: string | null;
  cpu_cores: ResourceUse;
  memory_bytes: ResourceUse;
}

export type KafkaStatus = "OK" | "WARN" | "STALL" | "STOP" | "ERR";

export interface PartitionLag {
  topic: string;
  partition: number;
  committed_offset: number;
  log_end_offset: number;
  lag: number;
  lag_seconds: number | null;
  lag_seconds_from: "message" | "history" | null;
  lag_clamped: boolean;
  status: KafkaStatus;
}

export interface ConsumerGroup {
  status: KafkaStatus;
  state: string | null;
  members: { member_id: string; client_id: string; host: string }[];
  error: string | null;
  lag: number;
  lag_clamped: boolean;
  partitions: PartitionLag[];
}

export interface Topic {
  end_offsets: Record<string, number>;
  throughput_msgs_per_s: number;
  is_dlq: boolean;
  dlq_depth: number | null;
}

export interface UsageCounts {
  requests: number;
  rate_limited: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
  unpriced_requests: number;
}

export interface UsageGroup extends UsageCounts {
  key: string | null;
}

export interface AgentView {
  name: string;
  id: string | null;
  status: "running" | "idle" | "error";
  current_task: string | null;
  /** The trace of its latest span (absent in older snapshots). */
  current_trace?: string | null;
  last_reasoning: string | null;
  tools_planned: string[];
  tokens: { input: number; output: number };
  cost_usd: number;
  errors: number;
  pod: string | null;
  last_seen_ns: number;
}

export interface Alert {
  id: string;
  kind: string;
  severity: "critical" | "warning" | "info";
  first_at: string;
  last_at: string;
  count: number;
  entity: string;
  summary: string;
  trace_id: string | null;
  task_id: string | null;
  link: string | null;
}

export interface OracleState {
  timestamp: string;
  kubernetes: { health: Health; metrics_available: boolean; pods: Pod[] };
  kafka: {
    health: Health;
    broker: string | null;
    polled_at_ns: number | null;
    groups: Record<string, ConsumerGroup>;
    topics: Record<string, Topic>;
  };
  llm_usage: {
    health: Health;
    window_seconds: number | null;
    totals: UsageCounts;
    by_agent: UsageGroup[];
    by_model: UsageGroup[];
    by_provider: UsageGroup[];
    cost_last_hour_usd: number;
    /** Every call up to `polled_at_ns`, read with the window and the hour (absent in
     * snapshots taken before it existed). */
    to_date?: UsageCounts;
    polled_at_ns?: number | null;
    budget_usd_per_hour: number | null;
    rate_limit_bursts: string[];
  };
  agents: AgentView[];
  alerts: Alert[];
}

export interface StoredSnapshot {
  timestamp_unix_nano: number;
  snapshot: OracleState;
}

export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };

export interface SpanEvent {
  name: string;
  time?: string;
  time_unix_nano?: number;
  attributes?: Record<string, AttributeValue>;
}

export interface ApiSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: string;
  service_name: string | null;
  start_time: string;
  end_time: string;
  start_time_unix_nano: number;
  duration_ms: number;
  status: { code: string; message: string };
  attributes: Record<string, AttributeValue>;
  resource: { attributes: Record<string, AttributeValue> };
  events: SpanEvent[];
  agent_name: string | null;
  /** Where the agent name comes from: the span's own attribute, its resource, or an
   * ancestor span (`agent_from`), by trace hierarchy. */
  agent_source?: "attribute" | "resource" | "ancestor" | null;
  agent_from?: string | null;
  conversation_id?: string | null;
  tool_name?: string | null;
  handoff?: { from: string | null; to: string | null } | null;
  provider: string | null;
  model: string | null;
  tokens: {
    input: number | null;
    output: number | null;
    cache_read: number | null;
    cache_creation: number | null;
    reasoning: number | null;
  };
  cost_usd: number | null;
  rate_limited?: boolean | null;
  k8s: { pod_name: string | null; namespace: string | null };
  task_id: string | null;
}

export interface InfraEventJson {
  event_id: string;
  time: string;
  time_unix_nano: number;
  source: string;
  kind: string;
  entity: string;
  severity: string;
  summary: string;
  attributes: Record<string, AttributeValue>;
  /** In a trace's correlated events: the spans it touches and how (pod, kafka, llm). */
  span_ids?: string[];
  via?: string[];
}

export interface TraceDetail {
  trace_id: string;
  spans: ApiSpan[];
  events?: InfraEventJson[];
}

export interface TraceSummary {
  trace_id: string;
  root_name?: string | null;
  root_service?: string | null;
  services: string[];
  agents: string[];
  start_time: string;
  duration_ms: number;
  span_count: number;
  error_count: number;
  has_error: boolean;
  total_tokens: number | null;
}

export interface ChainLink {
  kind: string;
  at: string;
  /** Repeats of this kind on this entity are one link: how many, and the last one's time. */
  count?: number;
  last_at?: string;
  entity: string;
  summary: string;
  evidence: { span_ids: string[]; event_ids: string[]; metrics: Record<string, AttributeValue> };
  caused_by: number | null;
  rule: string | null;
}

export interface CausalChain {
  root_cause: ChainLink | null;
  chain: ChainLink[];
  summary: string;
}

export type LiveMessage =
  | { type: "hello"; server_time: string; version: string }
  | { type: "snapshot"; timestamp: string; timestamp_unix_nano: number; snapshot: OracleState }
  | { type: "alert"; alert: Alert }
  | { type: "event"; event: InfraEventJson };

/** One group (or the total) of `GET /api/v1/costs`. */
export interface CostGroupJson {
  key: string | null;
  requests: number;
  rate_limited: number;
  errors: number;
  tokens: { input: number; output: number; cache_read: number; cache_creation: number; reasoning: number };
  cost_usd: number;
  unpriced_requests: number;
}

export interface CostsAnswer {
  group_by: "agent" | "model" | "provider";
  start: string | null;
  end: string | null;
  groups: CostGroupJson[];
  total: CostGroupJson;
}
