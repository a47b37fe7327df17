-- 05_purge: marks, the pending permanent purge, the overview and history views

CREATE FUNCTION crm_purge._trash_of(tbl regclass, action text) RETURNS regclass
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
BEGIN
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	tr := crm_purge._trash(_trash_of.tbl);
	IF tr IS NULL THEN
		RAISE EXCEPTION 'table % is not protected by crm_purge', tbl
			USING ERRCODE = 'undefined_object', HINT = action || ' works on the trash of protected tables.';
	END IF;
	RETURN tr;
END
$$;

CREATE FUNCTION crm_purge._refuse_while_pending() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	pid bigint;
BEGIN
	SELECT id INTO pid FROM crm_purge.purges WHERE status IN ('pending', 'running');
	IF pid IS NOT NULL THEN
		RAISE EXCEPTION 'a permanent deletion is already pending (id %); wait for it or cancel it', pid
			USING ERRCODE = 'object_in_use';
	END IF;
END
$$;

-- The filter picks rows as the caller's picks run (crm_purge._pick: the
-- owner's types' code in it never runs unmarked with the admin's rights);
-- the marks are set by the owner.
CREATE FUNCTION crm_purge._mark(action text, tbl regclass, filter text, marked boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
	nums bigint[];
BEGIN
	PERFORM crm_purge._check_admin(action);
	PERFORM crm_purge._check_filter(filter);
	SELECT x.i, x.r INTO ids, nums FROM crm_purge._pick(tbl,
		format('SELECT array_agg(deletion_id), array_agg(trash_row) FROM %s WHERE (%s%s)',
			   crm_purge._trash_of(tbl, action), coalesce(filter, 'true'), E'\n'), NULL) AS x(i bigint[], r bigint[]);
	RETURN crm_purge._set_marks(tbl, coalesce(ids, '{}'), coalesce(nums, '{}'), marked);
END
$$;
CREATE FUNCTION crm_purge_mark(tbl regclass, filter text) RETURNS bigint
LANGUAGE sql AS $$ SELECT crm_purge._mark('crm_purge_mark', tbl, filter, true) $$;

CREATE FUNCTION crm_purge_unmark(tbl regclass, filter text) RETURNS bigint
LANGUAGE sql AS $$ SELECT crm_purge._mark('crm_purge_unmark', tbl, filter, false) $$;

CREATE FUNCTION crm_purge_activate() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_activate');
	RETURN crm_purge._activate();
END
$$;

CREATE FUNCTION crm_purge_cancel(purge_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_cancel');
	IF purge_id IS NULL THEN
		RAISE EXCEPTION 'purge_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._cancel(purge_id);
END
$$;

-- One batch of the due purge; returns true while more remains.  The purge
-- row stays locked for the batch, so a cancel either commits first (and
-- wins) or waits and finds the purge running.
CREATE FUNCTION crm_purge._purge_trash_batch(tbl regclass, marked_before timestamptz, max_rows integer)
	RETURNS bigint[] LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_purge_trash_batch_sql';

CREATE FUNCTION crm_purge._purge_step(batch_size integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p crm_purge.purges;
	t record;
	n bigint;
	left_over bigint := batch_size;
	who name;
	r bigint[];
	purged bigint := 0;
	busy boolean := false;
	err_text text;
	err_detail text;
BEGIN
	SELECT * INTO p FROM crm_purge.purges q
		WHERE (q.status = 'pending' AND q.due_at <= now()) OR q.status = 'running'
		ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	who := pg_get_userbyid(p.activated_by);
	IF p.status = 'pending' THEN
		UPDATE crm_purge.purges q SET status = 'running', started_at = now() WHERE q.id = p.id;
	END IF;
	FOR t IN SELECT pt.tbl FROM crm_purge.protected_tables pt ORDER BY pt.tbl LOOP
		EXIT WHEN left_over <= 0;
		-- one transaction goes over every table: it never waits for one
		-- while it holds those before (a migration altering two of them
		-- deadlocked with trash expiry); a busy one waits for the next step
		-- (a Citus table: LOCK would go to every node)
		BEGIN
			IF NOT crm_purge._citus_table(t.tbl) THEN
				EXECUTE format('LOCK TABLE %s IN ACCESS SHARE MODE NOWAIT', t.tbl);
				EXECUTE format('LOCK TABLE %s IN ROW EXCLUSIVE MODE NOWAIT', crm_purge._trash(t.tbl));
			END IF;
		EXCEPTION WHEN lock_not_available THEN
			busy := true;
			CONTINUE;
		END;
		-- one mechanism with trash expiry: candidates, holds (held rows are
		-- unmarked: never purged), then the rest by ctid.  A table that
		-- fails (a hold that cannot be checked, say) waits, with its error
		-- in view; the others go on
		BEGIN
			r := crm_purge._purge_trash_batch(t.tbl, p.activated_at, left_over::integer);
			DELETE FROM crm_purge.errors e WHERE e.task = 'purge' AND e.tbl = t.tbl::oid;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS err_text = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL;
			RAISE WARNING 'crm_purge purge of % failed: %', t.tbl, err_text
				USING DETAIL = err_detail, HINT = 'The other tables are purged; this one is tried again at the next step (view crm_purge_errors).';
			INSERT INTO crm_purge.errors AS e (task, tbl, error, next_try)
				VALUES ('purge', t.tbl::oid, err_text || CASE WHEN err_detail <> '' THEN ' (' || err_detail || ')' ELSE '' END,
						now() + current_setting('crm_purge.naptime')::interval)
				ON CONFLICT (task, tbl) DO UPDATE SET error = EXCLUDED.error, retries = e.retries + 1,
					next_try = EXCLUDED.next_try;
			busy := true;
			CONTINUE;
		END;
		IF r[2] > 0 THEN
			PERFORM crm_purge._record_history('purge kept held rows', t.tbl, r[2], who, purge_id => p.id);
		END IF;
		IF r[1] > 0 THEN
			PERFORM crm_purge._record_history('purge', t.tbl, r[1], who, purge_id => p.id);
		END IF;
		left_over := left_over - r[1] - r[2];
		purged := purged + r[1];
	END LOOP;
	UPDATE crm_purge.purges q SET rows_done = rows_done + purged WHERE q.id = p.id;
	IF busy AND purged = 0 THEN
		RETURN false;	-- nothing to do until the table is free: the next round
	END IF;
	IF left_over > 0 AND NOT busy THEN
		UPDATE crm_purge.purges q SET status = 'done', finished_at = now() WHERE q.id = p.id
			RETURNING * INTO p;
		-- marked rows of a trash whose table was unprotected or dropped while
		-- the purge waited stay: said, not passed over in silence
		FOR t IN SELECT c.oid::regclass AS trash FROM pg_class c
				 JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
				 WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'crm_trash')
				   AND c.relkind = 'p' AND d.description LIKE 'crm_purge trash of %'
				   AND NOT EXISTS (SELECT FROM crm_purge.protected_tables pt WHERE pt.trash = c.oid) LOOP
			EXECUTE format('SELECT count(*) FROM %s WHERE marked_at <= $1', t.trash) USING p.activated_at INTO n;
			IF n > 0 THEN
				PERFORM crm_purge._record_history('purge left kept trash', t.trash, n, who, purge_id => p.id);
				RAISE WARNING 'crm_purge purge % left % marked rows in trash %: its table was unprotected or dropped', p.id, n, t.trash
					USING HINT = 'Protect the table again to purge them with the next purge, or drop that trash.';
			END IF;
		END LOOP;
		PERFORM crm_purge._record_history('purge done', NULL, p.rows_done, who, purge_id => p.id);
		PERFORM crm_purge._notify('purge done', ARRAY(SELECT crm_purge._admins()), NULL, p.id,
								  jsonb_build_object('rows', p.rows_done));
	END IF;
	RETURN true;
END
$$;

-- counted as the table's owner, restricted (src/catalog.c)
CREATE FUNCTION crm_purge._live_rows(tbl regclass) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_live_rows';

-- Only tables the caller may read, instead of failing on the first other.
CREATE FUNCTION crm_purge._overview()
RETURNS TABLE ("table" regclass, live_rows bigint, live_bytes bigint, trashed_rows bigint,
			   trashed_bytes bigint, marked_rows bigint, pending_purge_id bigint, pending_due_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
	pp crm_purge.purges;
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_overview');
	SELECT * INTO pp FROM crm_purge.purges q WHERE q.status IN ('pending', 'running');
	FOR t IN SELECT p.tbl, p.trash FROM crm_purge.protected_tables p
			 WHERE coalesce(has_table_privilege(p.tbl, 'SELECT'), false) ORDER BY p.tbl::text LOOP
		"table" := t.tbl;
		-- a failure of the owner's code leaves this table's count out, not the overview
		BEGIN
			live_rows := crm_purge._live_rows(t.tbl);
		EXCEPTION WHEN OTHERS THEN
			live_rows := NULL;
			RAISE WARNING 'could not count the rows of table %: %', t.tbl, SQLERRM;
		END;
		-- a partitioned table has no storage of its own, nor has the trash (its segments do)
		live_bytes := coalesce((SELECT sum(crm_purge._relation_size(x.relid, true))::bigint
								FROM pg_partition_tree(t.tbl) x WHERE x.isleaf),
							   crm_purge._relation_size(t.tbl, true));
		EXECUTE format('SELECT count(*), count(marked_at) FROM %s', t.trash) INTO trashed_rows, marked_rows;
		trashed_bytes := coalesce((SELECT sum(crm_purge._relation_size(x.relid, true))::bigint
								   FROM pg_partition_tree(t.trash) x WHERE x.isleaf), 0);
		pending_purge_id := CASE WHEN marked_rows > 0 THEN pp.id END;
		pending_due_at := CASE WHEN marked_rows > 0 THEN pp.due_at END;
		RETURN NEXT;
	END LOOP;
END
$$;

CREATE VIEW crm_purge_overview AS SELECT * FROM crm_purge._overview();

CREATE FUNCTION crm_purge._history()
RETURNS TABLE (at timestamptz, action text, "table" text, rows bigint, actor name,
			   request_id bigint, purge_id bigint, deletion_id bigint, app_actor text, reason text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_history');
	RETURN QUERY SELECT h.at, h.action, h.table_name, h.rows, h.actor, h.request_id, h.purge_id, h.deletion_id,
						h.app_actor, h.reason
		FROM crm_purge.history h ORDER BY h.id;
END
$$;

CREATE VIEW crm_purge_history AS SELECT * FROM crm_purge._history();

CREATE FUNCTION crm_purge._held_rows(tbl regclass, ids bigint[], nums bigint[])
RETURNS TABLE (deletion_id bigint, trash_row bigint)
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_held_rows';

-- Trash rows are named by (deletion_id, trash_row): ids[i], nums[i].
CREATE FUNCTION crm_purge._set_marks(tbl regclass, ids bigint[], nums bigint[], marked boolean) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._set_marks_impl(actor regrole, tbl regclass, ids bigint[], nums bigint[], marked boolean)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'SELECT') AND has_table_privilege(actor, tbl, 'DELETE'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Marking trashed rows for permanent deletion needs SELECT and DELETE on the table.';
	END IF;
	-- an older snapshot would miss a purge activated after it was taken,
	-- and change marks under it (review round 55, B55-2)
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION '% cannot run in a % transaction', CASE WHEN marked THEN 'crm_purge_mark' ELSE 'crm_purge_unmark' END, upper(current_setting('transaction_isolation'))
			USING ERRCODE = 'active_sql_transaction',
				  DETAIL = 'Its snapshot would miss a permanent deletion activated after it was taken.',
				  HINT = 'Nothing was changed. Run it in a READ COMMITTED transaction (the default).';
	END IF;
	LOCK TABLE crm_purge.purges IN SHARE ROW EXCLUSIVE MODE;
	PERFORM crm_purge._refuse_while_pending();
	-- held rows are never marked
	IF marked THEN
		SELECT coalesce(array_agg(u.i), '{}'), coalesce(array_agg(u.r), '{}') INTO ids, nums
		FROM unnest(ids, nums) u(i, r)
		WHERE NOT EXISTS (SELECT FROM crm_purge._held_rows(tbl, ids, nums) h WHERE h.deletion_id = u.i AND h.trash_row = u.r);
	END IF;
	-- the time as a value: Citus runs no now() per row on its shards
	EXECUTE format('UPDATE %s t SET marked_at = $4 '
				   'WHERE (t.deletion_id, t.trash_row) IN (SELECT * FROM unnest($1, $2)) AND (t.marked_at IS NULL) = $3',
				   crm_purge._trash_of(tbl, 'marking'))
		USING ids, nums, marked, CASE WHEN marked THEN clock_timestamp() END;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

CREATE FUNCTION crm_purge._activate() RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._activate_impl(actor regrole) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint := 0;
	c bigint;
	t record;
	pid bigint;
	who name := pg_get_userbyid(actor);
	due timestamptz;
BEGIN
	-- an older snapshot would miss a purge activated after it was taken,
	-- and change marks under it (review round 55, B55-2)
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION '% cannot run in a % transaction', 'crm_purge_activate', upper(current_setting('transaction_isolation'))
			USING ERRCODE = 'active_sql_transaction',
				  DETAIL = 'Its snapshot would miss a permanent deletion activated after it was taken.',
				  HINT = 'Nothing was changed. Run it in a READ COMMITTED transaction (the default).';
	END IF;
	LOCK TABLE crm_purge.purges IN SHARE ROW EXCLUSIVE MODE;
	PERFORM crm_purge._refuse_while_pending();
	FOR t IN SELECT p.tbl, p.trash FROM crm_purge.protected_tables p ORDER BY p.tbl LOOP
		EXECUTE format('SELECT count(*) FROM %s WHERE marked_at IS NOT NULL', t.trash) INTO c;
		-- the purge deletes them: its activator must be allowed to
		IF c > 0 AND NOT coalesce(has_table_privilege(actor, t.tbl, 'SELECT')
								  AND has_table_privilege(actor, t.tbl, 'DELETE'), false) THEN
			RAISE EXCEPTION 'permission denied to activate the purge: rows of table % are marked, and you may not delete from it', t.tbl
				USING ERRCODE = 'insufficient_privilege',
					  HINT = 'An admin with SELECT and DELETE on every table with marked rows activates the purge; or unmark those rows.';
		END IF;
		n := n + c;
	END LOOP;
	IF n = 0 THEN
		RAISE EXCEPTION 'no trashed rows are marked for permanent deletion'
			USING ERRCODE = 'no_data_found', HINT = 'Mark rows with crm_purge_mark(table, filter) first.';
	END IF;
	-- (after the lock: every mark stamped before it is counted and purged, none after)
	due := clock_timestamp();
	INSERT INTO crm_purge.purges (activated_by, activated_at, due_at, rows)
		VALUES (actor, due, due + current_setting('crm_purge.pending_period')::interval, n)
		RETURNING id, due_at INTO pid, due;
	PERFORM crm_purge._record_history('purge activated', NULL, n, who, purge_id => pid);
	PERFORM crm_purge._notify('purge activated', ARRAY(SELECT crm_purge._admins()), NULL, pid,
							  jsonb_build_object('rows', n, 'due_at', due, 'activated_by', who));
	RETURN pid;
END
$$;

CREATE FUNCTION crm_purge._cancel(purge_id bigint) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._cancel_impl(actor regrole, purge_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p crm_purge.purges;
	who name := pg_get_userbyid(actor);
BEGIN
	SELECT * INTO p FROM crm_purge.purges q WHERE q.id = purge_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'permanent deletion % does not exist', purge_id USING ERRCODE = 'undefined_object';
	END IF;
	IF p.status <> 'pending' THEN
		RAISE EXCEPTION 'permanent deletion % cannot be cancelled: it is %', purge_id,
			CASE p.status WHEN 'running' THEN 'running already'
						  WHEN 'done' THEN 'done: the purge already ran'
						  ELSE 'cancelled already' END
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE crm_purge.purges q SET status = 'cancelled', cancelled_by = actor, finished_at = now()
		WHERE q.id = purge_id;
	PERFORM crm_purge._record_history('purge cancelled', NULL, 0, who, purge_id => purge_id);
	PERFORM crm_purge._notify('purge cancelled', ARRAY(SELECT crm_purge._admins()), NULL, purge_id,
							  jsonb_build_object('cancelled_by', who));
END
$$;

COMMENT ON FUNCTION crm_purge_mark(regclass, text) IS 'marks trashed rows for permanent deletion';

COMMENT ON FUNCTION crm_purge_unmark(regclass, text) IS 'takes marks off trashed rows';

COMMENT ON FUNCTION crm_purge_activate() IS 'turns all marked rows into one purge, due after crm_purge.pending_period';

COMMENT ON FUNCTION crm_purge_cancel(bigint) IS 'cancels a pending purge; the marks stay';

COMMENT ON VIEW crm_purge_overview IS 'per protected table: live, trashed and marked rows, and the pending purge';

COMMENT ON VIEW crm_purge_history IS 'every restore, trash expiry, request, purge and erasure; no personal data';

COMMENT ON FUNCTION crm_purge._held_rows(regclass, bigint[], bigint[]) IS 'which of these trash rows a legal hold keeps; each hold''s filter runs as its creator';
