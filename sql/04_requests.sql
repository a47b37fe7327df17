-- 04_requests: bulk export-and-delete requests, their views and exports

-- The row count, as the request's batches will read it: as the caller
-- (the filter is theirs; a superuser's as the table's owner), with the
-- search_path and settings batches run it under (crm_purge_as_filter_creator,
-- crm_purge_pin_filter_settings).
CREATE FUNCTION crm_purge._count_request_query(tbl regclass, modified_column name, filter text,
													cutoff timestamptz, max_rows bigint,
													OUT n bigint, OUT cut timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	cond text := format('%I < $1 AND (%s%s)', modified_column, coalesce(filter, 'true'), E'\n');
	edge timestamptz;
BEGIN
	cut := cutoff;
	IF max_rows IS NOT NULL THEN
		EXECUTE format('SELECT %I FROM %s WHERE %s ORDER BY 1 OFFSET $2 LIMIT 1', modified_column, tbl, cond)
			INTO edge USING cutoff, max_rows;
		IF edge IS NOT NULL THEN
			cut := edge;
		END IF;
	END IF;
	EXECUTE format('SELECT count(*) FROM %s WHERE %s', tbl, cond) INTO n USING cut;
END
$$;

CREATE FUNCTION crm_purge._count_request(tbl regclass, modified_column name, filter text,
													cutoff timestamptz, max_rows bigint,
													OUT n bigint, OUT cut timestamptz)
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_as_filter_creator';

-- Requests refuse, up front, tables whose rows they could not all account
-- for: inheritance parents, and partitioned tables that cascade (a batch
-- names rows by ctid, which names a row within one partition only).
CREATE FUNCTION crm_purge._check_request_args(tbl regclass, older_than interval, mode text,
														 modified_column name, filter text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	typ regtype;
	kind "char";
BEGIN
	IF tbl IS NULL OR older_than IS NULL OR mode IS NULL OR modified_column IS NULL THEN
		RAISE EXCEPTION 'table, older_than, mode and modified_column must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF older_than <= interval '0' THEN
		RAISE EXCEPTION 'older_than must be a positive interval, not %', older_than
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF mode NOT IN ('export_and_delete', 'delete_only') THEN
		RAISE EXCEPTION 'unknown mode "%"', mode
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use ''export_and_delete'' or ''delete_only''.';
	END IF;
	SELECT relkind INTO kind FROM pg_class WHERE oid = tbl;
	IF kind = 'r' AND EXISTS (SELECT FROM pg_inherits WHERE inhparent = tbl) THEN
		RAISE EXCEPTION 'cannot make a request on table %: inheritance parents are not supported', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Make a request on each child table instead.';
	END IF;
	-- a partitioned table: partition by partition; a cascade from it would
	-- have to name its rows across partitions
	IF kind = 'p' AND EXISTS (SELECT FROM pg_constraint c WHERE c.contype = 'f' AND c.confdeltype = 'c'
							  AND c.confrelid IN (SELECT t.relid FROM pg_partition_tree(tbl) t)) THEN
		RAISE EXCEPTION 'cannot make a request on table %: it is partitioned and other tables reference it ON DELETE CASCADE', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Make a request on each partition instead.';
	END IF;
	-- its bounds are pasted into the SQL batches run as the creator and hold
	-- creators: plain columns of built-in types only (no owner's code)
	IF kind = 'p' AND EXISTS (
		SELECT FROM pg_partition_tree(tbl) t
		JOIN pg_class c ON c.oid = t.relid
		LEFT JOIN pg_partitioned_table p ON p.partrelid = t.relid
		WHERE c.relkind NOT IN ('r', 'p') OR p.partexprs IS NOT NULL
		   OR EXISTS (SELECT FROM unnest(p.partattrs::int2[]) k(a)
					  JOIN pg_attribute a ON a.attrelid = t.relid AND a.attnum = k.a
					  WHERE a.atttypid >= 16384)) THEN
		RAISE EXCEPTION 'cannot make a request on table %: it is partitioned by an expression, by a column of a user-defined type, or has a foreign partition', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Make a request on each partition instead.';
	END IF;
	-- its partitions are read as its owner (whose code they may run)
	IF kind = 'p' AND EXISTS (SELECT FROM pg_partition_tree(tbl) t JOIN pg_class c ON c.oid = t.relid
							  WHERE c.relowner <> (SELECT o.relowner FROM pg_class o WHERE o.oid = tbl)) THEN
		RAISE EXCEPTION 'cannot make a request on table %: a partition of it has another owner', tbl
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'A request reads each partition as the partitioned table''s owner; a partition''s owner''s code would run with those rights.',
				  HINT = 'Give the partitions the partitioned table''s owner, or make a request on each partition.';
	END IF;
	IF kind IS DISTINCT FROM 'r' AND kind IS DISTINCT FROM 'p' THEN
		RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = 'wrong_object_type';
	END IF;
	-- a Citus table: its batches run on the shards' nodes
	IF crm_purge._citus_table(tbl) THEN
		PERFORM crm_purge._citus_check_request(tbl);
	END IF;
	SELECT atttypid::regtype INTO typ FROM pg_attribute
		WHERE attrelid = tbl AND attname = modified_column AND attnum > 0 AND NOT attisdropped;
	IF typ IS NULL THEN
		RAISE EXCEPTION 'column "%" does not exist in table %', modified_column, tbl
			USING ERRCODE = 'undefined_column',
				  HINT = 'Name the column holding the time of last modification with modified_column => ...';
	END IF;
	IF typ NOT IN ('timestamptz', 'timestamp', 'date') THEN
		RAISE EXCEPTION 'column "%" of table % has type %, not a date or timestamp', modified_column, tbl, typ
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF NOT has_table_privilege(tbl, 'SELECT') OR NOT has_table_privilege(tbl, 'DELETE') THEN
		RAISE EXCEPTION 'permission denied for table %', tbl
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'A request deletes as its creator, who needs SELECT and DELETE on the table.';
	END IF;
	-- the owner's policies would run with the creator's rights, unattended
	IF (SELECT c.relrowsecurity AND NOT pg_has_role(c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = tbl) THEN
		RAISE EXCEPTION 'cannot make a request on table %: it has row-level security', tbl
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Its policies would run with your rights in the background, for every batch.',
				  HINT = 'The table''s owner may make the request, or disable row-level security first.';
	END IF;
	PERFORM crm_purge._check_deferred_filter(filter);
END
$$;

CREATE FUNCTION crm_purge_request(tbl regclass, older_than interval, mode text DEFAULT 'export_and_delete',
											 modified_column name DEFAULT 'modified_at', filter text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_request');
	RETURN crm_purge._queue_request(tbl, mode, modified_column, filter, older_than, NULL);
END
$$;

CREATE FUNCTION crm_purge_revoke(request_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_revoke');
	IF request_id IS NULL THEN
		RAISE EXCEPTION 'request_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._revoke(request_id);
END
$$;

CREATE FUNCTION crm_purge._progress()
RETURNS TABLE (kind text, id bigint, "table" regclass, rows_done bigint, rows_total bigint,
			   started_at timestamptz, rows_per_second bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_progress');
	RETURN QUERY
		SELECT 'request'::text, r.id, r.tbl, r.rows_done, r.rows, r.started_at,
			   round(r.rows_done / greatest(extract(epoch FROM clock_timestamp() - r.started_at), 0.001))::bigint
		FROM crm_purge.requests r WHERE r.status = 'in_progress'
		UNION ALL
		SELECT 'purge'::text, p.id, NULL::regclass, p.rows_done, p.rows, p.started_at,
			   round(p.rows_done / greatest(extract(epoch FROM clock_timestamp() - p.started_at), 0.001))::bigint
		FROM crm_purge.purges p WHERE p.status = 'running';
END
$$;

CREATE VIEW crm_purge_progress AS SELECT * FROM crm_purge._progress();

CREATE FUNCTION crm_purge_report(request_id bigint)
RETURNS TABLE (batch integer, rows bigint, started_at timestamptz, finished_at timestamptz, outcome text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_report');
	IF NOT EXISTS (SELECT FROM crm_purge.requests q WHERE q.id = request_id) THEN
		RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = 'undefined_object';
	END IF;
	RETURN QUERY SELECT b.batch, b.rows, b.started_at, b.finished_at, b.outcome
		FROM crm_purge.request_batches b WHERE b.request_id = crm_purge_report.request_id ORDER BY b.batch;
END
$$;

-- A delete_only request lists no parts (it has none); others as before.
CREATE FUNCTION crm_purge_export_files(request_id bigint)
RETURNS TABLE (part integer, path text, rows bigint, bytes bigint, sha256 text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_export_files');
	IF (SELECT q.mode FROM crm_purge.requests q WHERE q.id = crm_purge_export_files.request_id) = 'delete_only' THEN
		RETURN;
	END IF;
	PERFORM crm_purge._check_export(request_id);
	RETURN QUERY SELECT p.part, p.path, p.rows, p.bytes, p.sha256
		FROM crm_purge.export_parts p WHERE p.request_id = crm_purge_export_files.request_id ORDER BY p.part;
END
$$;

-- As the caller: the export must exist and its table be readable to them.
CREATE FUNCTION crm_purge._check_export(request_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r crm_purge.requests;
BEGIN
	IF request_id IS NULL THEN
		RAISE EXCEPTION 'request_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO r FROM crm_purge.requests q WHERE q.id = request_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT coalesce(has_table_privilege(r.tbl, 'SELECT'), false) THEN
		RAISE EXCEPTION 'permission denied for the export of request %', request_id
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = format('Its rows are of table %s, which you may not SELECT from.', r.tbl);
	END IF;
	IF r.mode <> 'export_and_delete' THEN
		RAISE EXCEPTION 'request % is delete_only: it has no export', request_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF r.export_expired OR r.export_expires_at < now() THEN
		RAISE EXCEPTION 'the export of request % has expired', request_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('It expired at %s: exports are kept for crm_purge.export_retention after the request is created.',
								  r.export_expires_at);
	END IF;
END
$$;

CREATE FUNCTION crm_purge_export_read(request_id bigint, part integer) RETURNS text
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_export_read';

CREATE FUNCTION crm_purge._check_cascades(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_check_cascades';

CREATE FUNCTION crm_purge._queue_request_check(tbl regclass, mode text, modified_column name, filter text,
											   older_than interval, policy_id bigint)
RETURNS crm_purge.request_count
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c crm_purge.request_count;
BEGIN
	PERFORM crm_purge._check_request_args(tbl, older_than, mode, modified_column, filter);
	-- (a cascade no batch can follow: refused now, not in the worker)
	IF NOT crm_purge._citus_table(tbl) THEN
		PERFORM crm_purge._check_cascades(tbl);
	END IF;
	SELECT x.n, x.cut INTO c FROM crm_purge._count_request(tbl, modified_column, filter, now() - older_than,
		CASE WHEN policy_id IS NOT NULL THEN current_setting('crm_purge.max_rows_per_request')::bigint END) x;
	RETURN c;
END
$$;

CREATE FUNCTION crm_purge._queue_request(tbl regclass, mode text, modified_column name, filter text,
										 older_than interval, policy_id bigint)
RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

-- A policy's run that cannot queue is a skip, recorded, not a failure.
CREATE FUNCTION crm_purge._queue_request_impl(actor regrole, tbl regclass, mode text, modified_column name,
											  filter text, older_than interval, policy_id bigint,
											  c crm_purge.request_count)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	queued bigint;
	rid bigint;
	who name := pg_get_userbyid(actor);
	n bigint := c.n;
BEGIN
	IF policy_id IS NOT NULL AND NOT EXISTS (
		SELECT FROM crm_purge.policies p
		WHERE p.id = policy_id AND p.tbl = _queue_request_impl.tbl AND p.mode = _queue_request_impl.mode
		  AND p.modified_column = _queue_request_impl.modified_column
		  AND p.filter IS NOT DISTINCT FROM _queue_request_impl.filter
		  AND p.older_than = _queue_request_impl.older_than AND p.created_by = actor) THEN
		RAISE EXCEPTION 'policy % does not exist or is not this request''s', policy_id
			USING ERRCODE = 'undefined_object';
	END IF;
	-- one request creation at a time, so that the limits below hold
	LOCK TABLE crm_purge.requests IN SHARE ROW EXCLUSIVE MODE;
	BEGIN
		IF EXISTS (SELECT FROM crm_purge.requests r
				   WHERE r.tbl = _queue_request_impl.tbl AND r.status IN ('queued', 'in_progress')) THEN
			RAISE EXCEPTION 'Another request for the same table already exists.'
				USING ERRCODE = 'object_in_use',
					  HINT = 'Wait for it to finish, or revoke it while it is queued.';
		END IF;
		IF n > current_setting('crm_purge.max_rows_per_request')::bigint THEN
			RAISE EXCEPTION 'request would process % rows; the limit is % per request',
							n, current_setting('crm_purge.max_rows_per_request')
				USING ERRCODE = 'program_limit_exceeded',
					  HINT = 'Narrow the date range (a longer older_than) or the filter, and split the work into several requests.';
		END IF;
		SELECT coalesce(sum(r.rows - r.rows_done), 0) INTO queued
			FROM crm_purge.requests r WHERE r.status IN ('queued', 'in_progress');
		IF queued + n > current_setting('crm_purge.max_queued_rows')::bigint THEN
			RAISE EXCEPTION 'Multiple requests to export and delete data are in queue. Please wait till the existing requests are processed.'
				USING ERRCODE = 'program_limit_exceeded',
					  DETAIL = format('%s rows are queued; this request would add %s, and the limit is %s.',
									  queued, n, current_setting('crm_purge.max_queued_rows'));
		END IF;
	EXCEPTION WHEN object_in_use OR program_limit_exceeded THEN
		IF policy_id IS NULL THEN
			RAISE;
		END IF;
		PERFORM crm_purge._policy_ran(policy_id, NULL, 'skipped: ' || SQLERRM);
		RETURN NULL;
	END;
	IF policy_id IS NOT NULL AND n = 0 THEN
		PERFORM crm_purge._policy_ran(policy_id, NULL, 'nothing to do');
		RETURN NULL;
	END IF;
	INSERT INTO crm_purge.requests (tbl, mode, modified_column, filter, cutoff, created_by, rows,
									export_expires_at, policy_id)
		VALUES (tbl, mode, modified_column, filter, c.cut, actor, n,
				CASE WHEN mode = 'export_and_delete'
					 THEN now() + current_setting('crm_purge.export_retention')::interval END,
				policy_id)
		RETURNING id INTO rid;
	PERFORM crm_purge._record_history('request queued', tbl, n, who, request_id => rid);
	PERFORM crm_purge._notify('request created', ARRAY[who], rid, NULL,
							  jsonb_build_object('table', crm_purge._qualified(tbl), 'mode', mode, 'rows', n, 'status', 'queued'));
	IF policy_id IS NOT NULL THEN
		PERFORM crm_purge._policy_ran(policy_id, rid, 'queued request ' || rid);
	END IF;
	RETURN rid;
END
$$;

CREATE FUNCTION crm_purge._revoke(request_id bigint) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._revoke_impl(actor regrole, request_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r crm_purge.requests;
BEGIN
	-- read unlocked first: a running request's row is locked by its batch
	SELECT * INTO r FROM crm_purge.requests q WHERE q.id = request_id;
	IF FOUND AND r.status = 'queued' THEN
		SELECT * INTO r FROM crm_purge.requests q WHERE q.id = request_id FOR UPDATE;
	END IF;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = 'undefined_object';
	END IF;
	IF r.created_by <> actor AND NOT coalesce(has_table_privilege(actor, r.tbl, 'DELETE'), false) THEN
		RAISE EXCEPTION 'permission denied to revoke request %', request_id
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Its creator, or an admin who may DELETE from its table, may revoke it.';
	END IF;
	IF r.status <> 'queued' THEN
		RAISE EXCEPTION 'request % is %; only a queued request can be revoked', request_id, r.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM crm_purge._request_status(request_id, 'revoked', actor => actor);
END
$$;

CREATE FUNCTION crm_purge._requests()
RETURNS TABLE (id bigint, "table" regclass, mode text, created_by regrole, created_at timestamptz,
			   rows bigint, rows_done bigint, status text, started_at timestamptz,
			   finished_at timestamptz, export_expires_at timestamptz, error text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_requests');
	RETURN QUERY
		SELECT r.id, r.tbl, r.mode, r.created_by, r.created_at, r.rows, r.rows_done,
			   r.status, r.started_at, r.finished_at, r.export_expires_at, r.error
		FROM crm_purge.requests r ORDER BY r.id;
END
$$;

CREATE VIEW crm_purge_requests AS SELECT * FROM crm_purge._requests();

COMMENT ON FUNCTION crm_purge_request(regclass, interval, text, name, text) IS 'queues a bulk export-and-delete of rows not modified for older_than';

COMMENT ON FUNCTION crm_purge_revoke(bigint) IS 'revokes a queued request';

COMMENT ON VIEW crm_purge_requests IS 'bulk export-and-delete requests and their status';

COMMENT ON VIEW crm_purge_progress IS 'the running request or purge, with its speed';

COMMENT ON FUNCTION crm_purge_report(bigint) IS 'one row per batch of a request, for \copy ... CSV HEADER';

COMMENT ON FUNCTION crm_purge_export_files(bigint) IS 'the CSV parts of an export';

COMMENT ON FUNCTION crm_purge_export_read(bigint, integer) IS 'the text of one export part, for clients without server file access';

COMMENT ON VIEW crm_purge_requests IS 'bulk export-and-delete requests and their status';

-- The one place a request changes status: queued -> in_progress ->
-- success | failed, queued -> revoked | failed.  Records the end in
-- history, and tells the creator (or, on success, every admin).
CREATE FUNCTION crm_purge._request_status(request_id bigint, new_status text, error text DEFAULT NULL,
										  actor regrole DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r crm_purge.requests;
BEGIN
	SELECT * INTO r FROM crm_purge.requests q WHERE q.id = request_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT ((r.status = 'queued' AND new_status IN ('in_progress', 'revoked', 'failed'))
			OR (r.status = 'in_progress' AND new_status IN ('success', 'failed'))) THEN
		RAISE EXCEPTION 'request % is %; it cannot become %', request_id, r.status, new_status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF new_status = 'in_progress' THEN
		UPDATE crm_purge.requests q SET status = new_status, started_at = clock_timestamp() WHERE q.id = request_id;
		RETURN;
	END IF;
	-- (a Citus round's batch given up on and still running on its node must not delete after the end)
	IF r.status = 'in_progress' AND crm_purge._citus_table(r.tbl) THEN
		PERFORM crm_purge._citus_fence_rounds();
	END IF;
	UPDATE crm_purge.requests q SET status = new_status, error = _request_status.error, finished_at = clock_timestamp()
		WHERE q.id = request_id RETURNING * INTO r;
	IF new_status = 'revoked' THEN
		PERFORM crm_purge._record_history('request revoked', r.tbl, 0, pg_get_userbyid(actor), request_id => request_id);
		RETURN;
	END IF;
	PERFORM crm_purge._record_history('request ' || new_status, r.tbl, r.rows_done, pg_get_userbyid(r.created_by),
									  request_id => request_id);
	PERFORM crm_purge._notify('request ' || new_status,
							  CASE WHEN new_status = 'success' THEN ARRAY(SELECT crm_purge._admins())
								   ELSE ARRAY[pg_get_userbyid(r.created_by)] END,
							  request_id, NULL,
							  jsonb_build_object('table', crm_purge._qualified(r.tbl), 'mode', r.mode, 'rows', r.rows,
												 'rows_done', r.rows_done, 'status', new_status, 'error', _request_status.error));
END
$$;

-- Citus: requests run per shard on hash-distributed tables (a reference
-- table has no shards to split the work; the coordinator's shell of any
-- Citus table holds no rows).  Cascades are refused: a shard's batch on its
-- node could not check the holds of the tables a cascade reaches.
CREATE FUNCTION crm_purge._citus_check_request(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	method text;
	replicated boolean;
BEGIN
	EXECUTE 'SELECT partmethod::text FROM pg_dist_partition WHERE logicalrelid = $1' INTO method USING tbl;
	IF method IS DISTINCT FROM 'h' THEN
		RAISE EXCEPTION 'cannot make a request on table %: it is a Citus reference or local table', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Requests on Citus tables need a hash-distributed table: use crm_purge_delete_where.';
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid)
							WHERE s.logicalrelid = $1 GROUP BY p.shardid HAVING count(*) > 1)' INTO replicated USING tbl;
	IF replicated THEN
		RAISE EXCEPTION 'cannot make a request on table %: its shards have several placements', tbl
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Each placement would be exported and deleted on its own (citus.shard_replication_factor > 1).',
				  HINT = 'Use crm_purge_delete_where.';
	END IF;
	IF EXISTS (SELECT FROM pg_inherits WHERE inhparent = tbl) THEN
		RAISE EXCEPTION 'cannot make a request on table %: it is a partitioned Citus table', tbl
			USING ERRCODE = 'feature_not_supported', HINT = 'Make a request on each partition instead.';
	END IF;
	IF EXISTS (SELECT FROM pg_constraint c WHERE c.contype = 'f' AND c.confdeltype = 'c' AND c.confrelid = tbl) THEN
		RAISE EXCEPTION 'cannot make a request on table %: it is a Citus table other tables reference ON DELETE CASCADE', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Make a request on the referencing tables first, or use crm_purge_delete_where.';
	END IF;
END
$$;

-- Citus: one round of request request_id on a distributed table: a batch on
-- every shard placement not yet done, on its node, all at once.  Each runs
-- in a transaction of its own there (crm_purge._citus_shard_batch: delete,
-- export part and the placement's position commit together) and replies
-- with the placement's totals and the parts not yet recorded here, so a
-- round this node lost (a crash after a node committed) is counted by the
-- next.  A placement is recorded here in one round and worked from the next:
-- every placement that ever did work is known here, and one a shard moved
-- away from is asked once more for what it did (work => false).  Nodes are
-- found by group, whatever their address.  An unreachable node, a lock, a
-- moving shard make the round wait; other errors fail the request.  Returns
-- the rows the round added, whether every placement is done, and the error
-- or the wait.
CREATE FUNCTION crm_purge._citus_round(request_id bigint, keep text, batch_rows integer, started timestamptz,
									   OUT rows bigint, OUT finished boolean, OUT error text, OUT waiting text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET DateStyle = 'ISO, MDY' AS $$
DECLARE
	r crm_purge.requests;
	s record;
	w record;
	p jsonb;
	j jsonb;
	placements bigint[] := '{}';
	groups integer[] := '{}';
	nodes text[] := '{}';
	ports integer[] := '{}';
	stale boolean[] := '{}';
	commands text[] := '{}';
	nshards integer;
	i integer := 0;
	done_before bigint;
	registered integer := 0;
	removed integer := 0;
	-- taken under the lock on the table's holds (batch.c): a node refuses
	-- the round's batches once a hold or the request's end fenced it
	round bigint := nextval('crm_purge.citus_rounds');
BEGIN
	SELECT * INTO r FROM crm_purge.requests q WHERE q.id = request_id;
	done_before := r.rows_done;
	finished := true;
	EXECUTE 'SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = $1' INTO nshards USING r.tbl;
	FOR s IN EXECUTE $q$
		SELECT pl.placementid, pl.shardid, pl.groupid, n.nodename::text AS node, n.nodeport AS port,
			   rs.request_id IS NOT NULL AS known, coalesce(rs.parts, 0) AS parts, false AS stale
		FROM pg_dist_shard sh
		JOIN pg_dist_placement pl ON pl.shardid = sh.shardid
		LEFT JOIN pg_dist_node n ON n.groupid = pl.groupid AND n.noderole = 'primary'
		LEFT JOIN crm_purge.request_shards rs ON rs.request_id = $1 AND rs.placementid = pl.placementid
		WHERE sh.logicalrelid = $2 AND NOT coalesce(rs.done, false)
		UNION ALL
		SELECT rs.placementid, rs.shardid, rs.node_group, n.nodename::text, n.nodeport, true, rs.parts, true
		FROM crm_purge.request_shards rs
		LEFT JOIN pg_dist_node n ON n.groupid = rs.node_group AND n.noderole = 'primary'
		WHERE rs.request_id = $1 AND NOT rs.done
		  AND NOT EXISTS (SELECT FROM pg_dist_placement pl WHERE pl.placementid = rs.placementid)
		ORDER BY 2, 1$q$ USING request_id, r.tbl
	LOOP
		IF NOT s.known THEN
			INSERT INTO crm_purge.request_shards (request_id, placementid, shardid, node_group)
				VALUES (request_id, s.placementid, s.shardid, s.groupid);
			registered := registered + 1;
			finished := false;
			CONTINUE;
		END IF;
		IF s.node IS NULL AND s.stale THEN
			-- a node removed after its shards moved away: its last report stands
			UPDATE crm_purge.request_shards t SET done = true
				WHERE t.request_id = _citus_round.request_id AND t.placementid = s.placementid;
			removed := removed + 1;
			CONTINUE;
		ELSIF s.node IS NULL THEN
			finished := false;
			waiting := coalesce(waiting, format('node group %s of shard %s is not in the cluster', s.groupid, s.shardid));
			CONTINUE;
		END IF;
		placements := placements || s.placementid;
		groups := groups || s.groupid;
		nodes := nodes || s.node;
		ports := ports || s.port;
		stale := stale || s.stale;
		commands := commands || format('SELECT crm_purge._citus_shard_batch(%s, %s, %s, %L, %s, %L, %L, %L, %L, %L, %L, %s, %s, %L, %s, %s)',
									   request_id, s.shardid, s.placementid, NOT s.stale, s.parts,
									   r.mode = 'export_and_delete', r.modified_column, r.filter, r.cutoff,
									   pg_get_userbyid(r.created_by), keep, r.rows / greatest(nshards, 1), batch_rows,
									   current_setting('lock_timeout'),
									   (SELECT g.setting FROM pg_settings g WHERE g.name = 'crm_purge.step_timeout'), round);
	END LOOP;
	FOR w IN EXECUTE 'SELECT o.success, o.result FROM master_run_on_worker($1, $2, $3, true)
						  WITH ORDINALITY o(node_name, node_port, success, result, i) ORDER BY o.i'
		USING nodes, ports, commands
	LOOP
		i := i + 1;
		IF NOT w.success THEN
			finished := false;
			IF w.result LIKE 'ERROR:%' THEN
				error := coalesce(error, format('placement %s on %s:%s: %s', placements[i], nodes[i], ports[i], btrim(substr(w.result, 7))));
			ELSE
				waiting := coalesce(waiting, format('node %s:%s: %s', nodes[i], ports[i], w.result));
			END IF;
			CONTINUE;
		END IF;
		j := w.result::jsonb;
		IF j ? 'moved' THEN
			finished := false;
			waiting := coalesce(waiting, format('placement %s of shard %s is moving or gone from %s:%s', placements[i],
												 (SELECT t.shardid FROM crm_purge.request_shards t
												  WHERE t.request_id = _citus_round.request_id AND t.placementid = placements[i]),
												 nodes[i], ports[i]));
			CONTINUE;
		END IF;
		FOR p IN SELECT value FROM jsonb_array_elements(j->'new_parts') ORDER BY (value->>'part')::integer LOOP
			r.parts := r.parts + 1;
			INSERT INTO crm_purge.export_parts (request_id, part, path, rows, bytes, sha256, node_group, placementid, shard_part)
			VALUES (request_id, r.parts, p->>'path', (p->>'rows')::bigint, (p->>'bytes')::bigint, p->>'sha256',
					groups[i], placements[i], (p->>'part')::integer);
		END LOOP;
		UPDATE crm_purge.request_shards t
			SET rows_done = (j->>'rows_done')::bigint, parts = (j->>'parts')::integer,
				done = (j->>'done')::boolean OR stale[i]
			WHERE t.request_id = _citus_round.request_id AND t.placementid = placements[i];
		IF j ? 'error' THEN
			finished := false;
			IF j->>'sqlstate' IN ('55P03', '57014', '40001', '40P01', '23505') THEN
				waiting := coalesce(waiting, format('placement %s: %s', placements[i], j->>'error'));
			ELSE
				error := coalesce(error, format('placement %s on %s:%s: %s', placements[i], nodes[i], ports[i], j->>'error'));
			END IF;
		ELSIF NOT (j->>'done')::boolean AND NOT stale[i] THEN
			finished := false;
		END IF;
	END LOOP;
	UPDATE crm_purge.requests q
		SET rows_done = (SELECT coalesce(sum(t.rows_done), 0) FROM crm_purge.request_shards t WHERE t.request_id = q.id),
			parts = r.parts, batches = q.batches + 1
		WHERE q.id = request_id
		RETURNING q.rows_done - done_before INTO rows;
	-- (the number after the last recorded, as batch.c's record_batch)
	INSERT INTO crm_purge.request_batches (request_id, batch, rows, started_at, finished_at, outcome)
	VALUES (request_id, greatest(r.batches + 1, (SELECT coalesce(max(b.batch), 0) + 1 FROM crm_purge.request_batches b
													WHERE b.request_id = _citus_round.request_id)),
			rows, started, clock_timestamp(),
			CASE WHEN error IS NOT NULL THEN 'error: ' || error
				 WHEN waiting IS NOT NULL THEN 'waiting: ' || waiting
				 WHEN registered > 0 AND cardinality(placements) = 0 THEN format('ok; %s placements recorded', registered)
				 ELSE format('ok; %s placements', cardinality(placements)) END
			|| CASE WHEN removed > 0 THEN format('; %s placements on removed nodes taken as last reported', removed) ELSE '' END);
END
$$;

-- Citus, on the node holding a shard placement: one batch of a request on it (batch.c)
CREATE FUNCTION crm_purge._citus_shard_batch(request_id bigint, shardid bigint, placementid bigint, work boolean,
											 known_parts integer, export boolean, modified_column name,
											 filter text, cutoff timestamptz, created_by name, keep text,
											 rows bigint, batch_rows integer, lock_timeout text, step_timeout integer,
											 round bigint) RETURNS text
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_citus_shard_batch';

-- ... the floor below which it refuses rounds' batches, raised
CREATE FUNCTION crm_purge._citus_raise_fence(floor bigint) RETURNS void
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_raise_fence';

-- Citus, on the coordinator: every node's fence raised above the rounds
-- numbered so far, so that a batch of one of them still running on its
-- node fails instead of committing (the coordinator gave up its round).
-- Called when a legal hold is made on a Citus table, and when a request on
-- one ends.  Waits for a batch between its check and its commit.
-- A node that cannot be reached is named in a WARNING: a batch given up
-- there could still commit.
CREATE FUNCTION crm_purge._citus_fence_rounds() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	floor bigint := nextval('crm_purge.citus_rounds');
	w record;
	nodes text[];
	ports integer[];
BEGIN
	EXECUTE $q$SELECT array_agg(n.nodename::text ORDER BY n.nodeid), array_agg(n.nodeport ORDER BY n.nodeid)
			   FROM pg_dist_node n WHERE n.noderole = 'primary'$q$ INTO nodes, ports;
	IF nodes IS NULL THEN
		RETURN;
	END IF;
	FOR w IN EXECUTE 'SELECT o.node_name, o.node_port, o.success, o.result FROM master_run_on_worker($1, $2, $3, true) o'
		USING nodes, ports, array_fill(format('SELECT crm_purge._citus_raise_fence(%s)', floor), ARRAY[cardinality(nodes)])
	LOOP
		IF NOT w.success THEN
			RAISE WARNING 'could not fence request rounds on Citus node %:%: %', w.node_name, w.node_port, w.result
				USING DETAIL = 'A request''s batch that the coordinator gave up on, still running there, could commit.',
					  HINT = 'Check that node; a batch there ends with its transaction (pg_stat_activity).';
		END IF;
	END LOOP;
END
$$;

-- ... the text of a part a shard's batch wrote there (crm_purge_export_read asks)
CREATE FUNCTION crm_purge._citus_shard_part(request_id bigint, placementid bigint, part integer) RETURNS text
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_shard_part';

-- ... and the end of those requests' exports there
CREATE FUNCTION crm_purge._citus_shard_expire(request_ids bigint[]) RETURNS bigint
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_shard_expire';

-- Citus, on the coordinator: the exports past their retention whose parts
-- are on worker nodes are removed there (export.c expires the rest).
-- Returns the requests whose node could not be reached: they expire later.
CREATE FUNCTION crm_purge._citus_expire_exports() RETURNS bigint[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n record;
	w record;
	waiting bigint[] := '{}';
BEGIN
	IF NOT EXISTS (SELECT FROM crm_purge.request_shards) THEN
		RETURN waiting;
	END IF;
	FOR n IN EXECUTE $q$
		SELECT d.nodename::text AS node, d.nodeport AS port, array_agg(DISTINCT s.request_id) AS ids
		FROM crm_purge.request_shards s JOIN crm_purge.requests r ON r.id = s.request_id
		JOIN pg_dist_node d ON d.groupid = s.node_group AND d.noderole = 'primary'
		WHERE NOT r.export_expired AND r.export_expires_at < now() AND r.status NOT IN ('queued', 'in_progress')
		GROUP BY d.nodename, d.nodeport$q$
	LOOP
		EXECUTE 'SELECT success, result FROM master_run_on_worker($1, $2, $3, false)'
			INTO w USING ARRAY[n.node], ARRAY[n.port], ARRAY[format('SELECT crm_purge._citus_shard_expire(%L)', n.ids)];
		IF NOT w.success THEN
			RAISE WARNING 'could not remove expired export files on Citus node %:%: %', n.node, n.port, w.result;
			waiting := waiting || n.ids;
		END IF;
	END LOOP;
	RETURN waiting;
END
$$;
