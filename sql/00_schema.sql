-- 00_schema: the admin role and the schema of the catalogs

-- no function of another's may take crm_purge's names (an overload on the
-- search_path would run in place of crm_purge's for whoever calls it)
DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
	f regprocedure;
	r regclass;
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	SELECT p.oid INTO f FROM pg_catalog.pg_proc p
		WHERE pg_catalog.left(p.proname, 9) OPERATOR(pg_catalog.=) 'crm_purge'
		  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
						  AND d.objid = p.oid AND d.deptype = 'e')
		LIMIT 1;
	IF f IS NOT NULL THEN
		RAISE EXCEPTION 'function % takes a name of crm_purge''s', f
			USING ERRCODE = 'reserved_name',
				  HINT = 'Drop or rename it first: it would run in place of crm_purge''s for whoever calls it.';
	END IF;
	-- nor a relation (a view crm_purge_overview in a schema ahead on the path)
	SELECT c.oid INTO r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE left(c.relname, 9) = 'crm_purge' AND n.nspname NOT IN ('crm_purge', 'crm_trash')
		  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
		  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
						  AND d.objid = c.oid AND d.deptype = 'e')
		LIMIT 1;
	IF r IS NOT NULL THEN
		RAISE EXCEPTION 'relation % takes a name of crm_purge''s', r
			USING ERRCODE = 'reserved_name',
				  HINT = 'Drop or rename it first: it would be read in place of crm_purge''s by whoever names it.';
	END IF;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;

DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'crm_purge_admin') THEN
		CREATE ROLE crm_purge_admin NOLOGIN;
	END IF;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;

CREATE SCHEMA crm_purge;

GRANT USAGE ON SCHEMA crm_purge TO PUBLIC;

COMMENT ON SCHEMA crm_purge IS 'crm_purge catalogs';
