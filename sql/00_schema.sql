-- 00_schema: the admin role and the schema of the catalogs

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'crm_purge_admin') THEN
		CREATE ROLE crm_purge_admin NOLOGIN;
	END IF;
END
$$;

CREATE SCHEMA crm_purge;

GRANT USAGE ON SCHEMA crm_purge TO PUBLIC;

COMMENT ON SCHEMA crm_purge IS 'crm_purge catalogs';
