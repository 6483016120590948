-- Oracle Monitor on PostgreSQL, version 20261202000002: row-level security by tenant and
-- live snapshot inserts for supabase-js (Supabase Realtime reads the `supabase_realtime`
-- publication; it is created when absent, so this also applies on plain PostgreSQL).

-- Roles other than the tables' owner (Supabase's `authenticated`, a per-tenant role) see and
-- write only the rows of their tenant, `oracle_current_tenant()`. The owner (the role that
-- ran the migrations, which the server uses) is not restricted; superusers never are.
-- `(SELECT oracle_current_tenant())` is evaluated once per statement, not once per row.
ALTER TABLE traces ENABLE ROW LEVEL SECURITY;
ALTER TABLE spans ENABLE ROW LEVEL SECURITY;
ALTER TABLE infra_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE system_snapshots ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON traces;
CREATE POLICY tenant_isolation ON traces
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));
DROP POLICY IF EXISTS tenant_isolation ON spans;
CREATE POLICY tenant_isolation ON spans
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));
DROP POLICY IF EXISTS tenant_isolation ON infra_events;
CREATE POLICY tenant_isolation ON infra_events
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));
DROP POLICY IF EXISTS tenant_isolation ON system_snapshots;
CREATE POLICY tenant_isolation ON system_snapshots
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));
CREATE INDEX IF NOT EXISTS traces_tenant_start ON traces (tenant_id, start_time_ns);

-- Realtime needs the old row of updates and deletes too.
ALTER TABLE system_snapshots REPLICA IDENTITY FULL;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
EXCEPTION WHEN duplicate_object THEN
    NULL;  -- created by a concurrent session meanwhile
END
$$;
DO $$
BEGIN
    EXECUTE format('ALTER PUBLICATION supabase_realtime ADD TABLE %I.system_snapshots',
                   current_schema());
EXCEPTION WHEN duplicate_object THEN
    NULL;  -- already published
END
$$;

INSERT INTO oracle_schema_migrations (version, name)
VALUES (20261202000002, 'tenants_and_realtime') ON CONFLICT DO NOTHING;
