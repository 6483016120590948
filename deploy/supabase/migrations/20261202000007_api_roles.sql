-- Oracle Monitor on PostgreSQL, version 20261202000007: the Supabase Data API's roles see no
-- tenant they were not given. Supabase grants every new table in `public` to `anon` and
-- `authenticated`, and the tenant policies apply to every role, so through PostgREST the
-- public anon key, or any signed-in user without a `tenant_id` claim, fell back to the
-- 'default' tenant: the whole data of a single-tenant deployment, to read and to write.
-- Now a PostgREST request's tenant is its JWT's `tenant_id` claim or none (no rows), but for
-- service_role's; sessions without JWT claims (the store's, psql) keep `oracle.tenant_id`,
-- else 'default'.

CREATE OR REPLACE FUNCTION oracle_current_tenant() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN nullif(current_setting('oracle.tenant_id', true), '') IS NOT NULL
            THEN current_setting('oracle.tenant_id', true)
        WHEN nullif(current_setting('request.jwt.claims', true), '') IS NOT NULL
            THEN coalesce(
                current_setting('request.jwt.claims', true)::jsonb ->> 'tenant_id',
                -- service_role bypasses row-level security; its inserts keep the old default
                CASE WHEN current_setting('request.jwt.claims', true)::jsonb ->> 'role'
                    = 'service_role' THEN 'default' END)
        ELSE 'default'
    END
$$;

-- A query that names a day partition of `spans` (PostgREST exposes them as tables) does not
-- go through the parent's policies: row-level security without a policy on each partition
-- leaves them to the owner. The store enables it on the partitions it creates from now on.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'spans'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', part);
    END LOOP;
END
$$;

-- The anon key is public by design: no privileges at all on Oracle Monitor's tables (none
-- on the migrations table, which has no row-level security, for signed-in users either).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON oracle_schema_migrations, resources, traces, spans, infra_events,
            system_snapshots, alerts, operations FROM anon;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON oracle_schema_migrations FROM authenticated;
    END IF;
END
$$;

INSERT INTO oracle_schema_migrations (version, name)
VALUES (20261202000007, 'api_roles') ON CONFLICT DO NOTHING;
