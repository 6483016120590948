-- Oracle Monitor on PostgreSQL, version 20261206000010: the LLM calls added up per second of
-- start time, provider, model and agent ('' for no model or agent), kept by the writers as
-- they store calls and give stored calls their agent by hierarchy, so that reading the cost
-- of a window adds up the rows of its whole seconds and reads only the calls of the
-- part-seconds at its two ends; and the rate-limited or failed calls, which are few, in an
-- index of their own (the package's oracle_monitor.store.llm_calls and
-- oracle_monitor.store.postgres.llm). Writers add to the rows (`requests =
-- llm_seconds.requests + excluded.requests`…) in key order. The calls stored before are
-- folded in here, with the spans locked against writes meanwhile.
CREATE TABLE IF NOT EXISTS llm_seconds (
    tenant_id text NOT NULL DEFAULT oracle_current_tenant(),
    second bigint NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    agent_name text NOT NULL,
    requests bigint NOT NULL,
    rate_limited bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_creation_tokens bigint NOT NULL,
    reasoning_tokens bigint NOT NULL,
    cost_usd double precision NOT NULL,
    unpriced_requests bigint NOT NULL,
    PRIMARY KEY (second, provider, model, agent_name, tenant_id)
);
CREATE TABLE IF NOT EXISTS llm_problem_calls (
    tenant_id text NOT NULL DEFAULT oracle_current_tenant(),
    start_time_ns bigint NOT NULL,
    trace_id bytea NOT NULL,
    span_id bytea NOT NULL,
    PRIMARY KEY (start_time_ns, trace_id, span_id)
);
ALTER TABLE llm_seconds ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON llm_seconds;
CREATE POLICY tenant_isolation ON llm_seconds
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));
ALTER TABLE llm_problem_calls ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON llm_problem_calls;
CREATE POLICY tenant_isolation ON llm_problem_calls
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON llm_seconds, llm_problem_calls FROM anon;
    END IF;
END
$$;

-- The stored calls, as the writers would have added them up: an LLM call names its provider
-- and reports tokens, or a rate limit or an error that no LLM proxy's span records instead
-- (`oracle.llm.usage_reported_by` = 'proxy'); a problem call is rate limited or has an
-- `error.type`, and no proxy's span records it. Attributes holding a \u0000 are JSON text in
-- `attributes_text`, read with \ufffd instead (PostgreSQL's JSON functions fail on a \u0000,
-- whichever key holds it). Seconds are floored.
LOCK TABLE spans IN SHARE MODE;
INSERT INTO llm_seconds (tenant_id, second, provider, model, agent_name, requests,
    rate_limited, errors, input_tokens, output_tokens, cache_read_tokens,
    cache_creation_tokens, reasoning_tokens, cost_usd, unpriced_requests)
SELECT tenant_id, start_time_ns / 1000000000 - (start_time_ns % 1000000000 < 0)::int,
    provider, coalesce(model, ''), coalesce(agent_name, ''), count(*),
    count(*) FILTER (WHERE rate_limited), count(*) FILTER (WHERE status_code = 2),
    coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
    coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_creation_tokens), 0),
    coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost_usd), 0),
    count(*) FILTER (WHERE cost_usd IS NULL
        AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))
FROM spans
WHERE provider IS NOT NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL
    OR ((rate_limited OR status_code = 2)
        AND coalesce(attributes, replace(attributes_text, '\u0000', '\ufffd')::jsonb)
            ->> 'oracle.llm.usage_reported_by' IS DISTINCT FROM 'proxy'))
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT DO NOTHING;
INSERT INTO llm_problem_calls (tenant_id, start_time_ns, trace_id, span_id)
SELECT tenant_id, start_time_ns, trace_id, span_id
FROM (
    SELECT *, coalesce(attributes, replace(attributes_text, '\u0000', '\ufffd')::jsonb) AS a
    FROM spans WHERE provider IS NOT NULL
) AS calls
WHERE (rate_limited OR coalesce(jsonb_typeof(a -> 'error.type'), 'null') <> 'null')
    AND a ->> 'oracle.llm.usage_reported_by' IS DISTINCT FROM 'proxy'
ON CONFLICT DO NOTHING;

INSERT INTO oracle_schema_migrations (version, name)
VALUES (20261206000010, 'llm_seconds') ON CONFLICT DO NOTHING;
