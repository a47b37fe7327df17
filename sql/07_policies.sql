-- 07_policies: policies on a schedule (pg_cron)

-- Is pg_cron installed here: cron.job and cron.schedule_in_database the
-- pg_cron extension's own?  (A database's owner could make a schema
-- named cron: its table's trigger then ran as the extension owner.)
CREATE FUNCTION crm_purge._cron_installed() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT count(*) = 2 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'pg_cron'
	  AND ((d.classid = 'pg_class'::regclass AND d.objid = to_regclass('cron.job'))
		   OR (d.classid = 'pg_proc'::regclass
			   AND d.objid = to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)')))
$$;

CREATE FUNCTION crm_purge._require_cron() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT crm_purge._cron_installed() THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
			USING ERRCODE = 'undefined_function',
				  DETAIL = 'crm_purge_schedule runs its policies with pg_cron 1.4 or later.',
				  HINT = format('Install it (Debian: apt-get install postgresql-15-cron), set shared_preload_libraries = ''pg_cron,crm_purge'' and cron.database_name = %L in postgresql.conf, restart, then run CREATE EXTENSION pg_cron in this database.',
								current_database());
	END IF;
END
$$;

CREATE FUNCTION crm_purge_schedule(tbl regclass, older_than interval, schedule text DEFAULT '0 2 * * *',
											  mode text DEFAULT 'export_and_delete', filter text DEFAULT NULL,
											  modified_column name DEFAULT 'modified_at')
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_schedule');
	RETURN crm_purge._add_policy(tbl, older_than, schedule, mode, filter, modified_column);
END
$$;

CREATE FUNCTION crm_purge_unschedule(policy_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_unschedule');
	IF policy_id IS NULL THEN
		RAISE EXCEPTION 'policy_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._drop_policy(policy_id);
END
$$;

CREATE FUNCTION crm_purge._policy_ran(policy_id bigint, request_id bigint, outcome text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	UPDATE crm_purge.policies SET last_run_at = now(), last_outcome = outcome,
		last_request_id = coalesce(request_id, last_request_id)
	WHERE id = policy_id
$$;

-- One run of a policy, from its pg_cron job, as the policy's creator (by
-- OID: a role made again under the same name is refused).
CREATE FUNCTION crm_purge._run_policy(policy_id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p crm_purge.policies;
BEGIN
	PERFORM crm_purge._check_admin('crm_purge policy run');
	SELECT * INTO p FROM crm_purge.policies x WHERE x.id = policy_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'policy % does not exist', policy_id USING ERRCODE = 'undefined_object';
	END IF;
	IF p.created_by::oid <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user) THEN
		RAISE EXCEPTION 'policy % runs only as the role that made it', policy_id
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN crm_purge._queue_request(p.tbl, p.mode, p.modified_column, p.filter, p.older_than, p.id);
END
$$;

-- After a restore into another database or cluster, or a job removed by
-- hand, a policy's job may be missing or point elsewhere: the worker makes
-- it again, so that restored policies keep running.
CREATE FUNCTION crm_purge._reconcile_policies() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p record;
	n integer := 0;
BEGIN
	IF NOT crm_purge._cron_installed() THEN
		RETURN 0;
	END IF;
	-- pg_restore loads cron.job after the policies: a job made meanwhile
	-- would take a restored job's id; next time, once it is done.  Only a
	-- superuser's, which alone may write cron.job (any role's session may
	-- call itself pg_restore: review round 60, A60-1)
	IF EXISTS (SELECT FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
			   WHERE a.datname = current_database() AND a.application_name = 'pg_restore' AND r.rolsuper) THEN
		RETURN 0;
	END IF;
	-- jobs of this extension's policies for another database are stale
	-- copies (a restore): schedules can only be made from the cron database
	DELETE FROM cron.job j WHERE j.jobname LIKE 'crm_purge_policy_%' AND j.database <> current_database();
	FOR p IN
		SELECT x.* FROM crm_purge.policies x
		WHERE x.jobid IS NULL OR NOT EXISTS (
			SELECT FROM cron.job j WHERE j.jobid = x.jobid AND j.database = current_database()
			  AND j.command = format('SELECT crm_purge._run_policy(%s)', x.id))
	LOOP
		PERFORM crm_purge._cron_job(p.id);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

CREATE FUNCTION crm_purge._policies()
RETURNS TABLE (id bigint, "table" regclass, older_than interval, mode text, schedule text, filter text,
			   jobid bigint, last_run_at timestamptz, last_request_id bigint, last_outcome text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_policies');
	RETURN QUERY SELECT p.id, p.tbl, p.older_than, p.mode, p.schedule, p.filter, p.jobid,
						p.last_run_at, p.last_request_id, p.last_outcome
		FROM crm_purge.policies p ORDER BY p.id;
END
$$;

CREATE VIEW crm_purge_policies AS SELECT * FROM crm_purge._policies();

-- Dropping the extension takes the policies' pg_cron jobs with it (called
-- from the ProcessUtility hook, before the drop).
CREATE FUNCTION crm_purge._drop_cron_jobs() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF crm_purge._cron_installed() THEN
		DELETE FROM cron.job WHERE jobid IN (SELECT jobid FROM crm_purge.policies)
			OR (jobname LIKE 'crm_purge_policy_%' AND database = current_database());
	END IF;
END
$$;

CREATE FUNCTION crm_purge._cron_job(policy_id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p crm_purge.policies;
	new_jobid bigint;
BEGIN
	SELECT * INTO p FROM crm_purge.policies x WHERE x.id = policy_id;
	EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4, $5)'
		INTO new_jobid
		USING 'crm_purge_policy_' || policy_id, p.schedule,
			  format('SELECT crm_purge._run_policy(%s)', policy_id), current_database(),
			  pg_get_userbyid(p.created_by);
	UPDATE crm_purge.policies x SET jobid = new_jobid WHERE x.id = policy_id;
	RETURN new_jobid;
END
$$;

CREATE FUNCTION crm_purge._add_policy(tbl regclass, older_than interval, schedule text, mode text,
									  filter text, modified_column name) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

-- what crm_purge_request checks, as the caller
CREATE FUNCTION crm_purge._add_policy_check(tbl regclass, older_than interval, schedule text, mode text,
											filter text, modified_column name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_request_args(tbl, older_than, mode, modified_column, filter);
	IF schedule IS NULL THEN
		RAISE EXCEPTION 'schedule must not be NULL' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'A cron schedule such as ''0 2 * * *'' (every night at 02:00).';
	END IF;
END
$$;

CREATE FUNCTION crm_purge._add_policy_impl(actor regrole, tbl regclass, older_than interval, schedule text,
										   mode text, filter text, modified_column name) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	pid bigint;
BEGIN
	PERFORM crm_purge._require_cron();
	INSERT INTO crm_purge.policies (tbl, older_than, schedule, mode, filter, modified_column, created_by)
		VALUES (tbl, older_than, schedule, mode, filter, modified_column, actor)
		RETURNING id INTO pid;
	-- pg_cron checks the schedule; a bad one fails the whole call
	PERFORM crm_purge._cron_job(pid);
	RETURN pid;
END
$$;

CREATE FUNCTION crm_purge._drop_policy(policy_id bigint) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._drop_policy_impl(actor regrole, policy_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p crm_purge.policies;
BEGIN
	SELECT * INTO p FROM crm_purge.policies x WHERE x.id = policy_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'policy % does not exist', policy_id USING ERRCODE = 'undefined_object';
	END IF;
	IF p.created_by <> actor AND NOT coalesce(has_table_privilege(actor, p.tbl, 'DELETE'), false) THEN
		RAISE EXCEPTION 'permission denied to remove policy %', policy_id
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Its creator, or an admin who may DELETE from its table, may remove it.';
	END IF;
	DELETE FROM crm_purge.policies x WHERE x.id = policy_id;
	IF p.jobid IS NOT NULL AND crm_purge._cron_installed() THEN
		EXECUTE 'DELETE FROM cron.job WHERE jobid = $1' USING p.jobid;
	END IF;
END
$$;

COMMENT ON FUNCTION crm_purge_schedule(regclass, interval, text, text, text, name) IS 'a retention policy: a pg_cron job that queues a request at each run';

COMMENT ON FUNCTION crm_purge_unschedule(bigint) IS 'removes a policy and its pg_cron job';

COMMENT ON FUNCTION crm_purge._run_policy(bigint) IS 'one run of a policy; called by its pg_cron job';

COMMENT ON VIEW crm_purge_policies IS 'retention policies and their pg_cron jobs';
