-- Oracle Monitor on PostgreSQL, version 20261202000006: resources belong to a tenant too, so
-- row-level security hides another tenant's resource attributes (pod names, hosts) as well.
-- Rows stored before belong to the 'default' tenant.
ALTER TABLE resources ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE resources ALTER COLUMN tenant_id SET DEFAULT oracle_current_tenant();
ALTER TABLE resources DROP CONSTRAINT IF EXISTS resources_fingerprint_key;
CREATE UNIQUE INDEX IF NOT EXISTS resources_tenant_fingerprint
    ON resources (tenant_id, fingerprint);
ALTER TABLE resources ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON resources;
CREATE POLICY tenant_isolation ON resources
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));

INSERT INTO oracle_schema_migrations (version, name)
VALUES (20261202000006, 'tenant_resources') ON CONFLICT DO NOTHING;
