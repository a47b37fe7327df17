-- 02_common: shared entry points: admin checks, filters, names, notifications, the worker's wake-up

CREATE FUNCTION crm_purge._check_admin(action text) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_check_admin';

CREATE FUNCTION crm_purge._is_admin() RETURNS boolean
	LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'crm_purge_is_admin_sql';

CREATE FUNCTION crm_purge._check_filter(filter text) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_check_filter_sql';

-- ... and one that runs later: it must read the same where it runs
CREATE FUNCTION crm_purge._check_deferred_filter(filter text) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_check_deferred_filter_sql';

-- An admin's erase or delete on other roles' tables runs in this
-- transaction: owners' code in it may not act as the admin (security.c).
CREATE FUNCTION crm_purge._mark_foreign_work() RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_mark_foreign_work_sql';

-- An admin's query picking rows of tbl (or its trash) by the admin's filter
-- or keys ($1 = arg, $2 = arg2):
-- as the admin, restricted; a superuser's as the table's owner
-- (security.c, crm_purge_become_picker).
CREATE FUNCTION crm_purge._pick(tbl regclass, query text, arg text[], arg2 text[] DEFAULT NULL) RETURNS SETOF record
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_pick';

-- An admin's delete or unlink of rows it picked, by partition and ctid, as
-- the table's owner (security.c, crm_purge_foreign_write_begin).
CREATE FUNCTION crm_purge._owner_write(tbl regclass, parts oid[], tids tid[], cols int2[], anonymize boolean)
	RETURNS int[] LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_owner_write';

CREATE FUNCTION crm_purge._wake_launcher() RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_wake_launcher_sql';

-- Raises the standard 42501 error unless the caller is an admin; true otherwise.
CREATE FUNCTION crm_purge._require_admin(action text) RETURNS boolean
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_require_admin_sql';

-- Admins: members with the privileges of crm_purge_admin (INHERIT counts).
CREATE FUNCTION crm_purge._admins() RETURNS SETOF name
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT r.rolname FROM pg_roles r
	WHERE r.rolcanlogin AND (r.rolsuper OR pg_has_role(r.oid, 'crm_purge_admin', 'USAGE'))
	ORDER BY 1
$$;

-- A table's name as history and notifications show it, whatever the search_path.
CREATE FUNCTION crm_purge._qualified(tbl regclass) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce((SELECT format('%I.%I', n.nspname, c.relname)
					 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl),
					tbl::oid::text)
$$;

-- NOTIFY crm_purge and one notifications row per recipient.
CREATE FUNCTION crm_purge._notify(event text, recipients name[], request_id bigint,
								  purge_id bigint, payload jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p jsonb := jsonb_build_object('event', event, 'request_id', request_id, 'purge_id', purge_id,
								  'recipients', to_jsonb(recipients)) || coalesce(payload, '{}');
BEGIN
	INSERT INTO crm_purge.notifications (recipient, event, request_id, purge_id, payload)
		SELECT r, event, request_id, purge_id, p FROM unnest(recipients) r;
	-- (any role may LISTEN: the channel names the event only; the details,
	-- errors that may quote row values among them, are read from
	-- crm_purge.notifications under its row-level security; review round
	-- 55, A55-2)
	PERFORM pg_notify('crm_purge', jsonb_build_object('event', event, 'request_id', request_id,
													  'purge_id', purge_id)::text);
END
$$;

-- Identity by OID: roles that act are recorded as regrole (their OID);
-- names are only shown.  A role dropped and made again under the same
-- name gets nothing of the old one's.  (Names recorded by 1.0 are mapped
-- to the role of that name now, or to OID 0 when there is none.)
CREATE FUNCTION crm_purge._role_of(n text) RETURNS regrole
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = n), 0)::oid::regrole
$$;

