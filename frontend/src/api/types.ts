/** The shapes of the REST API and the live stream.
 *
 * Generated, not written by hand: `schema.ts` is made by openapi-typescript from the server's
 * OpenAPI document (`openapi.json`, what `/api/openapi.json` serves); `make api-types`
 * regenerates both. The names below are the components' names the dashboard uses. Only the
 * live stream (`WS /api/v1/live`, not HTTP) is described here, from the same parts.
 */
import type { components } from "./schema";

type Schemas = components["schemas"];

// The snapshot and its parts (`schema/oracle_state.schema.json`).
export type OracleState = Schemas["OracleState"];
export type Health = Schemas["OracleStateHealth"];
export type ResourceUse = Schemas["OracleStateResourceUse"];
export type Pod = Schemas["OracleStatePod"];
export type KafkaStatus = Schemas["OracleStateKafkaStatus"];
export type PartitionLag = Schemas["OracleStatePartitionLag"];
export type ConsumerGroup = Schemas["OracleStateConsumerGroup"];
export type Topic = Schemas["OracleStateTopic"];
export type UsageCounts = Schemas["OracleStateUsageCounts"];
export type UsageGroup = Schemas["OracleStateUsageGroup"];
export type AgentView = Schemas["OracleStateAgent"];
export type Alert = Schemas["OracleStateAlert"];

// `GET /api/v1/snapshots…`, `/agents`, `/alerts`.
export type StoredSnapshot = Schemas["StoredSnapshot"];
export type SnapshotSeries = Schemas["SnapshotSeries"];
export type AgentsAnswer = Schemas["AgentsAnswer"];
export type AlertList = Schemas["AlertList"];

// `GET /api/v1/traces`, `/traces/{id}`, `/events`.
export type AttributeValue = Schemas["AttributeValue"];
export type SpanEvent = Schemas["SpanEventJson"];
export type ApiSpan = Schemas["ApiSpan"];
/** An infrastructure event; those correlated with a trace also say which spans they touch
 * and how (`CorrelatedEvent`). */
export type InfraEventJson = Schemas["InfraEventJson"] &
  Partial<Pick<Schemas["CorrelatedEvent"], "span_ids" | "via">>;
export type CorrelatedEvent = Schemas["CorrelatedEvent"];
export type TraceDetail = Schemas["TraceDetail"];
export type TraceSummary = Schemas["TraceSummary"];
export type TraceList = Schemas["TraceList"];
export type EventList = Schemas["EventList"];

// `GET /api/v1/…/causal-chain`.
export type ChainLink = Schemas["ChainLink"];
export type CausalChain = Schemas["CausalChain"];

// `GET /api/v1/costs`, `/infra`, `/health`.
export type CostGroupJson = Schemas["CostGroup"];
export type CostsAnswer = Schemas["CostsAnswer"];
export type InfraAnswer = Schemas["InfraAnswer"];
export type HealthAnswer = Schemas["HealthAnswer"];

/** A message of `WS /api/v1/live`. */
export type LiveMessage =
  | { type: "hello"; server_time: string; version: string }
  | { type: "snapshot"; timestamp: string; timestamp_unix_nano: number; snapshot: OracleState }
  | { type: "alert"; alert: Alert }
  | { type: "event"; event: InfraEventJson };
