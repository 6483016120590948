-- Oracle Monitor on PostgreSQL, version 20261202000003: alerts, deduplicated (one row per
-- alert, updated in place as it repeats), isolated by tenant like the other tables.
CREATE TABLE IF NOT EXISTS alerts (
    alert_id text PRIMARY KEY,
    tenant_id text NOT NULL DEFAULT oracle_current_tenant(),
    kind text NOT NULL,
    severity text NOT NULL,
    first_at_ns bigint NOT NULL,
    last_at_ns bigint NOT NULL,
    entity text NOT NULL,
    summary text NOT NULL,
    count integer NOT NULL,
    trace_id text,
    task_id text
);
CREATE INDEX IF NOT EXISTS alerts_last ON alerts (last_at_ns);
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON alerts;
CREATE POLICY tenant_isolation ON alerts
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));

INSERT INTO oracle_schema_migrations (version, name)
VALUES (20261202000003, 'alerts') ON CONFLICT DO NOTHING;
