-- Oracle Monitor on PostgreSQL, version 20261202000004: the distinct (service, span name,
-- kind) triples of the stored spans, kept by the writer, so that listing services and
-- operations (the Jaeger API) reads a few rows instead of scanning every span.
CREATE TABLE IF NOT EXISTS operations (
    tenant_id text NOT NULL DEFAULT oracle_current_tenant(),
    service_name text NOT NULL,
    name text NOT NULL,
    kind smallint NOT NULL,
    PRIMARY KEY (tenant_id, service_name, name, kind)
);
INSERT INTO operations (tenant_id, service_name, name, kind)
SELECT DISTINCT tenant_id, service_name, name, kind FROM spans ON CONFLICT DO NOTHING;
ALTER TABLE operations ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON operations;
CREATE POLICY tenant_isolation ON operations
    USING (tenant_id = (SELECT oracle_current_tenant()))
    WITH CHECK (tenant_id = (SELECT oracle_current_tenant()));

INSERT INTO oracle_schema_migrations (version, name)
VALUES (20261202000004, 'operations') ON CONFLICT DO NOTHING;
