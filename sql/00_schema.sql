-- 00_schema: the admin role and the schema of the catalogs

-- no function of another's may take crm_purge's names (an overload on the
-- search_path would run in place of crm_purge's for whoever calls it)
DO $$
DECLARE
	f regprocedure;
BEGIN
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
END
$$;

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
