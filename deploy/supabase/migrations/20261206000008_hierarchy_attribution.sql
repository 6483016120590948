-- Oracle Monitor on PostgreSQL, version 20261206000008: agents and tasks by trace hierarchy.
-- A span that names no agent (or task) takes its nearest ancestor's; `agent_from` is the id
-- (hex) of the span the name came from. A span whose ancestor has not arrived yet waits for
-- it in `attribution_pending`, and is attributed when it arrives (see the package's
-- oracle_monitor.store.attribution).
ALTER TABLE spans ADD COLUMN IF NOT EXISTS agent_from text;

CREATE TABLE IF NOT EXISTS attribution_pending (
    tenant_id text NOT NULL DEFAULT oracle_current_tenant(),
    trace_id bytea NOT NULL,
    missing_span_id bytea NOT NULL,
    span_id bytea NOT NULL,
    PRIMARY KEY (trace_id, missing_span_id, span_id)
);
CREATE INDEX IF NOT EXISTS attribution_pending_span ON attribution_pending (trace_id, span_id);
ALTER TABLE attribution_pending ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON attribution_pending;
CREATE POLICY tenant_isolation ON attribution_pending
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON attribution_pending FROM anon;
    END IF;
END
$$;

INSERT INTO oracle_schema_migrations (version, name)
VALUES (20261206000008, 'hierarchy_attribution') ON CONFLICT DO NOTHING;
