/* crm_purge--1.0.sql */

\echo Use "CREATE EXTENSION crm_purge" to load this file. \quit

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'crm_purge_admin') THEN
		CREATE ROLE crm_purge_admin NOLOGIN;
	END IF;
END
$$;

CREATE SCHEMA crm_purge;
COMMENT ON SCHEMA crm_purge IS 'crm_purge catalogs';
GRANT USAGE ON SCHEMA crm_purge TO PUBLIC;
-- Schema crm_trash is made by the first crm_purge_protect, outside this
-- script: trash is user data, dumped with the database like any table, and
-- DROP EXTENSION ... CASCADE must not take it along.

-- catalogs ----------------------------------------------------------------

CREATE TABLE crm_purge.protected_tables (
	tbl				regclass PRIMARY KEY,
	trash			regclass NOT NULL UNIQUE,
	retention		interval CHECK (retention > interval '0'),
	protected_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	protected_by	name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE crm_purge.protected_tables IS 'tables whose DELETEs go to a trash table';
COMMENT ON COLUMN crm_purge.protected_tables.retention IS 'how long trashed rows are kept; NULL: crm_purge.trash_retention';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.protected_tables', '');

CREATE SEQUENCE crm_purge.deletion_id_seq;
COMMENT ON SEQUENCE crm_purge.deletion_id_seq IS 'one value per deleting top-level statement';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.deletion_id_seq', '');

CREATE TABLE crm_purge.unlinks (
	deletion_id		bigint NOT NULL,
	child			regclass NOT NULL,
	constraint_name	name NOT NULL,
	child_key		text[] NOT NULL,
	parent_ref		text[] NOT NULL
);
CREATE INDEX ON crm_purge.unlinks (deletion_id);
COMMENT ON TABLE crm_purge.unlinks IS 'child rows an ON DELETE SET NULL key unlinked, so that crm_purge_restore_deletion can link them again';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.unlinks', '');

CREATE TABLE crm_purge.history (
	id			bigserial PRIMARY KEY,
	at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	action		text NOT NULL,
	table_name	text,
	rows		bigint,
	actor		name NOT NULL DEFAULT CURRENT_USER,
	request_id	bigint,
	purge_id	bigint,
	deletion_id	bigint
);
COMMENT ON TABLE crm_purge.history IS 'restores, trash expiries, requests, purges and erasures; never row contents or key values';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.history', '');
SELECT pg_catalog.pg_extension_config_dump('crm_purge.history_id_seq', '');

-- C entry points ----------------------------------------------------------

CREATE FUNCTION crm_purge._check_admin(action text) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_check_admin';
CREATE FUNCTION crm_purge._is_admin() RETURNS boolean
	LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'crm_purge_is_admin_sql';
CREATE FUNCTION crm_purge._trash_row_visible(trash oid, deleted_by text) RETURNS boolean
	LANGUAGE C STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'crm_purge_trash_row_visible';
COMMENT ON FUNCTION crm_purge._trash_row_visible(oid, text) IS 'row-level security of trash tables';
CREATE FUNCTION crm_purge._check_filter(filter text) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_check_filter_sql';
CREATE FUNCTION crm_purge._wake_launcher() RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_wake_launcher_sql';
CREATE FUNCTION crm_purge.trash_trigger() RETURNS trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_trash_trigger';
COMMENT ON FUNCTION crm_purge.trash_trigger() IS 'moves deleted rows of a protected table into its trash (row trigger buffers, statement trigger writes); refuses TRUNCATE';
CREATE FUNCTION crm_purge.unlink_trigger() RETURNS trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_unlink_trigger';
COMMENT ON FUNCTION crm_purge.unlink_trigger() IS 'remembers child rows an ON DELETE SET NULL key unlinked from a protected table';
CREATE FUNCTION crm_purge.ddl_trigger() RETURNS event_trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_ddl_trigger';
REVOKE ALL ON FUNCTION crm_purge._wake_launcher() FROM PUBLIC;

-- trash tables ------------------------------------------------------------

-- Column list of the live table, as the trash table needs it.
CREATE FUNCTION crm_purge._column_ddl(tbl regclass, col name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod))
		|| CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
			THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
	FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
	WHERE a.attrelid = tbl AND a.attname = col
$$;

-- Brings the trash table's columns in line with the live table: adds new
-- columns, follows type changes.  Dropped live columns stay in the trash so
-- that trashed values are not lost.  Renames are done by ddl_trigger, which
-- sees the old name.
CREATE FUNCTION crm_purge._sync_trash(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
	c record;
	dflt text;
BEGIN
	SELECT p.trash INTO tr FROM crm_purge.protected_tables p WHERE p.tbl = _sync_trash.tbl;
	IF tr IS NULL THEN
		RETURN;
	END IF;
	FOR c IN
		SELECT a.attname, a.atttypid, a.atttypmod, t.atttypid AS ttyp, t.atttypmod AS ttypmod
		FROM pg_attribute a
		LEFT JOIN pg_attribute t ON t.attrelid = tr AND t.attname = a.attname AND NOT t.attisdropped
		WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum
	LOOP
		IF c.ttyp IS NULL THEN
			-- a non-volatile default filled the live rows (atthasmissing):
			-- rows trashed before the column existed get it too
			SELECT pg_get_expr(d.adbin, d.adrelid) INTO dflt
				FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
				WHERE a.attrelid = tbl AND a.attname = c.attname AND a.atthasmissing;
			EXECUTE format('ALTER TABLE %s ADD COLUMN %s', tr, crm_purge._column_ddl(tbl, c.attname))
				|| coalesce(' DEFAULT ' || dflt, '');
			IF dflt IS NOT NULL THEN
				EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', tr, c.attname);
			END IF;
		ELSIF c.ttyp <> c.atttypid OR c.ttypmod <> c.atttypmod THEN
			EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::%s',
						   tr, c.attname, format_type(c.atttypid, c.atttypmod),
						   c.attname, format_type(c.atttypid, c.atttypmod));
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._sync_trash(regclass) FROM PUBLIC;

