-- 08_duework: the due work: tick, errors, crm_purge_run

CREATE FUNCTION crm_purge_tick() RETURNS jsonb
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_tick';

CREATE FUNCTION crm_purge._errors()
RETURNS TABLE (task text, "table" regclass, error text, since timestamptz, retries integer, next_try timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_errors');
	RETURN QUERY SELECT e.task, nullif(e.tbl, 0)::regclass, e.error, e.since, e.retries, e.next_try
		FROM crm_purge.errors e ORDER BY e.since, e.task;
END
$$;

CREATE VIEW crm_purge_errors AS SELECT * FROM crm_purge._errors();

CREATE FUNCTION crm_purge._tick_step(first boolean) RETURNS boolean
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_tick_step_sql';

-- Without the worker: all due work, a commit after each step (batch).  No
-- SET clause: a procedure with one cannot commit; every name is qualified.
CREATE PROCEDURE crm_purge_run()
LANGUAGE plpgsql AS $$
DECLARE
	first boolean := true;
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_run');
	LOOP
		EXIT WHEN NOT crm_purge._tick_step(first);
		first := false;
		COMMIT;
	END LOOP;
END
$$;

COMMENT ON FUNCTION crm_purge_tick() IS 'does all due work once in this session, as the worker does every naptime';

COMMENT ON VIEW crm_purge_errors IS 'due work that fails and is retried with backoff';

COMMENT ON PROCEDURE crm_purge_run() IS 'does all due work, committing after each batch (without the worker)';
