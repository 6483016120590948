-- Oracle Monitor on PostgreSQL, version 20261206000009: per agent and second of start time,
-- what the agents' views need of their spans, kept by the writers as they store spans and
-- attribute them by hierarchy, so that the snapshot loop reads what changed since its last
-- round rather than the spans of its window (the package's oracle_monitor.store.agent_seconds
-- and oracle_monitor.store.postgres.seconds). Each writing session keeps its own rows
-- (`writer` is its backend pid), so writers never wait on each other's; `written_xid` is the
-- transaction that last wrote a row; `latest` is JSON. The agent spans of the last ten
-- minutes are folded in once here.
CREATE TABLE IF NOT EXISTS agent_seconds (
    tenant_id text NOT NULL DEFAULT oracle_current_tenant(),
    second bigint NOT NULL,
    agent_name text NOT NULL,
    writer integer NOT NULL,
    written_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    spans bigint NOT NULL,
    latest_start bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cost_usd double precision NOT NULL,
    errors bigint NOT NULL,
    latest text NOT NULL,
    PRIMARY KEY (second, agent_name, writer, tenant_id)
);
CREATE INDEX IF NOT EXISTS agent_seconds_written ON agent_seconds (written_xid);
ALTER TABLE agent_seconds ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON agent_seconds;
CREATE POLICY tenant_isolation ON agent_seconds
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON agent_seconds FROM anon;
    END IF;
END
$$;

-- For each field of `latest`, the latest span having it (by end time, then span id) as
-- [end time, span id, value]; null when none has.
INSERT INTO agent_seconds (tenant_id, second, agent_name, writer, spans, latest_start,
    input_tokens, output_tokens, cost_usd, errors, latest)
SELECT tenant_id, second, agent_name, 0, count(*), max(start_time_ns),
    sum(greatest(coalesce(input_tokens, 0), 0)), sum(greatest(coalesce(output_tokens, 0), 0)),
    sum(greatest(coalesce(cost_usd, 0), 0)), count(*) FILTER (WHERE status_code = 2),
    json_build_array(
        (array_agg(json_build_array(end_time_ns, span, trace)
            ORDER BY end_time_ns DESC, span DESC))[1],
        (array_agg(json_build_array(end_time_ns, span, status_code = 2)
            ORDER BY end_time_ns DESC, span DESC)
            FILTER (WHERE attributes->>'gen_ai.operation.name' = 'invoke_agent'))[1],
        (array_agg(json_build_array(end_time_ns, span, task_id)
            ORDER BY end_time_ns DESC, span DESC) FILTER (WHERE task_id <> ''))[1],
        (array_agg(json_build_array(end_time_ns, span, json_build_array(
                attributes->>'oracle.agent.reasoning',
                CASE WHEN jsonb_typeof(attributes->'oracle.agent.tools_planned') = 'array'
                     THEN attributes->'oracle.agent.tools_planned' END))
            ORDER BY end_time_ns DESC, span DESC)
            FILTER (WHERE attributes->>'oracle.agent.reasoning' IS NOT NULL))[1],
        (array_agg(json_build_array(end_time_ns, span, attributes->>'gen_ai.agent.id')
            ORDER BY end_time_ns DESC, span DESC)
            FILTER (WHERE attributes->>'gen_ai.agent.id' IS NOT NULL))[1],
        (array_agg(json_build_array(end_time_ns, span, pod_name)
            ORDER BY end_time_ns DESC, span DESC)
            FILTER (WHERE pod_name <> '' AND agent_from IS NULL))[1],
        (array_agg(json_build_array(end_time_ns, span, pod_name)
            ORDER BY end_time_ns DESC, span DESC) FILTER (WHERE pod_name <> ''))[1]
    )::text
FROM (
    SELECT *, floor(start_time_ns / 1e9)::bigint AS second, encode(span_id, 'hex') AS span,
        encode(trace_id, 'hex') AS trace
    FROM spans
    WHERE agent_name IS NOT NULL
        AND start_time_ns >= (extract(epoch FROM now())::bigint - 600) * 1000000000
) AS recent
GROUP BY tenant_id, second, agent_name
ON CONFLICT DO NOTHING;

INSERT INTO oracle_schema_migrations (version, name)
VALUES (20261206000009, 'agent_seconds') ON CONFLICT DO NOTHING;