CREATE FUNCTION crm_purge._rename_trash_column(tbl regclass, old_name name, new_name name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
BEGIN
	SELECT p.trash INTO tr FROM crm_purge.protected_tables p WHERE p.tbl = _rename_trash_column.tbl;
	IF tr IS NOT NULL AND EXISTS (SELECT FROM pg_attribute
								  WHERE attrelid = tr AND attname = old_name AND NOT attisdropped) THEN
		EXECUTE format('ALTER TABLE %s RENAME COLUMN %I TO %I', tr, old_name, new_name);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._rename_trash_column(regclass, name, name) FROM PUBLIC;

-- Unlink triggers on the children whose ON DELETE SET NULL key points at tbl.
CREATE FUNCTION crm_purge._create_unlink_triggers(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c record;
BEGIN
	FOR c IN
		SELECT con.conname, con.conrelid::regclass AS child,
			   string_agg(format('OLD.%1$I IS NOT NULL AND NEW.%1$I IS NULL', a.attname), ' AND ' ORDER BY k.ord) AS cond
		FROM pg_constraint con
		CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
		WHERE con.confrelid = tbl AND con.contype = 'f' AND con.confdeltype IN ('n', 'd')
		GROUP BY con.oid, con.conname, con.conrelid
	LOOP
		EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW '
					   'WHEN (pg_catalog.pg_trigger_depth() > 0 AND %s) '
					   'EXECUTE FUNCTION crm_purge.unlink_trigger(%L)',
					   left('crm_purge_unlink_' || c.conname, 63), c.child, c.cond, c.conname);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._create_unlink_triggers(regclass) FROM PUBLIC;

CREATE FUNCTION crm_purge._protect(tbl regclass, retention interval) RETURNS regclass
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rel record;
	trash_name text;
	tr regclass;
	cols text;
	reserved name;
BEGIN
	SELECT c.relkind, c.relpersistence, c.relispartition, n.nspname, c.relname
		INTO rel
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = tbl;
	IF rel.relkind = 'p' OR rel.relispartition
		OR EXISTS (SELECT FROM pg_inherits WHERE inhrelid = tbl OR inhparent = tbl) THEN
		RAISE EXCEPTION 'cannot protect table %: partitioned and inheritance tables are not supported', tbl
			USING ERRCODE = 'feature_not_supported';
	END IF;
	IF rel.relkind <> 'r' THEN
		RAISE EXCEPTION '"%" is not a table', tbl
			USING ERRCODE = 'wrong_object_type', HINT = 'Only ordinary tables can be protected.';
	END IF;
	IF rel.relpersistence = 't' THEN
		RAISE EXCEPTION 'cannot protect temporary table %', tbl USING ERRCODE = 'feature_not_supported';
	END IF;
	IF rel.nspname IN ('pg_catalog', 'information_schema', 'crm_purge', 'crm_trash', 'pg_toast') THEN
		RAISE EXCEPTION 'cannot protect table %: it is in system schema "%"', tbl, rel.nspname
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = tbl AND contype = 'p') THEN
		RAISE EXCEPTION 'table % has no primary key', tbl
			USING ERRCODE = 'invalid_table_definition',
				  HINT = 'crm_purge restores rows by their key: add one with ALTER TABLE ... ADD PRIMARY KEY.';
	END IF;
	IF EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = _protect.tbl) THEN
		RAISE EXCEPTION 'table % is already protected', tbl
			USING ERRCODE = 'duplicate_object',
				  HINT = 'To change its retention, run crm_purge_unprotect and crm_purge_protect again; the trash is kept.';
	END IF;
	SELECT a.attname INTO reserved FROM pg_attribute a
		WHERE a.attrelid = tbl AND NOT a.attisdropped
		  AND a.attname IN ('deleted_at', 'deleted_by', 'deletion_id', 'marked_at');
	IF FOUND THEN
		RAISE EXCEPTION 'cannot protect table %: it has a column named "%"', tbl, reserved
			USING ERRCODE = 'duplicate_column',
				  DETAIL = 'The trash table adds the columns deleted_at, deleted_by, deletion_id and marked_at.';
	END IF;

	trash_name := rel.nspname || '__' || rel.relname;
	IF octet_length(trash_name) > 63 THEN
		RAISE EXCEPTION 'cannot protect table %: trash table name "%" is longer than 63 bytes', tbl, trash_name
			USING ERRCODE = 'name_too_long', HINT = 'Rename the table or its schema to something shorter.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'crm_trash') THEN
		CREATE SCHEMA crm_trash;
		COMMENT ON SCHEMA crm_trash IS 'crm_purge trash tables: rows deleted from protected tables';
		GRANT USAGE ON SCHEMA crm_trash TO PUBLIC;
	END IF;
	tr := to_regclass(format('crm_trash.%I', trash_name));
	IF tr IS NULL THEN
		SELECT string_agg(crm_purge._column_ddl(tbl, a.attname), ', ' ORDER BY a.attnum) INTO cols
			FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped;
		EXECUTE format('CREATE TABLE crm_trash.%I (%s, deleted_at timestamptz NOT NULL, '
					   'deleted_by text NOT NULL, deletion_id bigint NOT NULL, marked_at timestamptz)',
					   trash_name, cols);
		tr := format('crm_trash.%I', trash_name)::regclass;
		-- BRIN: both columns grow with insertion order, and a BRIN insert is
		-- nearly free, which keeps DELETE on the protected table fast.
		EXECUTE format('CREATE INDEX ON %s USING brin (deletion_id, deleted_at)', tr);
		EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tr);
		-- Users see the rows they deleted from tables they may read; admins all.
		EXECUTE format('CREATE POLICY crm_purge_own_rows ON %s FOR SELECT USING '
					   '(crm_purge._trash_row_visible(tableoid, deleted_by))', tr);
		EXECUTE format('GRANT SELECT ON %s TO PUBLIC', tr);
		EXECUTE format('COMMENT ON TABLE %s IS %L', tr, 'crm_purge trash of ' || tbl::text);
	ELSE
		INSERT INTO crm_purge.protected_tables (tbl, trash, retention) VALUES (tbl, tr, retention);
		PERFORM crm_purge._sync_trash(tbl);
		DELETE FROM crm_purge.protected_tables p WHERE p.tbl = _protect.tbl;
	END IF;

	INSERT INTO crm_purge.protected_tables (tbl, trash, retention, protected_by)
		VALUES (tbl, tr, retention, session_user);
	EXECUTE format('CREATE TRIGGER crm_purge_trash AFTER DELETE ON %s '
				   'FOR EACH ROW EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	EXECUTE format('CREATE TRIGGER crm_purge_trash_flush AFTER DELETE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	EXECUTE format('CREATE TRIGGER crm_purge_no_truncate BEFORE TRUNCATE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	PERFORM crm_purge._create_unlink_triggers(tbl);
	RETURN tr;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._protect(regclass, interval) FROM PUBLIC;

CREATE FUNCTION crm_purge._unprotect(tbl regclass, drop_trash boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
	t record;
BEGIN
	DELETE FROM crm_purge.protected_tables p WHERE p.tbl = _unprotect.tbl RETURNING p.trash INTO tr;
	IF tr IS NULL THEN
		RAISE EXCEPTION 'table % is not protected by crm_purge', tbl USING ERRCODE = 'undefined_object';
	END IF;
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_trash ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_trash_flush ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_no_truncate ON %s', tbl);
	FOR t IN
		SELECT tg.tgname, tg.tgrelid::regclass AS child
		FROM pg_trigger tg JOIN pg_constraint con
			ON con.conrelid = tg.tgrelid AND tg.tgname = left('crm_purge_unlink_' || con.conname, 63)
		WHERE con.confrelid = tbl AND con.contype = 'f'
		  AND tg.tgfoid = 'crm_purge.unlink_trigger()'::regprocedure
	LOOP
		EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.child);
	END LOOP;
	IF drop_trash THEN
		EXECUTE format('DROP TABLE %s', tr);
		DELETE FROM crm_purge.unlinks u WHERE u.child IN (SELECT con.conrelid FROM pg_constraint con
														  WHERE con.confrelid = tbl AND con.contype = 'f');
	END IF;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._unprotect(regclass, boolean) FROM PUBLIC;

-- Drops of protected tables: forget them; the trash table stays for recovery.
CREATE FUNCTION crm_purge._sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	o record;
BEGIN
	FOR o IN SELECT * FROM pg_event_trigger_dropped_objects()
			 WHERE object_type = 'table' AND objsubid = 0
	LOOP
		IF EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = o.objid) THEN
			DELETE FROM crm_purge.protected_tables p WHERE p.tbl = o.objid;
			RAISE NOTICE 'crm_purge: table % was protected; its trash table is kept', o.object_identity;
		END IF;
		DELETE FROM crm_purge.protected_tables p WHERE p.trash = o.objid;
	END LOOP;
END
$$;

CREATE EVENT TRIGGER crm_purge_ddl ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE')
	EXECUTE FUNCTION crm_purge.ddl_trigger();
CREATE EVENT TRIGGER crm_purge_sql_drop ON sql_drop
	WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION crm_purge._sql_drop();

-- user-facing API: recycle bin -------------------------------------------

CREATE FUNCTION crm_purge_protect(tbl regclass, retention interval DEFAULT NULL)
RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_protect');
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF retention IS NOT NULL AND retention <= interval '0' THEN
		RAISE EXCEPTION 'retention must be a positive interval, not %', retention
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to protect it', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN crm_purge._protect(tbl, retention);
END
$$;
COMMENT ON FUNCTION crm_purge_protect(regclass, interval) IS 'from now on, DELETE on the table moves rows into crm_trash';

CREATE FUNCTION crm_purge_unprotect(tbl regclass, drop_trash boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_unprotect');
	IF tbl IS NULL OR drop_trash IS NULL THEN
		RAISE EXCEPTION 'table and drop_trash must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to unprotect it', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM crm_purge._unprotect(tbl, drop_trash);
END
$$;
COMMENT ON FUNCTION crm_purge_unprotect(regclass, boolean) IS 'DELETE on the table is permanent again; the trash is kept unless drop_trash';

CREATE FUNCTION crm_purge_restore(tbl regclass, filter text DEFAULT NULL, on_conflict text DEFAULT 'error')
RETURNS bigint
LANGUAGE C CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'crm_purge_restore';
COMMENT ON FUNCTION crm_purge_restore(regclass, text, text) IS 'moves trashed rows matching the filter back into the table';

CREATE FUNCTION crm_purge_restore_deletion(deletion_id bigint)
RETURNS bigint
LANGUAGE C CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'crm_purge_restore_deletion';
COMMENT ON FUNCTION crm_purge_restore_deletion(bigint) IS 'restores everything one deleting statement trashed, parents first';

-- bulk export-and-delete requests ---------------------------------------

CREATE TABLE crm_purge.requests (
	id					bigserial PRIMARY KEY,
	tbl					regclass NOT NULL,
	mode				text NOT NULL CHECK (mode IN ('export_and_delete', 'delete_only')),
	modified_column		name NOT NULL,
	filter				text,
	cutoff				timestamptz NOT NULL,
	created_by			name NOT NULL DEFAULT CURRENT_USER,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	rows				bigint NOT NULL,
	rows_done			bigint NOT NULL DEFAULT 0,
	status				text NOT NULL DEFAULT 'queued'
						CHECK (status IN ('queued', 'in_progress', 'success', 'failed', 'revoked')),
	started_at			timestamptz,
	finished_at			timestamptz,
	export_expires_at	timestamptz,
	export_expired		boolean NOT NULL DEFAULT false,
	error				text,
	policy_id			bigint,
	-- where the batch engine stands, so that it resumes after a crash
	scan				text CHECK (scan IN ('tid', 'index')),
	next_block			bigint NOT NULL DEFAULT 0,
	end_block			bigint,
	chunk_blocks		bigint,
	last_value			timestamptz,
	batches				integer NOT NULL DEFAULT 0,
	parts				integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX requests_one_active_per_table ON crm_purge.requests (tbl)
	WHERE status IN ('queued', 'in_progress');
COMMENT ON TABLE crm_purge.requests IS 'bulk export-and-delete requests (LeadSquared''s Bulk Export & Delete Data)';
COMMENT ON COLUMN crm_purge.requests.rows IS 'No. of Records: rows that qualified when the request was queued';
COMMENT ON COLUMN crm_purge.requests.cutoff IS 'rows whose modified_column is older than this are processed, re-checked per batch';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.requests', '');
SELECT pg_catalog.pg_extension_config_dump('crm_purge.requests_id_seq', '');

CREATE TABLE crm_purge.request_batches (
	request_id	bigint NOT NULL REFERENCES crm_purge.requests ON DELETE CASCADE,
	batch		integer NOT NULL,
	rows		bigint NOT NULL,
	started_at	timestamptz NOT NULL,
	finished_at	timestamptz NOT NULL,
	outcome		text NOT NULL,
	PRIMARY KEY (request_id, batch)
);
COMMENT ON TABLE crm_purge.request_batches IS 'one row per batch transaction of a request';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.request_batches', '');

CREATE TABLE crm_purge.export_parts (
	request_id	bigint NOT NULL REFERENCES crm_purge.requests ON DELETE CASCADE,
	part		integer NOT NULL,
	path		text,
	rows		bigint NOT NULL,
	bytes		bigint NOT NULL,
	sha256		text NOT NULL,
	data		bytea,
	PRIMARY KEY (request_id, part)
);
COMMENT ON TABLE crm_purge.export_parts IS 'CSV parts of exports; data is set with crm_purge.export_storage = database';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.export_parts', '');

CREATE TABLE crm_purge.notifications (
	id			bigserial PRIMARY KEY,
	at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	recipient	name NOT NULL,
	event		text NOT NULL,
	request_id	bigint,
	purge_id	bigint,
	payload		jsonb NOT NULL
);
COMMENT ON TABLE crm_purge.notifications IS 'what was sent with NOTIFY crm_purge, per recipient';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('crm_purge.notifications_id_seq', '');

-- Raises the standard 42501 error unless the caller is an admin; true otherwise.
CREATE FUNCTION crm_purge._require_admin(action text) RETURNS boolean
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_require_admin_sql';

-- Members of crm_purge_admin, directly or through other roles.
CREATE FUNCTION crm_purge._admins() RETURNS SETOF name
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE m(roleid) AS (
		SELECT member FROM pg_auth_members WHERE roleid = 'crm_purge_admin'::regrole
		UNION
		SELECT a.member FROM pg_auth_members a JOIN m ON a.roleid = m.roleid
	)
	SELECT r.rolname FROM pg_roles r JOIN m ON r.oid = m.roleid WHERE r.rolcanlogin
	UNION
	SELECT rolname FROM pg_roles WHERE rolsuper AND rolcanlogin
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
	PERFORM pg_notify('crm_purge', p::text);
END
$$;
REVOKE ALL ON FUNCTION crm_purge._notify(text, name[], bigint, bigint, jsonb) FROM PUBLIC;

-- Counts the rows a request would take, as the caller: the filter has the
-- caller's privileges.  With max_rows, takes the oldest max_rows rows by
-- moving the cutoff to where they end.
CREATE FUNCTION crm_purge._count_request(tbl regclass, modified_column name, filter text,
										 cutoff timestamptz, max_rows bigint,
										 OUT n bigint, OUT cut timestamptz)
LANGUAGE plpgsql AS $$
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

CREATE FUNCTION crm_purge._queue_request(tbl regclass, mode text, modified_column name, filter text,
										 cutoff timestamptz, n bigint, policy_id bigint, creator name)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	queued bigint;
	rid bigint;
BEGIN
	-- one request creation at a time, so that the limits below hold
	PERFORM pg_advisory_xact_lock(hashtext('crm_purge.requests'));
	IF EXISTS (SELECT FROM crm_purge.requests r
			   WHERE r.tbl = _queue_request.tbl AND r.status IN ('queued', 'in_progress')) THEN
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
	INSERT INTO crm_purge.requests (tbl, mode, modified_column, filter, cutoff, created_by, rows,
									export_expires_at, policy_id)
		VALUES (tbl, mode, modified_column, filter, cutoff, creator, n,
				CASE WHEN mode = 'export_and_delete'
					 THEN now() + current_setting('crm_purge.export_retention')::interval END,
				policy_id)
		RETURNING id INTO rid;
	INSERT INTO crm_purge.history (action, table_name, rows, actor, request_id)
		VALUES ('request queued', crm_purge._qualified(tbl), n, creator, rid);
	PERFORM crm_purge._notify('request created', ARRAY[creator], rid, NULL,
							  jsonb_build_object('table', crm_purge._qualified(tbl), 'mode', mode, 'rows', n, 'status', 'queued'));
	RETURN rid;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._queue_request(regclass, text, name, text, timestamptz, bigint, bigint, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._queue_request(regclass, text, name, text, timestamptz, bigint, bigint, name) TO crm_purge_admin;

-- Checks shared by requests and policies; errors name what to fix.
CREATE FUNCTION crm_purge._check_request_args(tbl regclass, older_than interval, mode text,
											  modified_column name, filter text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	typ regtype;
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
	IF (SELECT relkind FROM pg_class WHERE oid = tbl) NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = 'wrong_object_type';
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
	PERFORM crm_purge._check_filter(filter);
END
$$;

CREATE FUNCTION crm_purge_request(tbl regclass, older_than interval, mode text DEFAULT 'export_and_delete',
								  modified_column name DEFAULT 'modified_at', filter text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c record;
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_request');
	PERFORM crm_purge._check_request_args(tbl, older_than, mode, modified_column, filter);
	SELECT * INTO c FROM crm_purge._count_request(tbl, modified_column, filter, now() - older_than, NULL);
	RETURN crm_purge._queue_request(tbl, mode, modified_column, filter, c.cut, c.n, NULL, current_user);
END
$$;
COMMENT ON FUNCTION crm_purge_request(regclass, interval, text, name, text) IS 'queues a bulk export-and-delete of rows not modified for older_than';

CREATE FUNCTION crm_purge._revoke(request_id bigint, actor name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r crm_purge.requests;
BEGIN
	SELECT * INTO r FROM crm_purge.requests q WHERE q.id = request_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = 'undefined_object';
	END IF;
	IF r.status <> 'queued' THEN
		RAISE EXCEPTION 'request % is %; only a queued request can be revoked', request_id, r.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE crm_purge.requests q SET status = 'revoked', finished_at = now() WHERE q.id = request_id;
	INSERT INTO crm_purge.history (action, table_name, rows, actor, request_id)
		VALUES ('request revoked', crm_purge._qualified(r.tbl), 0, actor, request_id);
END
$$;
REVOKE ALL ON FUNCTION crm_purge._revoke(bigint, name) FROM PUBLIC;

CREATE FUNCTION crm_purge_revoke(request_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_revoke');
	IF request_id IS NULL THEN
		RAISE EXCEPTION 'request_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._revoke(request_id, current_user);
END
$$;
COMMENT ON FUNCTION crm_purge_revoke(bigint) IS 'revokes a queued request';

-- The views read through functions that check membership first, so that a
-- non-admin gets the standard error even when there is nothing to show.
CREATE FUNCTION crm_purge._requests()
RETURNS TABLE (id bigint, "table" regclass, mode text, created_by name, created_at timestamptz,
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
COMMENT ON VIEW crm_purge_requests IS 'bulk export-and-delete requests and their status';

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
COMMENT ON VIEW crm_purge_progress IS 'the running request or purge, with its speed';

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
COMMENT ON FUNCTION crm_purge_report(bigint) IS 'one row per batch of a request, for \copy ... CSV HEADER';

CREATE FUNCTION crm_purge_export_files(request_id bigint)
RETURNS TABLE (part integer, path text, rows bigint, bytes bigint, sha256 text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_export_files');
	PERFORM crm_purge._check_export(request_id);
	RETURN QUERY SELECT p.part, p.path, p.rows, p.bytes, p.sha256
		FROM crm_purge.export_parts p WHERE p.request_id = crm_purge_export_files.request_id ORDER BY p.part;
END
$$;
COMMENT ON FUNCTION crm_purge_export_files(bigint) IS 'the CSV parts of an export';

CREATE FUNCTION crm_purge._check_export(request_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
REVOKE ALL ON FUNCTION crm_purge._check_export(bigint) FROM PUBLIC;

CREATE FUNCTION crm_purge_export_read(request_id bigint, part integer) RETURNS text
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_export_read';
COMMENT ON FUNCTION crm_purge_export_read(bigint, integer) IS 'the text of one export part, for clients without server file access';

-- pending permanent purge -----------------------------------------------

CREATE TABLE crm_purge.purges (
	id				bigserial PRIMARY KEY,
	status			text NOT NULL DEFAULT 'pending'
					CHECK (status IN ('pending', 'running', 'done', 'cancelled')),
	activated_by	name NOT NULL,
	activated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	due_at			timestamptz NOT NULL,
	rows			bigint NOT NULL,
	rows_done		bigint NOT NULL DEFAULT 0,
	started_at		timestamptz,
	cancelled_by	name,
	finished_at		timestamptz
);
CREATE UNIQUE INDEX purges_one_pending ON crm_purge.purges ((true)) WHERE status IN ('pending', 'running');
COMMENT ON TABLE crm_purge.purges IS 'permanent purges of marked trash rows (APRO CRM''s Permanent Deletion)';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.purges', '');
SELECT pg_catalog.pg_extension_config_dump('crm_purge.purges_id_seq', '');

CREATE FUNCTION crm_purge._trash_of(tbl regclass, action text) RETURNS regclass
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
BEGIN
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT p.trash INTO tr FROM crm_purge.protected_tables p WHERE p.tbl = _trash_of.tbl;
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

CREATE FUNCTION crm_purge._set_marks(tbl regclass, tids tid[], marked boolean) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('crm_purge.purges'));
	PERFORM crm_purge._refuse_while_pending();
	EXECUTE format('UPDATE %s SET marked_at = CASE WHEN $2 THEN now() END '
				   'WHERE ctid = ANY ($1) AND (marked_at IS NULL) = $2', crm_purge._trash_of(tbl, 'marking'))
		USING tids, marked;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._set_marks(regclass, tid[], boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._set_marks(regclass, tid[], boolean) TO crm_purge_admin;

-- The filter picks rows as the caller; the marks are set by the owner.
CREATE FUNCTION crm_purge._mark(action text, tbl regclass, filter text, marked boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	tids tid[];
BEGIN
	PERFORM crm_purge._check_admin(action);
	PERFORM crm_purge._check_filter(filter);
	EXECUTE format('SELECT array_agg(ctid) FROM %s WHERE (%s%s)',
				   crm_purge._trash_of(tbl, action), coalesce(filter, 'true'), E'\n')
		INTO tids;
	RETURN crm_purge._set_marks(tbl, coalesce(tids, '{}'), marked);
END
$$;

CREATE FUNCTION crm_purge_mark(tbl regclass, filter text) RETURNS bigint
LANGUAGE sql AS $$ SELECT crm_purge._mark('crm_purge_mark', tbl, filter, true) $$;
COMMENT ON FUNCTION crm_purge_mark(regclass, text) IS 'marks trashed rows for permanent deletion';
CREATE FUNCTION crm_purge_unmark(tbl regclass, filter text) RETURNS bigint
LANGUAGE sql AS $$ SELECT crm_purge._mark('crm_purge_unmark', tbl, filter, false) $$;
COMMENT ON FUNCTION crm_purge_unmark(regclass, text) IS 'takes marks off trashed rows';

CREATE FUNCTION crm_purge._activate(actor name) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint := 0;
	c bigint;
	t record;
	pid bigint;
	due timestamptz := now() + current_setting('crm_purge.pending_period')::interval;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('crm_purge.purges'));
	PERFORM crm_purge._refuse_while_pending();
	FOR t IN SELECT p.trash FROM crm_purge.protected_tables p LOOP
		EXECUTE format('SELECT count(*) FROM %s WHERE marked_at IS NOT NULL', t.trash) INTO c;
		n := n + c;
	END LOOP;
	IF n = 0 THEN
		RAISE EXCEPTION 'no trashed rows are marked for permanent deletion'
			USING ERRCODE = 'no_data_found', HINT = 'Mark rows with crm_purge_mark(table, filter) first.';
	END IF;
	INSERT INTO crm_purge.purges (activated_by, due_at, rows) VALUES (actor, due, n) RETURNING id INTO pid;
	INSERT INTO crm_purge.history (action, rows, actor, purge_id) VALUES ('purge activated', n, actor, pid);
	PERFORM crm_purge._notify('purge activated', ARRAY(SELECT crm_purge._admins()), NULL, pid,
							  jsonb_build_object('rows', n, 'due_at', due, 'activated_by', actor));
	RETURN pid;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._activate(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._activate(name) TO crm_purge_admin;

CREATE FUNCTION crm_purge_activate() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_activate');
	RETURN crm_purge._activate(current_user);
END
$$;
COMMENT ON FUNCTION crm_purge_activate() IS 'turns all marked rows into one purge, due after crm_purge.pending_period';

CREATE FUNCTION crm_purge._cancel(purge_id bigint, actor name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p crm_purge.purges;
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
	INSERT INTO crm_purge.history (action, rows, actor, purge_id) VALUES ('purge cancelled', 0, actor, purge_id);
	PERFORM crm_purge._notify('purge cancelled', ARRAY(SELECT crm_purge._admins()), NULL, purge_id,
							  jsonb_build_object('cancelled_by', actor));
END
$$;
REVOKE ALL ON FUNCTION crm_purge._cancel(bigint, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._cancel(bigint, name) TO crm_purge_admin;

CREATE FUNCTION crm_purge_cancel(purge_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_cancel');
	IF purge_id IS NULL THEN
		RAISE EXCEPTION 'purge_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._cancel(purge_id, current_user);
END
$$;
COMMENT ON FUNCTION crm_purge_cancel(bigint) IS 'cancels a pending purge; the marks stay';

-- One batch of the due purge; returns true while more remains.  The purge
-- row stays locked for the batch, so a cancel either commits first (and
-- wins) or waits and finds the purge running.
CREATE FUNCTION crm_purge._purge_step(batch_size integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p crm_purge.purges;
	t record;
	n bigint;
	left_over bigint := batch_size;
BEGIN
	SELECT * INTO p FROM crm_purge.purges q
		WHERE (q.status = 'pending' AND q.due_at <= now()) OR q.status = 'running'
		ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF p.status = 'pending' THEN
		UPDATE crm_purge.purges q SET status = 'running', started_at = now() WHERE q.id = p.id;
	END IF;
	FOR t IN SELECT pt.tbl, pt.trash FROM crm_purge.protected_tables pt ORDER BY pt.tbl LOOP
		EXIT WHEN left_over <= 0;
		EXECUTE format('DELETE FROM %1$s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %1$s '
					   'WHERE marked_at IS NOT NULL AND marked_at <= $2 LIMIT $1))', t.trash)
			USING left_over, p.activated_at;
		GET DIAGNOSTICS n = ROW_COUNT;
		IF n > 0 THEN
			INSERT INTO crm_purge.history (action, table_name, rows, actor, purge_id)
				VALUES ('purge', crm_purge._qualified(t.tbl), n, p.activated_by, p.id);
			left_over := left_over - n;
		END IF;
	END LOOP;
	UPDATE crm_purge.purges q SET rows_done = rows_done + (batch_size - left_over) WHERE q.id = p.id;
	IF left_over > 0 THEN
		UPDATE crm_purge.purges q SET status = 'done', finished_at = now() WHERE q.id = p.id
			RETURNING * INTO p;
		INSERT INTO crm_purge.history (action, rows, actor, purge_id)
			VALUES ('purge done', p.rows_done, p.activated_by, p.id);
		PERFORM crm_purge._notify('purge done', ARRAY(SELECT crm_purge._admins()), NULL, p.id,
								  jsonb_build_object('rows', p.rows_done));
	END IF;
	RETURN true;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._purge_step(integer) FROM PUBLIC;

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
	FOR t IN SELECT p.tbl, p.trash FROM crm_purge.protected_tables p ORDER BY p.tbl::text LOOP
		"table" := t.tbl;
		EXECUTE format('SELECT count(*) FROM %s', t.tbl) INTO live_rows;
		live_bytes := pg_total_relation_size(t.tbl);
		EXECUTE format('SELECT count(*), count(marked_at) FROM %s', t.trash) INTO trashed_rows, marked_rows;
		trashed_bytes := pg_total_relation_size(t.trash);
		pending_purge_id := CASE WHEN marked_rows > 0 THEN pp.id END;
		pending_due_at := CASE WHEN marked_rows > 0 THEN pp.due_at END;
		RETURN NEXT;
	END LOOP;
END
$$;
CREATE VIEW crm_purge_overview AS SELECT * FROM crm_purge._overview();
COMMENT ON VIEW crm_purge_overview IS 'per protected table: live, trashed and marked rows, and the pending purge';

CREATE FUNCTION crm_purge._history()
RETURNS TABLE (at timestamptz, action text, "table" text, rows bigint, actor name,
			   request_id bigint, purge_id bigint, deletion_id bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._require_admin('crm_purge_history');
	RETURN QUERY SELECT h.at, h.action, h.table_name, h.rows, h.actor, h.request_id, h.purge_id, h.deletion_id
		FROM crm_purge.history h ORDER BY h.id;
END
$$;
CREATE VIEW crm_purge_history AS SELECT * FROM crm_purge._history();
COMMENT ON VIEW crm_purge_history IS 'every restore, trash expiry, request, purge and erasure; no personal data';

-- erasure, cascade rules, lists, tombstones, holds ----------------------

CREATE TABLE crm_purge.relations (
	parent		regclass NOT NULL,
	child		regclass NOT NULL,
	on_erase	text NOT NULL CHECK (on_erase IN ('delete', 'anonymize', 'unlink', 'keep')),
	PRIMARY KEY (parent, child)
);
COMMENT ON TABLE crm_purge.relations IS 'what crm_purge_erase does to child rows of an erased parent';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.relations', '');

CREATE TABLE crm_purge.anonymize_rules (
	tbl			regclass NOT NULL,
	col			name NOT NULL,
	strategy	text NOT NULL,
	PRIMARY KEY (tbl, col)
);
COMMENT ON TABLE crm_purge.anonymize_rules IS 'how a column is anonymized: null, hash or fixed:<text>';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.anonymize_rules', '');

CREATE TABLE crm_purge.tombstones (
	tbl			regclass NOT NULL,
	key_hash	bigint NOT NULL,
	erased_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (tbl, key_hash)
);
COMMENT ON TABLE crm_purge.tombstones IS 'keyed hashes (SipHash-2-4 under crm_purge.secret) of erased keys; never the keys';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.tombstones', '');

-- Created on first use, not here, so that a restored dump brings its own.
CREATE TABLE crm_purge.secret (
	one			boolean PRIMARY KEY DEFAULT true CHECK (one),
	secret		bytea NOT NULL CHECK (length(secret) = 16)
);
COMMENT ON TABLE crm_purge.secret IS 'the key of the tombstone hashes; without it no tombstone can be checked';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.secret', '');

CREATE TABLE crm_purge.guards (
	tbl			regclass PRIMARY KEY,
	mode		text NOT NULL CHECK (mode IN ('skip', 'error'))
);
COMMENT ON TABLE crm_purge.guards IS 'tables whose INSERTs are checked against tombstones';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.guards', '');

CREATE TABLE crm_purge.holds (
	id			bigserial PRIMARY KEY,
	tbl			regclass NOT NULL,
	filter		text NOT NULL,
	until		date,
	reason		text NOT NULL,
	created_by	name NOT NULL DEFAULT CURRENT_USER,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	released_at	timestamptz,
	released_by	name
);
COMMENT ON TABLE crm_purge.holds IS 'legal holds: rows no request, policy, trash expiry or erasure may remove';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.holds', '');
SELECT pg_catalog.pg_extension_config_dump('crm_purge.holds_id_seq', '');

CREATE TABLE crm_purge.erasures (
	id			bigserial PRIMARY KEY,
	tbl			regclass NOT NULL,
	rows		bigint NOT NULL,
	reason		text NOT NULL,
	actor		name NOT NULL DEFAULT CURRENT_USER,
	at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	export_parts text[]
);
COMMENT ON TABLE crm_purge.erasures IS 'erasures: how many rows, why, and which export parts still hold them; never keys';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.erasures', '');
SELECT pg_catalog.pg_extension_config_dump('crm_purge.erasures_id_seq', '');

CREATE FUNCTION crm_purge._new_secret() RETURNS bytea
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_new_secret';
CREATE FUNCTION crm_purge._key_hash(key text) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_key_hash_sql';
CREATE FUNCTION crm_purge._tombstones_changed() RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_tombstones_changed';
CREATE FUNCTION crm_purge._set_bypass_trash(bypass boolean) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_set_bypass_trash';
CREATE FUNCTION crm_purge._parts_with_keys(tbl regclass, keys text[], key_columns text[])
	RETURNS TABLE (request_id bigint, part integer)
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_parts_with_keys';
CREATE FUNCTION crm_purge.guard_trigger() RETURNS trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_guard_trigger';
COMMENT ON FUNCTION crm_purge.guard_trigger() IS 'drops or refuses INSERTs of erased keys';
REVOKE ALL ON FUNCTION crm_purge._key_hash(text), crm_purge._new_secret(),
	crm_purge._tombstones_changed(), crm_purge._parts_with_keys(regclass, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._key_hash(text), crm_purge._parts_with_keys(regclass, text[], text[])
	TO crm_purge_admin;

CREATE FUNCTION crm_purge._ensure_secret() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO crm_purge.secret (secret) VALUES (crm_purge._new_secret()) ON CONFLICT DO NOTHING
$$;

-- Key columns as an SQL expression giving the key's text: col::text, or
-- ROW(a, b)::text for several.  Tombstones hash this text.
CREATE FUNCTION crm_purge._key_expr(tbl regclass, cols int2[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN cardinality(cols) = 1
		THEN format('%I::text', (SELECT attname FROM pg_attribute WHERE attrelid = tbl AND attnum = cols[1]))
		ELSE format('ROW(%s)::text', (SELECT string_agg(format('%I', a.attname), ', ' ORDER BY k.ord)
			FROM unnest(cols) WITH ORDINALITY k(attnum, ord)
			JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.attnum))
	END
$$;

CREATE FUNCTION crm_purge._pk_cols(tbl regclass) RETURNS int2[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	cols int2[];
BEGIN
	SELECT ARRAY(SELECT unnest(i.indkey::int2[])) INTO cols FROM pg_index i WHERE i.indrelid = tbl AND i.indisprimary;
	IF cols IS NULL THEN
		RAISE EXCEPTION 'table % has no primary key', tbl
			USING ERRCODE = 'invalid_table_definition',
				  HINT = 'crm_purge identifies rows by their key: add one with ALTER TABLE ... ADD PRIMARY KEY.';
	END IF;
	RETURN cols;
END
$$;

CREATE FUNCTION crm_purge._col_names(tbl regclass, cols int2[]) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT array_agg(a.attname::text ORDER BY k.ord)
	FROM unnest(cols) WITH ORDINALITY k(attnum, ord)
	JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.attnum
$$;

CREATE FUNCTION crm_purge._set_relation(parent regclass, child regclass, on_erase text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO crm_purge.relations VALUES (parent, child, on_erase)
		ON CONFLICT (parent, child) DO UPDATE SET on_erase = EXCLUDED.on_erase
$$;
REVOKE ALL ON FUNCTION crm_purge._set_relation(regclass, regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._set_relation(regclass, regclass, text) TO crm_purge_admin;

CREATE FUNCTION crm_purge_relate(parent regclass, child regclass, on_erase text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_relate');
	IF parent IS NULL OR child IS NULL OR on_erase IS NULL THEN
		RAISE EXCEPTION 'parent, child and on_erase must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF on_erase NOT IN ('delete', 'anonymize', 'unlink', 'keep') THEN
		RAISE EXCEPTION 'unknown on_erase "%"', on_erase
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use ''delete'', ''anonymize'', ''unlink'' or ''keep''.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_constraint WHERE contype = 'f' AND conrelid = child AND confrelid = parent) THEN
		RAISE EXCEPTION 'no foreign key of table % references table %', child, parent
			USING ERRCODE = 'invalid_foreign_key',
				  HINT = 'A rule follows a foreign key from the child to the parent.';
	END IF;
	IF on_erase IN ('unlink', 'anonymize') AND EXISTS (
		SELECT FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
		WHERE c.contype = 'f' AND c.conrelid = child AND c.confrelid = parent AND a.attnotnull) THEN
		RAISE EXCEPTION 'cannot % rows of table %: its reference to % is NOT NULL', on_erase, child, parent
			USING ERRCODE = 'not_null_violation',
				  HINT = 'Use ''delete'' or ''keep'', or allow NULL in the referencing column.';
	END IF;
	PERFORM crm_purge._set_relation(parent, child, on_erase);
END
$$;
COMMENT ON FUNCTION crm_purge_relate(regclass, regclass, text) IS 'what an erase of a parent does to its child rows';

CREATE FUNCTION crm_purge._set_anonymize(tbl regclass, col name, strategy text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO crm_purge.anonymize_rules VALUES (tbl, col, strategy)
		ON CONFLICT (tbl, col) DO UPDATE SET strategy = EXCLUDED.strategy
$$;
REVOKE ALL ON FUNCTION crm_purge._set_anonymize(regclass, name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._set_anonymize(regclass, name, text) TO crm_purge_admin;

CREATE FUNCTION crm_purge_anonymize(tbl regclass, col name, strategy text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a record;
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_anonymize');
	IF tbl IS NULL OR col IS NULL OR strategy IS NULL THEN
		RAISE EXCEPTION 'table, column and strategy must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT attnum, atttypid::regtype AS typ, attnotnull INTO a FROM pg_attribute
		WHERE attrelid = tbl AND attname = col AND attnum > 0 AND NOT attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" does not exist in table %', col, tbl USING ERRCODE = 'undefined_column';
	END IF;
	IF a.attnum = ANY (crm_purge._pk_cols(tbl)) THEN
		RAISE EXCEPTION 'cannot anonymize column "%" of table %: it is part of the primary key', col, tbl
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF strategy = 'null' THEN
		IF a.attnotnull THEN
			RAISE EXCEPTION 'cannot anonymize column "%" of table % with null: it is NOT NULL', col, tbl
				USING ERRCODE = 'not_null_violation', HINT = 'Use hash or fixed:<text>.';
		END IF;
	ELSIF strategy = 'hash' THEN
		IF a.typ NOT IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype) THEN
			RAISE EXCEPTION 'cannot anonymize column "%" of table % with hash: it has type %, not text', col, tbl, a.typ
				USING ERRCODE = 'datatype_mismatch', HINT = 'Use null or fixed:<value>.';
		END IF;
	ELSIF strategy LIKE 'fixed:%' THEN
		BEGIN
			EXECUTE format('SELECT %L::%s', substr(strategy, 7), a.typ);
		EXCEPTION WHEN OTHERS THEN
			RAISE EXCEPTION 'cannot anonymize column "%" of table % with "%": not a valid %',
				col, tbl, strategy, a.typ
				USING ERRCODE = 'invalid_parameter_value';
		END;
	ELSE
		RAISE EXCEPTION 'unknown strategy "%"', strategy
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use null, hash or fixed:<text>.';
	END IF;
	PERFORM crm_purge._set_anonymize(tbl, col, strategy);
END
$$;
COMMENT ON FUNCTION crm_purge_anonymize(regclass, name, text) IS 'how a column is anonymized when an erase cascades with anonymize';

-- SET list that unlinks (and with anonymize, anonymizes) rows of child
-- referencing their parent through constraint con.
CREATE FUNCTION crm_purge._child_assignments(child regclass, con oid, anonymize boolean) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT string_agg(x, ', ') FROM (
		SELECT format('%I = NULL', a.attname) AS x
		FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
		WHERE c.oid = con
		UNION ALL
		SELECT format('%I = %s', r.col,
			CASE WHEN r.strategy = 'null' THEN 'NULL'
				 WHEN r.strategy = 'hash' THEN format('CASE WHEN %1$I IS NULL THEN NULL ELSE '
					'lpad(to_hex(crm_purge._key_hash(%1$I::text)), 16, %2$L) END', r.col, '0')
				 ELSE format('%L::%s', substr(r.strategy, 7), format_type(a.atttypid, a.atttypmod)) END)
		FROM crm_purge.anonymize_rules r JOIN pg_attribute a ON a.attrelid = r.tbl AND a.attname = r.col
		WHERE anonymize AND r.tbl = child
	) s
$$;

-- The owner's part of an erase on a trash table: cascade updates, and
-- removal of the subject's copies.  Takes no SQL text from the caller.
CREATE FUNCTION crm_purge._trash_apply(tbl regclass, cols int2[], keys text[], action text, con oid)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
	n bigint;
BEGIN
	SELECT p.trash INTO tr FROM crm_purge.protected_tables p WHERE p.tbl = _trash_apply.tbl;
	IF tr IS NULL OR action NOT IN ('delete', 'unlink', 'anonymize') THEN
		RETURN 0;
	END IF;
	IF action = 'delete' THEN
		EXECUTE format('DELETE FROM %s WHERE %s = ANY ($1)', tr, crm_purge._key_expr(tbl, cols)) USING keys;
	ELSE
		EXECUTE format('UPDATE %s SET %s WHERE %s = ANY ($1)', tr,
					   crm_purge._child_assignments(tbl, con, action = 'anonymize'),
					   crm_purge._key_expr(tbl, cols)) USING keys;
	END IF;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._trash_apply(regclass, int2[], text[], text, oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._trash_apply(regclass, int2[], text[], text, oid) TO crm_purge_admin;

CREATE FUNCTION crm_purge._erased(tbl regclass, keys text[], rows bigint, actor name, depth int) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	pk int2[] := crm_purge._pk_cols(tbl);
BEGIN
	PERFORM crm_purge._ensure_secret();
	INSERT INTO crm_purge.tombstones (tbl, key_hash)
		SELECT tbl, crm_purge._key_hash(k) FROM unnest(keys) k ON CONFLICT DO NOTHING;
	-- what the recycle bin remembered of children unlinked from these keys
	DELETE FROM crm_purge.unlinks u
		USING pg_constraint c
		WHERE c.conrelid = u.child AND c.conname = u.constraint_name AND c.confrelid = tbl
		  AND CASE WHEN cardinality(u.parent_ref) = 1 THEN u.parent_ref[1]
				   ELSE '(' || array_to_string(u.parent_ref, ',') || ')' END = ANY (keys);
	IF cardinality(pk) = 1 THEN
		DELETE FROM crm_purge.unlinks u WHERE u.child = tbl AND u.child_key[1] = ANY (keys);
	END IF;
	INSERT INTO crm_purge.history (action, table_name, rows, actor)
		VALUES (CASE WHEN depth = 0 THEN 'erase' ELSE 'erase cascade' END, crm_purge._qualified(tbl), rows, actor);
	PERFORM crm_purge._tombstones_changed();
END
$$;
REVOKE ALL ON FUNCTION crm_purge._erased(regclass, text[], bigint, name, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._erased(regclass, text[], bigint, name, int) TO crm_purge_admin;

-- Locks trash rows, so that a concurrent restore either finished or waits.
CREATE FUNCTION crm_purge._lock_trash_rows(tbl regclass, tids tid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass := (SELECT p.trash FROM crm_purge.protected_tables p WHERE p.tbl = _lock_trash_rows.tbl);
BEGIN
	IF tr IS NOT NULL THEN
		EXECUTE format('SELECT count(*) FROM (SELECT FROM %s WHERE ctid = ANY ($1) FOR UPDATE) l', tr) USING tids;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._lock_trash_rows(regclass, tid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._lock_trash_rows(regclass, tid[]) TO crm_purge_admin;

CREATE FUNCTION crm_purge._active_holds(tbl regclass)
RETURNS TABLE (id bigint, filter text, reason text, created_by name)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT h.id, h.filter, h.reason, h.created_by FROM crm_purge.holds h
	WHERE h.tbl = _active_holds.tbl AND h.released_at IS NULL
	  AND (h.until IS NULL OR h.until >= current_date)
	ORDER BY h.id
$$;

-- The erase itself, as the caller (an admin): cond selects the subject's
-- rows, with $1 in it standing for keys, so that no key is ever part of
-- SQL text (which could reach the log).  With dry_run it only counts.
-- Child rules run before the parent rows go, so that foreign keys hold.
CREATE FUNCTION crm_purge._erase(tbl regclass, cond text, keys text[], dry_run boolean, depth integer)
RETURNS TABLE (t regclass, a text, n bigint)
LANGUAGE plpgsql AS $$
DECLARE
	tr regclass := (SELECT p.trash FROM crm_purge.protected_tables p WHERE p.tbl = _erase.tbl);
	pk int2[] := crm_purge._pk_cols(tbl);
	pkx text := crm_purge._key_expr(tbl, pk);
	subject text[];
	k text[];
	n_live bigint;
	n_trash bigint := 0;
	h record;
	r record;
	refs text[];
	nc bigint;
	tids tid[];
BEGIN
	IF depth > 16 THEN
		RAISE EXCEPTION 'erase rules nest deeper than 16 tables from %', tbl
			USING ERRCODE = 'program_limit_exceeded', HINT = 'Look for a cycle in crm_purge.relations.';
	END IF;
	-- a restore of these rows has finished, or waits for us; the statements
	-- below see what it did
	IF tr IS NOT NULL AND NOT dry_run THEN
		EXECUTE format('SELECT array_agg(ctid) FROM %s WHERE (%s%s)', tr, cond, E'\n') USING keys INTO tids;
		PERFORM crm_purge._lock_trash_rows(tbl, coalesce(tids, '{}'));
	END IF;
	EXECUTE format('SELECT array_agg(%s), count(*) FROM %s WHERE (%s%s)', pkx, tbl, cond, E'\n')
		USING keys INTO subject, n_live;
	IF tr IS NOT NULL THEN
		EXECUTE format('SELECT array_agg(%s), count(*) FROM %s WHERE (%s%s)', pkx, tr, cond, E'\n')
			USING keys INTO k, n_trash;
		subject := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(subject, '{}') || coalesce(k, '{}')) x);
	END IF;
	subject := coalesce(subject, '{}');
	FOR h IN SELECT * FROM crm_purge._active_holds(tbl) LOOP
		EXECUTE format('SELECT count(*) FROM %s WHERE (%s%s) AND (%s%s)', tbl, cond, E'\n', h.filter, E'\n')
			USING keys INTO nc;
		IF nc = 0 AND tr IS NOT NULL THEN
			EXECUTE format('SELECT count(*) FROM %s WHERE (%s%s) AND (%s%s)', tr, cond, E'\n', h.filter, E'\n')
				USING keys INTO nc;
		END IF;
		IF nc > 0 THEN
			RAISE EXCEPTION 'cannot erase rows of table %: legal hold % keeps them (%)', tbl, h.id, h.reason
				USING ERRCODE = 'object_in_use',
					  HINT = 'Nothing was erased. Release the hold with crm_purge_release, or narrow the filter.';
		END IF;
	END LOOP;
	t := tbl; a := CASE WHEN depth = 0 THEN 'erase' ELSE 'delete' END; n := n_live + n_trash;
	RETURN NEXT;

	FOR r IN
		SELECT rel.child, rel.on_erase, c.oid AS con, c.conkey, c.confkey
		FROM crm_purge.relations rel
		JOIN pg_constraint c ON c.contype = 'f' AND c.conrelid = rel.child AND c.confrelid = rel.parent
		WHERE rel.parent = tbl ORDER BY rel.child::text, c.conname
	LOOP
		EXECUTE format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
					   crm_purge._key_expr(tbl, r.confkey), tbl, cond, E'\n') USING keys INTO refs;
		IF tr IS NOT NULL THEN
			EXECUTE format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
						   crm_purge._key_expr(tbl, r.confkey), tr, cond, E'\n') USING keys INTO k;
			refs := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(refs, '{}') || coalesce(k, '{}')) x);
		END IF;
		refs := coalesce(refs, '{}');
		IF r.on_erase = 'delete' THEN
			RETURN QUERY SELECT * FROM crm_purge._erase(r.child,
				format('%s = ANY ($1)', crm_purge._key_expr(r.child, r.conkey)), refs, dry_run, depth + 1);
		ELSE
			EXECUTE format('SELECT count(*) FROM %s WHERE %s = ANY ($1)', r.child,
						   crm_purge._key_expr(r.child, r.conkey)) USING refs INTO nc;
			IF NOT dry_run AND r.on_erase <> 'keep' THEN
				EXECUTE format('UPDATE %s SET %s WHERE %s = ANY ($1)', r.child,
							   crm_purge._child_assignments(r.child, r.con, r.on_erase = 'anonymize'),
							   crm_purge._key_expr(r.child, r.conkey)) USING refs;
				nc := nc + crm_purge._trash_apply(r.child, r.conkey, refs, r.on_erase, r.con);
			END IF;
			t := r.child; a := r.on_erase; n := nc;
			RETURN NEXT;
		END IF;
	END LOOP;

	IF NOT dry_run THEN
		PERFORM crm_purge._set_bypass_trash(true);
		EXECUTE format('DELETE FROM %s WHERE (%s%s)', tbl, cond, E'\n') USING keys;
		PERFORM crm_purge._set_bypass_trash(false);
		PERFORM crm_purge._trash_apply(tbl, pk, subject, 'delete', NULL);
		PERFORM crm_purge._erased(tbl, subject, n_live + n_trash, current_user, depth);
	END IF;
END
$$;

CREATE FUNCTION crm_purge._record_erasure(tbl regclass, rows bigint, reason text, parts text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO crm_purge.erasures (tbl, rows, reason, actor, export_parts)
		VALUES (tbl, rows, reason, session_user, parts)
$$;
REVOKE ALL ON FUNCTION crm_purge._record_erasure(regclass, bigint, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._record_erasure(regclass, bigint, text, text[]) TO crm_purge_admin;

CREATE FUNCTION crm_purge._erase_top(tbl regclass, cond text, keys text[], reason text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	total bigint;
	pk int2[] := crm_purge._pk_cols(tbl);
	subject text[];
	tr regclass := (SELECT p.trash FROM crm_purge.protected_tables p WHERE p.tbl = _erase_top.tbl);
	k text[];
	parts text[];
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'an erase needs a reason' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Say why, e.g. ''GDPR request 2026-118''; it is kept with the erasure.';
	END IF;
	-- the keys, to find the export parts that still hold them
	EXECUTE format('SELECT array_agg(%s) FROM %s WHERE (%s%s)', crm_purge._key_expr(tbl, pk), tbl, cond, E'\n')
		USING keys INTO subject;
	IF tr IS NOT NULL THEN
		EXECUTE format('SELECT array_agg(%s) FROM %s WHERE (%s%s)', crm_purge._key_expr(tbl, pk), tr, cond, E'\n')
			USING keys INTO k;
	END IF;
	subject := coalesce(subject, '{}') || coalesce(k, '{}');
	SELECT sum(e.n) FILTER (WHERE e.a = 'erase') INTO total FROM crm_purge._erase(tbl, cond, keys, false, 0) e;
	SELECT array_agg(format('request %s part %s', p.request_id, p.part) ORDER BY p.request_id, p.part)
		INTO parts FROM crm_purge._parts_with_keys(tbl, subject, crm_purge._col_names(tbl, pk)) p;
	PERFORM crm_purge._record_erasure(tbl, total, reason, parts);
	IF parts IS NOT NULL THEN
		RAISE NOTICE 'erased rows of table % are still in export parts: %', tbl, array_to_string(parts, ', ')
			USING HINT = 'An export is a copy: remove those files, or let them expire (crm_purge.export_retention).';
	END IF;
	RETURN total;
END
$$;

CREATE FUNCTION crm_purge._check_erase_args(action text, tbl regclass, filter text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin(action);
	IF tbl IS NULL OR filter IS NULL THEN
		RAISE EXCEPTION 'table and filter must not be NULL' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'To take every row, say so with the filter ''true''.';
	END IF;
	PERFORM crm_purge._check_filter(filter);
	PERFORM crm_purge._pk_cols(tbl);
END
$$;

CREATE FUNCTION crm_purge_erase(tbl regclass, filter text, reason text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM crm_purge._check_erase_args('crm_purge_erase', tbl, filter);
	RETURN crm_purge._erase_top(tbl, filter, NULL, reason);
END
$$;
COMMENT ON FUNCTION crm_purge_erase(regclass, text, text) IS 'permanent erasure (GDPR): live rows, trash copies, cascade rules, tombstones';

CREATE FUNCTION crm_purge._erase_preview(tbl regclass, filter text)
RETURNS TABLE (t regclass, a text, n bigint)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM crm_purge._check_erase_args('crm_purge_erase_preview', tbl, filter);
	RETURN QUERY SELECT e.t, e.a, sum(e.n)::bigint FROM crm_purge._erase(tbl, filter, NULL, true, 0) e
		GROUP BY e.t, e.a ORDER BY bool_or(e.a = 'erase') DESC, e.t::text, e.a;
END
$$;

CREATE FUNCTION crm_purge_erase_preview(tbl regclass, filter text)
RETURNS TABLE (tbl regclass, action text, rows bigint)
LANGUAGE sql AS $$ SELECT * FROM crm_purge._erase_preview($1, $2) $$;
COMMENT ON FUNCTION crm_purge_erase_preview(regclass, text) IS 'what crm_purge_erase would do to each table, without doing it';

-- The column keys are matched on: the primary key, or a unique column.
CREATE FUNCTION crm_purge._key_column(tbl regclass, key_column name) RETURNS int2
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	pk int2[];
	att int2;
BEGIN
	IF key_column IS NULL THEN
		pk := crm_purge._pk_cols(tbl);
		IF cardinality(pk) <> 1 THEN
			RAISE EXCEPTION 'table % has a primary key of % columns', tbl, cardinality(pk)
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Match the keys on a unique column with key_column => ..., or use crm_purge_delete_where.';
		END IF;
		RETURN pk[1];
	END IF;
	SELECT attnum INTO att FROM pg_attribute
		WHERE attrelid = tbl AND attname = key_column AND attnum > 0 AND NOT attisdropped;
	IF att IS NULL THEN
		RAISE EXCEPTION 'column "%" does not exist in table %', key_column, tbl USING ERRCODE = 'undefined_column';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = tbl AND i.indisunique AND i.indpred IS NULL
				   AND i.indexprs IS NULL AND i.indnatts = 1 AND i.indkey[0] = att) THEN
		RAISE EXCEPTION 'column "%" of table % is not unique', key_column, tbl
			USING ERRCODE = 'invalid_column_reference',
				  HINT = 'A key must name one row: give a column with a unique index or constraint of its own.';
	END IF;
	RETURN att;
END
$$;

CREATE FUNCTION crm_purge_delete_keys(tbl regclass, keys text[], permanent boolean DEFAULT false,
									  key_column name DEFAULT NULL)
RETURNS TABLE (key text, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
	att int2;
	col name;
	typ text;
	tr regclass;
	done text[];
	more text[];
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_delete_keys');
	IF tbl IS NULL OR keys IS NULL OR permanent IS NULL THEN
		RAISE EXCEPTION 'table, keys and permanent must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	att := crm_purge._key_column(tbl, key_column);
	SELECT a.attname, format_type(a.atttypid, a.atttypmod) INTO col, typ
		FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = att;
	IF permanent THEN
		EXECUTE format('SELECT array_agg(%I::text) FROM %s WHERE %I = ANY ($1::%s[])', col, tbl, col, typ)
			USING keys INTO done;
		SELECT p.trash INTO tr FROM crm_purge.protected_tables p WHERE p.tbl = crm_purge_delete_keys.tbl;
		IF tr IS NOT NULL THEN
			EXECUTE format('SELECT array_agg(%I::text) FROM %s WHERE %I = ANY ($1::%s[])', col, tr, col, typ)
				USING keys INTO more;
		END IF;
		done := coalesce(done, '{}') || coalesce(more, '{}');
		PERFORM crm_purge._erase_top(tbl, format('%I = ANY ($1::%s[])', col, typ), keys,
									 format('crm_purge_delete_keys: %s keys', cardinality(keys)));
	ELSE
		EXECUTE format('WITH d AS (DELETE FROM %s WHERE %I = ANY ($1::%s[]) RETURNING %I) '
					   'SELECT array_agg(%I::text) FROM d', tbl, col, typ, col, col)
			USING keys INTO done;
	END IF;
	RETURN QUERY EXECUTE format(
		'SELECT k.key, CASE WHEN row_number() OVER (PARTITION BY k.key::%1$s ORDER BY k.ord) > 1 THEN %2$L '
		'WHEN k.key::%1$s = ANY ($2::%1$s[]) THEN %3$L ELSE %4$L END '
		'FROM unnest($1) WITH ORDINALITY k(key, ord) ORDER BY k.ord',
		typ, 'duplicate_in_list', 'deleted', 'not_found')
		USING keys, coalesce(done, '{}');
END
$$;
COMMENT ON FUNCTION crm_purge_delete_keys(regclass, text[], boolean, name) IS 'deletion by list: deleted, not_found or duplicate_in_list per key';

CREATE FUNCTION crm_purge_delete_where(tbl regclass, filter text, permanent boolean DEFAULT false,
									   dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM crm_purge._check_erase_args('crm_purge_delete_where', tbl, filter);
	IF permanent IS NULL OR dry_run IS NULL THEN
		RAISE EXCEPTION 'permanent and dry_run must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF dry_run THEN
		EXECUTE format('SELECT count(*) FROM %s WHERE (%s%s)', tbl, filter, E'\n') INTO n;
	ELSIF permanent THEN
		n := crm_purge._erase_top(tbl, filter, NULL, 'crm_purge_delete_where');
	ELSE
		EXECUTE format('DELETE FROM %s WHERE (%s%s)', tbl, filter, E'\n');
		GET DIAGNOSTICS n = ROW_COUNT;
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION crm_purge_delete_where(regclass, text, boolean, boolean) IS 'deletion by targeting; dry_run counts only';

CREATE FUNCTION crm_purge._guard(tbl regclass, mode text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'crm_purge_guard') THEN
		EXECUTE format('DROP TRIGGER crm_purge_guard ON %s', tbl);
	END IF;
	EXECUTE format('CREATE TRIGGER crm_purge_guard BEFORE INSERT ON %s FOR EACH ROW '
				   'EXECUTE FUNCTION crm_purge.guard_trigger(%L)', tbl, mode);
	INSERT INTO crm_purge.guards VALUES (_guard.tbl, _guard.mode)
		ON CONFLICT ON CONSTRAINT guards_pkey DO UPDATE SET mode = EXCLUDED.mode;
	PERFORM crm_purge._ensure_secret();
END
$$;
REVOKE ALL ON FUNCTION crm_purge._guard(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._guard(regclass, text) TO crm_purge_admin;

CREATE FUNCTION crm_purge_guard(tbl regclass, mode text DEFAULT 'skip') RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_guard');
	IF tbl IS NULL OR mode IS NULL THEN
		RAISE EXCEPTION 'table and mode must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF mode NOT IN ('skip', 'error') THEN
		RAISE EXCEPTION 'unknown mode "%"', mode
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use ''skip'' (drop the row) or ''error'' (refuse it).';
	END IF;
	PERFORM crm_purge._pk_cols(tbl);
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to guard it', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM crm_purge._guard(tbl, mode);
END
$$;
COMMENT ON FUNCTION crm_purge_guard(regclass, text) IS 'INSERTs of erased keys are dropped (skip) or refused (error)';

CREATE FUNCTION crm_purge._forget(tbl regclass, key text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM crm_purge._ensure_secret();
	DELETE FROM crm_purge.tombstones t WHERE t.tbl = _forget.tbl AND t.key_hash = crm_purge._key_hash(key);
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		INSERT INTO crm_purge.history (action, table_name, rows, actor)
			VALUES ('tombstone lifted', crm_purge._qualified(tbl), n, session_user);
		PERFORM crm_purge._tombstones_changed();
	END IF;
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._forget(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._forget(regclass, text) TO crm_purge_admin;

CREATE FUNCTION crm_purge_forget(tbl regclass, key text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_forget');
	IF tbl IS NULL OR key IS NULL THEN
		RAISE EXCEPTION 'table and key must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF crm_purge._forget(tbl, key) = 0 THEN
		RAISE EXCEPTION 'table % has no tombstone for that key', tbl
			USING ERRCODE = 'undefined_object',
				  HINT = 'A composite key is written as ROW(...)::text writes it, e.g. (1,abc).';
	END IF;
END
$$;
COMMENT ON FUNCTION crm_purge_forget(regclass, text) IS 'lifts the tombstone of one erased key';

CREATE FUNCTION crm_purge._hold(tbl regclass, filter text, until date, reason text, actor name) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO crm_purge.holds (tbl, filter, until, reason, created_by) VALUES (tbl, filter, until, reason, actor)
	RETURNING id
$$;
REVOKE ALL ON FUNCTION crm_purge._hold(regclass, text, date, text, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._hold(regclass, text, date, text, name) TO crm_purge_admin;

CREATE FUNCTION crm_purge_hold(tbl regclass, filter text, until date, reason text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM crm_purge._check_erase_args('crm_purge_hold', tbl, filter);
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a hold needs a reason' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF until < current_date THEN
		RAISE EXCEPTION 'until (%) is in the past', until USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the filter must work on the table (and so on its trash)
	EXECUTE format('SELECT count(*) FROM (SELECT FROM %s WHERE (%s%s) LIMIT 1) s', tbl, filter, E'\n');
	RETURN crm_purge._hold(tbl, filter, until, reason, current_user);
END
$$;
COMMENT ON FUNCTION crm_purge_hold(regclass, text, date, text) IS 'legal hold: matching rows survive requests, policies, trash expiry and erasure';

CREATE FUNCTION crm_purge._release(hold_id bigint, actor name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	h crm_purge.holds;
BEGIN
	SELECT * INTO h FROM crm_purge.holds x WHERE x.id = hold_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'hold % does not exist', hold_id USING ERRCODE = 'undefined_object';
	END IF;
	IF h.released_at IS NOT NULL THEN
		RAISE EXCEPTION 'hold % was released already', hold_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE crm_purge.holds x SET released_at = now(), released_by = actor WHERE x.id = hold_id;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._release(bigint, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._release(bigint, name) TO crm_purge_admin;

CREATE FUNCTION crm_purge_release(hold_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_release');
	IF hold_id IS NULL THEN
		RAISE EXCEPTION 'hold_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._release(hold_id, current_user);
END
$$;
COMMENT ON FUNCTION crm_purge_release(bigint) IS 'ends a legal hold';

-- retention policies on a schedule (pg_cron) -----------------------------

CREATE TABLE crm_purge.policies (
	id				bigserial PRIMARY KEY,
	tbl				regclass NOT NULL,
	older_than		interval NOT NULL CHECK (older_than > interval '0'),
	schedule		text NOT NULL,
	mode			text NOT NULL CHECK (mode IN ('export_and_delete', 'delete_only')),
	filter			text,
	modified_column	name NOT NULL,
	created_by		name NOT NULL DEFAULT CURRENT_USER,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	jobid			bigint,
	last_run_at		timestamptz,
	last_request_id	bigint,
	last_outcome	text
);
COMMENT ON TABLE crm_purge.policies IS 'retention policies: a pg_cron job queues a request at each run';
SELECT pg_catalog.pg_extension_config_dump('crm_purge.policies', '');
SELECT pg_catalog.pg_extension_config_dump('crm_purge.policies_id_seq', '');
GRANT SELECT ON crm_purge.policies TO crm_purge_admin;

CREATE FUNCTION crm_purge._require_cron() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NULL THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
			USING ERRCODE = 'undefined_function',
				  DETAIL = 'crm_purge_schedule runs its policies with pg_cron 1.4 or later.',
				  HINT = format('Install it (Debian: apt-get install postgresql-15-cron), set shared_preload_libraries = ''pg_cron,crm_purge'' and cron.database_name = %L in postgresql.conf, restart, then run CREATE EXTENSION pg_cron in this database.',
								current_database());
	END IF;
END
$$;

-- The pg_cron job of a policy: created in this database, as the policy's
-- creator, so that the run has the creator's privileges.
CREATE FUNCTION crm_purge._cron_job(policy_id bigint, schedule text, username name) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	new_jobid bigint;
BEGIN
	EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4, $5)'
		INTO new_jobid
		USING 'crm_purge_policy_' || policy_id, schedule,
			  format('SELECT crm_purge._run_policy(%s)', policy_id), current_database(), username;
	UPDATE crm_purge.policies p SET jobid = new_jobid WHERE p.id = policy_id;
	RETURN new_jobid;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._cron_job(bigint, text, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._cron_job(bigint, text, name) TO crm_purge_admin;

CREATE FUNCTION crm_purge._add_policy(tbl regclass, older_than interval, schedule text, mode text,
									  filter text, modified_column name, actor name) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO crm_purge.policies (tbl, older_than, schedule, mode, filter, modified_column, created_by)
		VALUES (tbl, older_than, schedule, mode, filter, modified_column, actor)
	RETURNING id
$$;
REVOKE ALL ON FUNCTION crm_purge._add_policy(regclass, interval, text, text, text, name, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._add_policy(regclass, interval, text, text, text, name, name) TO crm_purge_admin;

CREATE FUNCTION crm_purge_schedule(tbl regclass, older_than interval, schedule text DEFAULT '0 2 * * *',
								   mode text DEFAULT 'export_and_delete', filter text DEFAULT NULL,
								   modified_column name DEFAULT 'modified_at')
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	pid bigint;
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_schedule');
	PERFORM crm_purge._check_request_args(tbl, older_than, mode, modified_column, filter);
	IF schedule IS NULL THEN
		RAISE EXCEPTION 'schedule must not be NULL' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'A cron schedule such as ''0 2 * * *'' (every night at 02:00).';
	END IF;
	PERFORM crm_purge._require_cron();
	pid := crm_purge._add_policy(tbl, older_than, schedule, mode, filter, modified_column, current_user);
	-- pg_cron checks the schedule; a bad one fails the whole call
	PERFORM crm_purge._cron_job(pid, schedule, current_user);
	RETURN pid;
END
$$;
COMMENT ON FUNCTION crm_purge_schedule(regclass, interval, text, text, text, name) IS 'a retention policy: a pg_cron job that queues a request at each run';

CREATE FUNCTION crm_purge._drop_policy(policy_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p crm_purge.policies;
BEGIN
	DELETE FROM crm_purge.policies x WHERE x.id = policy_id RETURNING * INTO p;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'policy % does not exist', policy_id USING ERRCODE = 'undefined_object';
	END IF;
	IF p.jobid IS NOT NULL AND to_regclass('cron.job') IS NOT NULL THEN
		EXECUTE 'DELETE FROM cron.job WHERE jobid = $1' USING p.jobid;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._drop_policy(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._drop_policy(bigint) TO crm_purge_admin;

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
COMMENT ON FUNCTION crm_purge_unschedule(bigint) IS 'removes a policy and its pg_cron job';

CREATE FUNCTION crm_purge._policy_ran(policy_id bigint, request_id bigint, outcome text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	UPDATE crm_purge.policies SET last_run_at = now(), last_outcome = outcome,
		last_request_id = coalesce(request_id, last_request_id)
	WHERE id = policy_id
$$;
REVOKE ALL ON FUNCTION crm_purge._policy_ran(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._policy_ran(bigint, bigint, text) TO crm_purge_admin;

-- One run of a policy, from its pg_cron job, as the policy's creator: queue
-- a request for the oldest rows, at most max_rows_per_request of them.  A
-- request already queued or running for the table makes the run a skip,
-- recorded, not a failure.
CREATE FUNCTION crm_purge._run_policy(policy_id bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	p crm_purge.policies;
	c record;
	rid bigint;
BEGIN
	PERFORM crm_purge._check_admin('crm_purge policy run');
	SELECT * INTO p FROM crm_purge.policies x WHERE x.id = policy_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'policy % does not exist', policy_id USING ERRCODE = 'undefined_object';
	END IF;
	IF EXISTS (SELECT FROM crm_purge.requests r WHERE r.tbl = p.tbl AND r.status IN ('queued', 'in_progress')) THEN
		PERFORM crm_purge._policy_ran(policy_id, NULL, 'skipped: a request for the table is queued or running');
		RETURN NULL;
	END IF;
	SELECT * INTO c FROM crm_purge._count_request(p.tbl, p.modified_column, p.filter, now() - p.older_than,
		current_setting('crm_purge.max_rows_per_request')::bigint);
	IF c.n = 0 THEN
		PERFORM crm_purge._policy_ran(policy_id, NULL, 'nothing to do');
		RETURN NULL;
	END IF;
	BEGIN
		rid := crm_purge._queue_request(p.tbl, p.mode, p.modified_column, p.filter, c.cut, c.n, policy_id, current_user);
	EXCEPTION WHEN object_in_use OR program_limit_exceeded THEN
		PERFORM crm_purge._policy_ran(policy_id, NULL, 'skipped: ' || SQLERRM);
		RETURN NULL;
	END;
	PERFORM crm_purge._policy_ran(policy_id, rid, 'queued request ' || rid);
	RETURN rid;
END
$$;
COMMENT ON FUNCTION crm_purge._run_policy(bigint) IS 'one run of a policy; called by its pg_cron job';

-- After a restore into another database or cluster, or a job removed by
-- hand, a policy's job may be missing or point elsewhere: the worker makes
-- it again, so that restored policies keep running.
CREATE FUNCTION crm_purge._reconcile_policies() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p record;
	n integer := 0;
BEGIN
	IF to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NULL THEN
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
		PERFORM crm_purge._cron_job(p.id, p.schedule, p.created_by);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._reconcile_policies() FROM PUBLIC;

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
COMMENT ON VIEW crm_purge_policies IS 'retention policies and their pg_cron jobs';
GRANT SELECT ON crm_purge_policies TO PUBLIC;

-- Dropping the extension takes the policies' pg_cron jobs with it (called
-- from the ProcessUtility hook, before the drop).
CREATE FUNCTION crm_purge._drop_cron_jobs() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF to_regclass('cron.job') IS NOT NULL THEN
		DELETE FROM cron.job WHERE jobid IN (SELECT jobid FROM crm_purge.policies)
			OR (jobname LIKE 'crm_purge_policy_%' AND database = current_database());
	END IF;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._drop_cron_jobs() FROM PUBLIC;

-- admins read every catalog; the views check membership themselves
GRANT SELECT ON ALL TABLES IN SCHEMA crm_purge TO crm_purge_admin;
REVOKE ALL ON crm_purge.secret FROM crm_purge_admin;
GRANT EXECUTE ON FUNCTION crm_purge._check_export(bigint) TO crm_purge_admin;
GRANT SELECT ON crm_purge_requests, crm_purge_progress, crm_purge_overview, crm_purge_history TO PUBLIC;

-- the worker's work -----------------------------------------------------

CREATE FUNCTION crm_purge_tick() RETURNS jsonb
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_tick';
COMMENT ON FUNCTION crm_purge_tick() IS 'does all due work once in this session, as the worker does every naptime';

-- a running launcher starts a worker for this database now
SELECT crm_purge._wake_launcher();