-- The one writer of crm_purge.history (C calls it too): an action, its
-- table, how many rows, who (by default the current role), and what it
-- belongs to.  Never row contents or keys.
CREATE FUNCTION crm_purge._record_history(action text, tbl regclass, rows bigint, actor name DEFAULT NULL,
										  request_id bigint DEFAULT NULL, purge_id bigint DEFAULT NULL,
										  deletion_id bigint DEFAULT NULL) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO crm_purge.history (action, table_name, rows, actor, request_id, purge_id, deletion_id,
								   app_actor, reason)
	VALUES (action, CASE WHEN tbl IS NOT NULL THEN crm_purge._qualified(tbl) END, rows,
			coalesce(actor, current_user), request_id, purge_id, deletion_id,
			nullif(current_setting('crm_purge.actor', true), ''),
			nullif(current_setting('crm_purge.reason', true), ''))
$$;

-- The trash of a protected table, or NULL: the one place SQL finds it.
CREATE FUNCTION crm_purge._trash(tbl regclass) RETURNS regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT p.trash FROM crm_purge.protected_tables p WHERE p.tbl = _trash.tbl
$$;

-- The trash crm_purge_unprotect kept for tbl (crm_purge_protect takes it
-- back), or NULL.
CREATE FUNCTION crm_purge._kept_trash(tbl regclass) RETURNS regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	-- (by OID, since 1.1; by the name of a table dropped since, or before)
	SELECT c.oid::regclass FROM pg_class c
		LEFT JOIN crm_purge.kept_trashes k ON k.trash = c.oid AND k.tbl = _kept_trash.tbl::oid
		LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
		WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'crm_trash') AND c.relkind = 'p'
		  AND (k.tbl IS NOT NULL OR d.description = 'crm_purge trash of ' || _kept_trash.tbl::text)
		  -- (by name only a trash no other table kept: one of a table renamed
		  -- since is that table's; review round 46, B46-1)
		  AND NOT EXISTS (SELECT FROM crm_purge.kept_trashes k2 WHERE k2.trash = c.oid AND k2.tbl <> _kept_trash.tbl::oid)
		  AND NOT EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.trash = c.oid)
		ORDER BY k.tbl IS NULL, c.oid LIMIT 1
$$;


-- Is tbl a Citus table (distributed, reference or Citus local)?  false
-- without Citus.
CREATE FUNCTION crm_purge._citus_table(tbl regclass) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	found boolean;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
		RETURN false;
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM pg_dist_partition p WHERE p.logicalrelid = $1)' INTO found USING tbl;
	RETURN found;
END
$$;

-- A table's size on disk (total: with its indexes and TOAST); a Citus
-- table's is its shards' (the coordinator's shell holds nothing).
CREATE FUNCTION crm_purge._relation_size(rel regclass, total boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
	failed text;
BEGIN
	IF crm_purge._citus_table(rel) THEN
		-- each shard asked on its node (Citus's size functions refuse to run
		-- in a transaction that modified several shards, as the worker's does)
		EXECUTE format('SELECT sum(s.result::bigint) FILTER (WHERE s.success), min(s.result) FILTER (WHERE NOT s.success)'
					   ' FROM run_command_on_shards($1, %L) s',
					   CASE WHEN total THEN 'SELECT pg_catalog.pg_total_relation_size(%L)'
							ELSE 'SELECT pg_catalog.pg_relation_size(%L)' END)
			INTO n, failed USING rel;
		IF failed IS NOT NULL THEN
			RAISE EXCEPTION 'could not read the size of a shard of %: %', rel, failed
				USING ERRCODE = 'connection_failure';
		END IF;
		RETURN coalesce(n, 0);
	END IF;
	RETURN CASE WHEN total THEN pg_total_relation_size(rel) ELSE pg_relation_size(rel) END;
END
$$;


-- Citus: does "<schema>__<table>" name tbl alone?  Neither name holds
-- "__", the schema does not end with "_", the table does not start with it.
CREATE FUNCTION crm_purge._citus_name_ok(tbl regclass) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT strpos(n.nspname, '__') = 0 AND strpos(c.relname, '__') = 0
		   AND right(n.nspname, 1) <> '_' AND left(c.relname, 1) <> '_'
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl
$$;
