/* crm_purge--1.0--1.1.sql: security release.  See CHANGELOG.md. */

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

\echo Use "ALTER EXTENSION crm_purge UPDATE TO '1.1'" to load this file. \quit

-- Identity by OID: roles that act are recorded as regrole (their OID);
-- names are only shown.  A role dropped and made again under the same
-- name gets nothing of the old one's.  (Names recorded by 1.0 are mapped
-- to the role of that name now, or to OID 0 when there is none.)
CREATE FUNCTION crm_purge._role_of(n text) RETURNS regrole
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = n), 0)::oid::regrole
$$;

ALTER TABLE crm_purge.protected_tables
	ALTER protected_by DROP DEFAULT,
	ALTER protected_by TYPE regrole USING crm_purge._role_of(protected_by),
	ALTER protected_by SET DEFAULT pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole;
ALTER TABLE crm_purge.requests
	ALTER created_by DROP DEFAULT,
	ALTER created_by TYPE regrole USING crm_purge._role_of(created_by),
	ALTER created_by SET DEFAULT pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole;
ALTER TABLE crm_purge.purges
	ALTER activated_by TYPE regrole USING crm_purge._role_of(activated_by),
	ALTER cancelled_by TYPE regrole USING crm_purge._role_of(cancelled_by);
ALTER TABLE crm_purge.holds
	ALTER created_by DROP DEFAULT,
	ALTER created_by TYPE regrole USING crm_purge._role_of(created_by),
	ALTER created_by SET DEFAULT pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole,
	ALTER released_by TYPE regrole USING crm_purge._role_of(released_by);
ALTER TABLE crm_purge.policies
	ALTER created_by DROP DEFAULT,
	ALTER created_by TYPE regrole USING crm_purge._role_of(created_by),
	ALTER created_by SET DEFAULT pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole;
COMMENT ON COLUMN crm_purge.requests.created_by IS 'the admin who made the request (OID); batches run with their rights';
COMMENT ON COLUMN crm_purge.holds.created_by IS 'the admin who made the hold (OID); its filter runs with their rights';
COMMENT ON COLUMN crm_purge.policies.created_by IS 'the admin who made the policy (OID); its runs queue requests as them';

-- Data that names row keys is not for every admin: export parts are
-- visible to admins who may SELECT the request's table; unlinks to nobody.
REVOKE SELECT ON crm_purge.unlinks FROM crm_purge_admin;
ALTER TABLE crm_purge.export_parts ENABLE ROW LEVEL SECURITY;
-- (policy readable_table: below, once export_parts has its tbl column)

-- Parts of rows a request's ON DELETE CASCADE removed from another table.
ALTER TABLE crm_purge.export_parts ADD COLUMN tbl regclass;
COMMENT ON COLUMN crm_purge.export_parts.tbl IS 'the table of the part''s rows when a cascade removed them; NULL: the request''s own table';
-- a part is visible to admins who may SELECT the table its rows are of
CREATE POLICY readable_table ON crm_purge.export_parts FOR SELECT TO crm_purge_admin USING (
	EXISTS (SELECT FROM crm_purge.requests r
			WHERE r.id = export_parts.request_id
			  AND pg_catalog.has_table_privilege(coalesce(export_parts.tbl, r.tbl), 'SELECT')));

-- The application's user and reason (crm_purge.actor, crm_purge.reason).
ALTER TABLE crm_purge.history ADD COLUMN app_actor text, ADD COLUMN reason text;

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

-- New C entry points ------------------------------------------------------

CREATE OR REPLACE FUNCTION crm_purge._trash_row_visible(trash oid, deleted_by regrole) RETURNS boolean
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'crm_purge_trash_row_visible_oid';
COMMENT ON FUNCTION crm_purge._trash_row_visible(oid, regrole) IS 'row-level security of trash tables: the deleter or an admin, either with SELECT on the table';
CREATE FUNCTION crm_purge._delete_permanently(tbl regclass, cond text, keys text[]) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_delete_permanently';
COMMENT ON FUNCTION crm_purge._delete_permanently(regclass, text, text[]) IS 'DELETE as the caller (an admin) whose rows of this table, in this statement only, skip the trash';
CREATE FUNCTION crm_purge._hold_keeping(tbl regclass, keys text[]) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_hold_keeping';
COMMENT ON FUNCTION crm_purge._hold_keeping(regclass, text[]) IS 'the first legal hold that keeps a row with one of these keys; each hold''s filter runs as its creator';
CREATE FUNCTION crm_purge._live_now(tbl regclass, keys text[]) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_live_now';
COMMENT ON FUNCTION crm_purge._live_now(regclass, text[]) IS 'live rows with these keys under the newest snapshot (erase''s last check)';
REVOKE ALL ON FUNCTION crm_purge._live_now(regclass, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._live_now(regclass, text[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._delete_permanently(regclass, text, text[]),
	crm_purge._hold_keeping(regclass, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._delete_permanently(regclass, text, text[]),
	crm_purge._hold_keeping(regclass, text[]) TO crm_purge_admin;

-- nothing SQL-callable turns the trash bypass on
DROP FUNCTION crm_purge._set_bypass_trash(boolean);
-- holds are read in C (holds.c), as their creators
DROP FUNCTION crm_purge._active_holds(regclass);

-- trigger functions are attached by crm_purge only
REVOKE ALL ON FUNCTION crm_purge.trash_trigger(), crm_purge.unlink_trigger(),
	crm_purge.guard_trigger(), crm_purge.ddl_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._ensure_secret(), crm_purge._sql_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._trash_of(regclass, text), crm_purge._refuse_while_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._trash_of(regclass, text), crm_purge._refuse_while_pending() TO crm_purge_admin;
-- read as the extension owner only now
REVOKE ALL ON FUNCTION crm_purge._parts_with_keys(regclass, text[], text[]) FROM crm_purge_admin;

-- Admins: members with the privileges of crm_purge_admin (INHERIT counts).
CREATE OR REPLACE FUNCTION crm_purge._admins() RETURNS SETOF name
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT r.rolname FROM pg_roles r
	WHERE r.rolcanlogin AND (r.rolsuper OR pg_has_role(r.oid, 'crm_purge_admin', 'USAGE'))
	ORDER BY 1
$$;

-- Trash tables ------------------------------------------------------------

-- A trash column has the base type of a domain: no domain constraint (code
-- of whoever made the domain) ever runs when crm_purge writes the trash.
CREATE OR REPLACE FUNCTION crm_purge._column_ddl(tbl regclass, col name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE d(typ, typmod, depth) AS (
		SELECT a.atttypid, a.atttypmod, 0 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = col
		UNION ALL
		SELECT t.typbasetype, t.typtypmod, d.depth + 1 FROM d JOIN pg_type t ON t.oid = d.typ WHERE t.typtype = 'd'
	)
	SELECT format('%I %s', a.attname, format_type(b.typ, b.typmod))
		-- (a domain's collation too: the base type's is the trash column's default)
		|| CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
			THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
	FROM pg_attribute a, (SELECT d.typ, d.typmod FROM d ORDER BY d.depth DESC LIMIT 1) b, pg_type t
	WHERE a.attrelid = tbl AND a.attname = col AND t.oid = b.typ
$$;

-- The type a trash column has for a live column: domains by their base type.
CREATE OR REPLACE FUNCTION crm_purge._trash_type(typ oid, typmod int, OUT t oid, OUT m int)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE d(dt, dm, depth) AS (
		SELECT typ, typmod, 0
		UNION ALL
		SELECT y.typbasetype, y.typtypmod, d.depth + 1 FROM d JOIN pg_type y ON y.oid = d.dt WHERE y.typtype = 'd'
	)
	SELECT d.dt, d.dm FROM d ORDER BY d.depth DESC LIMIT 1
$$;

-- Can crm_purge convert trash values from one type to another without
-- running anyone's code?  Built-in types only: their casts and I/O
-- functions can only be made by a superuser.
CREATE FUNCTION crm_purge._trusted_cast(source oid, target oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT source < 16384 AND target < 16384
$$;

-- A column name free in the trash: base, or base_2, base_3, ...
CREATE FUNCTION crm_purge._free_column_name(tr regclass, base text) RETURNS name
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n integer := 1;
	candidate name := left(base, 63);
BEGIN
	WHILE EXISTS (SELECT FROM pg_attribute WHERE attrelid = tr AND attname = candidate AND NOT attisdropped) LOOP
		n := n + 1;
		candidate := left(base, 60 - length(n::text)) || '_' || n;
	END LOOP;
	RETURN candidate;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._free_column_name(regclass, text) FROM PUBLIC;

-- Brings the trash table's columns in line with the live table: adds new
-- columns, follows type changes.  Runs as the extension owner, restricted,
-- and evaluates none of the table owner's expressions: a new column's
-- fast default is copied as a value (built-in types), a type change is
-- applied only through built-in casts; when a column cannot follow (a
-- user-defined type, values that do not convert) the old column is kept
-- under another name with its values and a new one is added.  Dropped live
-- columns stay in the trash so that trashed values are not lost.
-- A value of a trash column whose type changed, when it converts.
CREATE FUNCTION crm_purge._converts(value text, typ oid, typmod integer) RETURNS text
	LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'crm_purge_converts';
REVOKE ALL ON FUNCTION crm_purge._converts(text, oid, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION crm_purge._sync_trash(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
	c record;
	val text;
	kept name;
	lossy boolean;
	hold bigint := crm_purge._held_around(tbl);
BEGIN
	tr := crm_purge._trash(_sync_trash.tbl);
	IF tr IS NULL THEN
		RETURN;
	END IF;
	-- the trash follows its table by OID; its comment names the table as it is now
	IF obj_description(tr, 'pg_class') IS DISTINCT FROM 'crm_purge trash of ' || tbl::text THEN
		EXECUTE format('COMMENT ON TABLE %s IS %L', tr, 'crm_purge trash of ' || tbl::text);
	END IF;
	-- the application's user and reason (crm_purge.actor, crm_purge.reason), since 1.1
	IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = tr AND attname = 'deletion_actor' AND NOT attisdropped) THEN
		EXECUTE format('ALTER TABLE %s ADD COLUMN deletion_actor text', tr);
	END IF;
	IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = tr AND attname = 'deletion_reason' AND NOT attisdropped) THEN
		EXECUTE format('ALTER TABLE %s ADD COLUMN deletion_reason text', tr);
	END IF;
	FOR c IN
		SELECT a.attname, b.t AS typ, b.m AS typmod, t.atttypid AS ttyp, t.atttypmod AS ttypmod,
			   a.atthasmissing, a.attmissingval::text AS missing, a.attcollation AS coll, t.attcollation AS tcoll
		FROM pg_attribute a
		CROSS JOIN LATERAL crm_purge._trash_type(a.atttypid, a.atttypmod) b
		LEFT JOIN pg_attribute t ON t.attrelid = tr AND t.attname = a.attname AND NOT t.attisdropped
		WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum
	LOOP
		-- under a hold no trash column changes type, length or collation: the
		-- hold's filter, read again against the new type, compares the held
		-- rows otherwise (text to int: '10' < '5' no longer), and a cast's
		-- values may move with the owner's settings (TimeZone, an array of
		-- timestamptz; extra_float_digits hid a rounding)
		IF c.ttyp IS NOT NULL AND (c.ttyp <> c.typ OR c.ttypmod <> c.typmod
								   OR (c.coll <> 0 AND c.tcoll <> 0 AND c.coll <> c.tcoll))
		   AND hold IS NOT NULL THEN
			RAISE EXCEPTION 'cannot change the type of column "%" of table %: legal hold % keeps trashed rows whose values would change',
				c.attname, tbl, hold
				USING ERRCODE = 'object_in_use',
					  DETAIL = 'The hold''s filter is read again against the column''s new type or collation, and would match the held rows otherwise.',
					  HINT = 'Release the hold first.';
		END IF;
		-- a collation changed: the trash compares as the table does (a hold's
		-- filter matched the live value, not its trashed copy); no value changes
		IF c.ttyp IS NOT NULL AND c.ttyp = c.typ AND c.ttypmod = c.typmod AND c.coll <> 0 AND c.tcoll <> 0
		   AND c.coll <> c.tcoll THEN
			EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s COLLATE %s', tr, c.attname,
						   format_type(c.typ, c.typmod), c.coll::regcollation);
		END IF;
		IF c.ttyp IS NOT NULL AND (c.ttyp <> c.typ OR c.ttypmod <> c.typmod) THEN
			-- in place only when no value changes on the way (a cast may cut
			-- or round, silently: held values were lost so)
			-- (no hold here: refused above)
			lossy := NOT crm_purge._trusted_cast(c.ttyp, c.typ) OR NOT crm_purge._trusted_cast(c.typ, c.ttyp);
			-- (Citus: the trash's shards are not read from here)
			IF NOT lossy AND NOT crm_purge._citus_table(tr) THEN
				BEGIN
					EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE %I IS NOT NULL AND %I::%s::%s::text IS DISTINCT FROM %I::text)',
								   tr, c.attname, c.attname, format_type(c.typ, c.typmod), format_type(c.ttyp, c.ttypmod), c.attname)
						INTO lossy;
				EXCEPTION WHEN OTHERS THEN
					lossy := true;
				END;
			END IF;
			BEGIN
				IF lossy THEN
					RAISE EXCEPTION USING ERRCODE = 'feature_not_supported';
				END IF;
				EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::%s',
							   tr, c.attname, format_type(c.typ, c.typmod),
							   c.attname, format_type(c.typ, c.typmod));
			EXCEPTION WHEN OTHERS THEN
				-- keep the old values under another name; the live column goes on
				kept := crm_purge._free_column_name(tr, left(c.attname, 40) || '_was_'
						|| left(regexp_replace(format_type(c.ttyp, c.ttypmod), '\W+', '_', 'g'), 16));
				EXECUTE format('ALTER TABLE %s RENAME COLUMN %I TO %I', tr, c.attname, kept);
				-- (an erase's anonymize rule on the column reaches it: crm_purge._kept_columns)
				PERFORM crm_purge._set_aside_from(tr, kept, c.attname);
				RAISE NOTICE 'crm_purge: trash column "%" of % kept as "%": its values do not convert to %',
					c.attname, tbl, kept, format_type(c.typ, c.typmod);
				-- the values that do convert go on in the new column (built-in types only)
				IF crm_purge._trusted_cast(c.ttyp, c.typ) THEN
					EXECUTE format('ALTER TABLE %s ADD COLUMN %s', tr, crm_purge._column_ddl(tbl, c.attname));
					EXECUTE format('UPDATE %s SET %I = crm_purge._converts(%I::text, %s, %s)::%s WHERE %I IS NOT NULL',
								   tr, c.attname, kept, c.typ, c.typmod, format_type(c.typ, c.typmod), kept);
					CONTINUE;
				END IF;
				c.ttyp := NULL;
			END;
		END IF;
		IF c.ttyp IS NULL THEN
			EXECUTE format('ALTER TABLE %s ADD COLUMN %s', tr, crm_purge._column_ddl(tbl, c.attname));
			-- a non-volatile default filled the live rows (atthasmissing):
			-- rows trashed before the column existed get the same value
			IF c.atthasmissing AND c.missing IS NOT NULL AND c.typ < 16384 THEN
				EXECUTE format('SELECT (%L::%s[])[1]::text', c.missing, format_type(c.typ, NULL)) INTO val;
				EXECUTE format('UPDATE %s SET %I = %L::%s', tr, c.attname, val, format_type(c.typ, c.typmod));
			END IF;
		END IF;
	END LOOP;
	-- Citus copies a trash's rows as the superuser (moving a shard): a
	-- column added since protect may not have a type whose values run code
	-- when read, as crm_purge_protect refuses
	IF crm_purge._citus_table(tr) AND crm_purge._citus_owner_code_column(tr) IS NOT NULL THEN
		RAISE EXCEPTION 'cannot change protected distributed table %: column % of its trash would have a type whose values run code when read',
			tbl, quote_ident(crm_purge._citus_owner_code_column(tr))
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'A domain inside an array, a composite or a range, or a type made by a user: Citus reads the trash''s values as the superuser when it copies them.',
				  HINT = 'On Citus, give protected tables columns of built-in types, enums or domains over them.';
	END IF;
	PERFORM crm_purge._trash_stats_off(tr);
END
$$;

-- The trash schema is crm_purge's: owned by the extension's owner, and no
-- one else may create in it.  Anything else is refused, never adopted.
CREATE FUNCTION crm_purge._check_trash_schema() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ns record;
	owner oid := (SELECT e.extowner FROM pg_extension e WHERE e.extname = 'crm_purge');
BEGIN
	SELECT n.oid, n.nspowner, n.nspacl INTO ns FROM pg_namespace n WHERE n.nspname = 'crm_trash';
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF ns.nspowner <> owner OR EXISTS (
		SELECT FROM aclexplode(ns.nspacl) a WHERE a.privilege_type = 'CREATE' AND a.grantee <> owner) THEN
		RAISE EXCEPTION 'schema crm_trash was not made by crm_purge'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = format('It is owned by %s or others may create objects in it; crm_purge never adopts objects it did not create.',
								  ns.nspowner::regrole),
				  HINT = 'Rename or drop that schema (after checking what it holds), then protect the table again.';
	END IF;
END
$$;

DROP FUNCTION crm_purge._protect(regclass, interval);
CREATE FUNCTION crm_purge._protect(tbl regclass, retention interval) RETURNS regclass
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
-- The partitions of a protected partitioned table get the row trigger from
-- PostgreSQL (it clones row triggers), and their statement triggers here:
-- a DELETE or TRUNCATE naming a partition fires only that partition's.
-- Made at protect, and when a partition is created or attached; a table
-- detached since loses them.
CREATE OR REPLACE FUNCTION crm_purge._protect_partitions(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
BEGIN
	FOR t IN
		SELECT pt.relid, g.name
		FROM pg_partition_tree(tbl) pt
		CROSS JOIN (VALUES ('crm_purge_trash_flush'), ('crm_purge_no_truncate')) g(name)
		WHERE pt.relid <> tbl::regclass
		  AND EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = _protect_partitions.tbl)
		  AND NOT EXISTS (SELECT FROM pg_trigger tg WHERE tg.tgrelid = pt.relid AND tg.tgname = g.name
						  AND crm_purge._trash_trigger_intact(tg.oid, CASE g.name WHEN 'crm_purge_trash_flush' THEN 'flush' ELSE 'no_truncate' END))
	LOOP
		-- a trigger of that name crm_purge did not make is never taken for
		-- its own, nor one with a WHEN or tied to an extension: the rows
		-- deleted there would skip the trash (review rounds 56 and 57,
		-- B56-4, B57-1, A57-7)
		IF EXISTS (SELECT FROM pg_trigger tg WHERE tg.tgrelid = t.relid AND tg.tgname = t.name) THEN
			RAISE EXCEPTION 'partition % of protected table % has a trigger % that crm_purge did not make', t.relid, tbl, t.name
				USING ERRCODE = 'duplicate_object',
					  HINT = format('Drop that trigger (DROP TRIGGER %I ON %s) and try again.', t.name, t.relid);
		END IF;
		EXECUTE format('CREATE TRIGGER %I %s ON %s %s FOR EACH STATEMENT EXECUTE FUNCTION crm_purge.trash_trigger()',
					   t.name, CASE t.name WHEN 'crm_purge_trash_flush' THEN 'AFTER DELETE' ELSE 'BEFORE TRUNCATE' END, t.relid,
					   CASE t.name WHEN 'crm_purge_trash_flush' THEN 'REFERENCING OLD TABLE AS crm_purge_deleted' ELSE '' END);
	END LOOP;
	-- tables that were partitions of a protected table and are not anymore
	FOR t IN
		SELECT tg.tgrelid::regclass AS rel, tg.tgname
		FROM pg_trigger tg
		WHERE tg.tgfoid = 'crm_purge.trash_trigger()'::regprocedure
		  AND tg.tgname IN ('crm_purge_trash_flush', 'crm_purge_no_truncate')
		  AND NOT EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = tg.tgrelid)
		  AND NOT EXISTS (SELECT FROM pg_partition_ancestors(tg.tgrelid) a
						  JOIN crm_purge.protected_tables p ON p.tbl = a.relid)
	LOOP
		EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._protect_partitions(regclass) FROM PUBLIC;
-- a partition of a protected table clones the trash trigger as the
-- partition's creator, who needs EXECUTE; the trigger acts only for
-- protected tables and their partitions
GRANT EXECUTE ON FUNCTION crm_purge.trash_trigger() TO PUBLIC;
-- and so does the guard's, and Citus makes a moved shard's triggers as its
-- owner; the guard checks only the tombstones of its own table (or of the
-- partitioned table whose trigger it is a clone of)
GRANT EXECUTE ON FUNCTION crm_purge.guard_trigger() TO PUBLIC;
COMMENT ON FUNCTION crm_purge._protect_partitions(regclass) IS 'statement triggers on the partitions of a protected partitioned table; removed from tables detached since';

CREATE FUNCTION crm_purge._protect_impl(actor regrole, tbl regclass, retention interval) RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rel record;
	trash_name text;
	tr regclass;
	cols text;
	reserved name;
BEGIN
	SELECT c.relkind, c.relpersistence, c.relispartition, c.relowner, n.nspname, c.relname
		INTO rel
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = tbl;
	IF NOT pg_has_role(actor, rel.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to protect it', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF rel.relispartition THEN
		RAISE EXCEPTION 'cannot protect table %: it is a partition of %', tbl,
			(SELECT i.inhparent::regclass FROM pg_inherits i WHERE i.inhrelid = tbl)
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Protect the partitioned table: its partitions, present and future, are covered.';
	END IF;
	IF rel.relkind = 'r' AND EXISTS (SELECT FROM pg_inherits WHERE inhrelid = tbl OR inhparent = tbl) THEN
		RAISE EXCEPTION 'cannot protect table %: inheritance tables are not supported', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Declarative partitioning (PARTITION BY) is supported.';
	END IF;
	IF rel.relkind NOT IN ('r', 'p') THEN
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
	IF EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = _protect_impl.tbl) THEN
		RAISE EXCEPTION 'table % is already protected', tbl
			USING ERRCODE = 'duplicate_object',
				  HINT = 'To change its retention, run crm_purge_unprotect and crm_purge_protect again; the trash is kept.';
	END IF;
	SELECT a.attname INTO reserved FROM pg_attribute a
		WHERE a.attrelid = tbl AND NOT a.attisdropped
		  AND a.attname IN ('deleted_at', 'deleted_by', 'deletion_id', 'deletion_actor', 'deletion_reason', 'marked_at');
	IF FOUND THEN
		RAISE EXCEPTION 'cannot protect table %: it has a column named "%"', tbl, reserved
			USING ERRCODE = 'duplicate_column',
				  DETAIL = 'The trash table adds the columns deleted_at, deleted_by, deletion_id, deletion_actor, deletion_reason and marked_at.';
	END IF;

	trash_name := rel.nspname || '__' || rel.relname;
	-- a trash kept by crm_purge_unprotect follows its table, renamed or not
	SELECT c.relname INTO trash_name FROM pg_class c
		JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
		WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'crm_trash') AND c.relkind = 'r'
		  AND d.description = 'crm_purge trash of ' || tbl::text
		  AND NOT EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.trash = c.oid)
		ORDER BY c.oid LIMIT 1;
	IF NOT FOUND THEN
		trash_name := rel.nspname || '__' || rel.relname;
	END IF;
	IF octet_length(trash_name) > 63 THEN
		RAISE EXCEPTION 'cannot protect table %: trash table name "%" is longer than 63 bytes', tbl, trash_name
			USING ERRCODE = 'name_too_long', HINT = 'Rename the table or its schema to something shorter.';
	END IF;
	PERFORM crm_purge._check_trash_schema();
	IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'crm_trash') THEN
		CREATE SCHEMA crm_trash;
		COMMENT ON SCHEMA crm_trash IS 'crm_purge trash tables: rows deleted from protected tables';
		GRANT USAGE ON SCHEMA crm_trash TO PUBLIC;
	END IF;
	tr := to_regclass(format('crm_trash.%I', trash_name));
	IF tr IS NOT NULL AND obj_description(tr, 'pg_class') LIKE 'crm_purge trash of %'
		AND (EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.trash = tr)
			 OR obj_description(tr, 'pg_class') <> 'crm_purge trash of ' || tbl::text) THEN
		-- the name is another table's (a.b__c and a__b.c): this one's has its OID
		trash_name := left(trash_name, 50) || '_' || tbl::oid;
		tr := to_regclass(format('crm_trash.%I', trash_name));
	END IF;
	IF tr IS NOT NULL THEN
		-- a trash kept by crm_purge_unprotect: only ever in crm_trash, which no
		-- one else may create in; never one that belongs to another table
		IF EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.trash = tr)
			OR (SELECT c.relkind FROM pg_class c WHERE c.oid = tr) <> 'r'
			OR obj_description(tr, 'pg_class') IS DISTINCT FROM 'crm_purge trash of ' || tbl::text THEN
			RAISE EXCEPTION 'cannot protect table %: relation crm_trash.% exists and is not its trash', tbl, quote_ident(trash_name)
				USING ERRCODE = 'duplicate_table',
					  HINT = 'crm_purge never adopts objects it did not create for this table. Rename or drop that relation first.';
		END IF;
		INSERT INTO crm_purge.protected_tables (tbl, trash, retention, protected_by) VALUES (tbl, tr, retention, actor);
		PERFORM crm_purge._sync_trash(tbl);
		DELETE FROM crm_purge.protected_tables p WHERE p.tbl = _protect_impl.tbl;
	ELSE
		SELECT string_agg(crm_purge._column_ddl(tbl, a.attname), ', ' ORDER BY a.attnum) INTO cols
			FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped;
		EXECUTE format('CREATE TABLE crm_trash.%I (%s, deleted_at timestamptz NOT NULL, '
					   'deleted_by regrole NOT NULL, deletion_id bigint NOT NULL, marked_at timestamptz, '
					   'deletion_actor text, deletion_reason text)',
					   trash_name, cols);
		tr := format('crm_trash.%I', trash_name)::regclass;
		-- BRIN: both columns grow with insertion order, and a BRIN insert is
		-- nearly free, which keeps DELETE on the protected table fast.
		EXECUTE format('CREATE INDEX ON %s USING brin (deletion_id, deleted_at)', tr);
		EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tr);
		-- Whoever deleted a row, or an admin, sees it while they may read the table.
		EXECUTE format('CREATE POLICY crm_purge_own_rows ON %s FOR SELECT USING '
					   '(crm_purge._trash_row_visible(tableoid, deleted_by))', tr);
		EXECUTE format('GRANT SELECT ON %s TO PUBLIC', tr);
		EXECUTE format('COMMENT ON TABLE %s IS %L', tr, 'crm_purge trash of ' || tbl::text);
	END IF;

	INSERT INTO crm_purge.protected_tables (tbl, trash, retention, protected_by)
		VALUES (tbl, tr, retention, actor);
	EXECUTE format('CREATE TRIGGER crm_purge_trash AFTER DELETE ON %s '
				   'FOR EACH ROW EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	EXECUTE format('CREATE TRIGGER crm_purge_trash_flush AFTER DELETE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	EXECUTE format('CREATE TRIGGER crm_purge_no_truncate BEFORE TRUNCATE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	PERFORM crm_purge._protect_partitions(tbl);
	PERFORM crm_purge._create_unlink_triggers(tbl);
	RETURN tr;
END
$$;

DROP FUNCTION crm_purge._unprotect(regclass, boolean);
CREATE FUNCTION crm_purge._unprotect(tbl regclass, drop_trash boolean) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE FUNCTION crm_purge._unprotect_impl(actor regrole, tbl regclass, drop_trash boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
	t record;
BEGIN
	IF NOT pg_has_role(actor, (SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to unprotect it', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	DELETE FROM crm_purge.protected_tables p WHERE p.tbl = _unprotect_impl.tbl RETURNING p.trash INTO tr;
	IF tr IS NULL THEN
		RAISE EXCEPTION 'table % is not protected by crm_purge', tbl USING ERRCODE = 'undefined_object';
	END IF;
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_trash ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_trash_flush ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_no_truncate ON %s', tbl);
	PERFORM crm_purge._protect_partitions(tbl);
	FOR t IN
		SELECT tg.tgname, tg.tgrelid::regclass AS child
		FROM pg_trigger tg
		LEFT JOIN pg_constraint con ON con.conrelid = tg.tgrelid AND con.contype = 'f'
			AND tg.tgname IN (left('crm_purge_unlink_' || con.conname, 63), left('crm_purge_appunlink_' || con.conname, 63))
		WHERE tg.tgfoid = 'crm_purge.unlink_trigger()'::regprocedure
		  AND (con.oid IS NULL OR con.confrelid = tbl
			   OR NOT EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = con.confrelid))
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

CREATE OR REPLACE FUNCTION crm_purge_protect(tbl regclass, retention interval DEFAULT NULL)
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
	RETURN crm_purge._protect(tbl, retention);
END
$$;

CREATE OR REPLACE FUNCTION crm_purge_unprotect(tbl regclass, drop_trash boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_unprotect');
	IF tbl IS NULL OR drop_trash IS NULL THEN
		RAISE EXCEPTION 'table and drop_trash must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._unprotect(tbl, drop_trash);
END
$$;

-- Existing trash tables: deleted_by becomes the deleting role's OID, domain
-- columns their base type, and the policy uses the new visibility check.
DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
	t record;
	c record;
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	FOR t IN
		SELECT k.oid::regclass AS trash FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
		WHERE n.nspname = 'crm_trash' AND k.relkind = 'r'
		  AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = k.oid AND a.attname = 'deleted_by'
					  AND a.atttypid = 'text'::regtype AND NOT a.attisdropped)
	LOOP
		EXECUTE format('DROP POLICY IF EXISTS crm_purge_own_rows ON %s', t.trash);
		EXECUTE format('ALTER TABLE %s ALTER COLUMN deleted_by TYPE regrole USING crm_purge._role_of(deleted_by)', t.trash);
		EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS deletion_actor text, '
					   'ADD COLUMN IF NOT EXISTS deletion_reason text', t.trash);
		-- (the base type under every level: to a domain over a domain, the
		-- rewrite would run the inner domain's CHECK, the table owner's code,
		-- as the superuser updating; review round 56, A56-1)
		FOR c IN
			SELECT a.attname, b.typbasetype, b.typtypmod FROM pg_attribute a JOIN pg_type y ON y.oid = a.atttypid
			CROSS JOIN LATERAL (WITH RECURSIVE d(o, typbasetype, typtypmod) AS (
					SELECT y.oid, y.typbasetype, y.typtypmod
					UNION ALL SELECT z.oid, z.typbasetype, z.typtypmod FROM d JOIN pg_type z ON z.oid = d.typbasetype
					WHERE z.typtype = 'd')
				SELECT d.typbasetype, d.typtypmod FROM d JOIN pg_type e ON e.oid = d.typbasetype WHERE e.typtype <> 'd') b
			WHERE a.attrelid = t.trash AND a.attnum > 0 AND NOT a.attisdropped AND y.typtype = 'd'
		LOOP
			EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s', t.trash, c.attname,
						   format_type(c.typbasetype, c.typtypmod));
		END LOOP;
		EXECUTE format('CREATE POLICY crm_purge_own_rows ON %s FOR SELECT USING '
					   '(crm_purge._trash_row_visible(tableoid, deleted_by))', t.trash);
	END LOOP;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;
DROP FUNCTION crm_purge._trash_row_visible(oid, text);

-- Requests ----------------------------------------------------------------

CREATE TYPE crm_purge.request_count AS (n bigint, cut timestamptz);

-- The row count, as the request's batches will read it
-- (crm_purge_as_filter_creator runs crm_purge._count_request_query).
CREATE OR REPLACE FUNCTION crm_purge._count_request(tbl regclass, modified_column name, filter text,
													cutoff timestamptz, max_rows bigint,
													OUT n bigint, OUT cut timestamptz)
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_as_filter_creator';

CREATE OR REPLACE FUNCTION crm_purge._queue_request_check(tbl regclass, mode text, modified_column name, filter text,
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

DROP FUNCTION crm_purge._queue_request(regclass, text, name, text, timestamptz, bigint, bigint, name);
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

CREATE OR REPLACE FUNCTION crm_purge_request(tbl regclass, older_than interval, mode text DEFAULT 'export_and_delete',
											 modified_column name DEFAULT 'modified_at', filter text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_request');
	RETURN crm_purge._queue_request(tbl, mode, modified_column, filter, older_than, NULL);
END
$$;

DROP FUNCTION crm_purge._revoke(bigint, name);
CREATE FUNCTION crm_purge._revoke(request_id bigint) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._revoke_impl(actor regrole, request_id bigint) RETURNS void
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

CREATE OR REPLACE FUNCTION crm_purge_revoke(request_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_revoke');
	IF request_id IS NULL THEN
		RAISE EXCEPTION 'request_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._revoke(request_id);
END
$$;

DROP VIEW crm_purge_requests;
DROP FUNCTION crm_purge._requests();
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
COMMENT ON VIEW crm_purge_requests IS 'bulk export-and-delete requests and their status';
GRANT SELECT ON crm_purge_requests TO PUBLIC;

-- A delete_only request lists no parts (it has none); others as before.
CREATE OR REPLACE FUNCTION crm_purge_export_files(request_id bigint)
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
CREATE OR REPLACE FUNCTION crm_purge._check_export(request_id bigint) RETURNS void
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
REVOKE ALL ON FUNCTION crm_purge._check_export(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._check_export(bigint) TO crm_purge_admin;

-- Pending purge -----------------------------------------------------------

DROP FUNCTION crm_purge._set_marks(regclass, tid[], boolean);
CREATE FUNCTION crm_purge._set_marks(tbl regclass, tids tid[], marked boolean) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE FUNCTION crm_purge._set_marks_impl(actor regrole, tbl regclass, tids tid[], marked boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'SELECT') AND has_table_privilege(actor, tbl, 'DELETE'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Marking trashed rows for permanent deletion needs SELECT and DELETE on the table.';
	END IF;
	LOCK TABLE crm_purge.purges IN SHARE ROW EXCLUSIVE MODE;
	PERFORM crm_purge._refuse_while_pending();
	-- held rows are never marked
	IF marked THEN
		tids := ARRAY(SELECT unnest(tids) EXCEPT SELECT unnest(crm_purge._held_tids(tbl, tids)));
	END IF;
	EXECUTE format('UPDATE %s SET marked_at = CASE WHEN $2 THEN now() END '
				   'WHERE ctid = ANY ($1) AND (marked_at IS NULL) = $2', crm_purge._trash_of(tbl, 'marking'))
		USING tids, marked;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

DROP FUNCTION crm_purge._activate(name);
CREATE FUNCTION crm_purge._activate() RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._activate_impl(actor regrole) RETURNS bigint
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
CREATE OR REPLACE FUNCTION crm_purge_activate() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_activate');
	RETURN crm_purge._activate();
END
$$;

DROP FUNCTION crm_purge._cancel(bigint, name);
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
CREATE OR REPLACE FUNCTION crm_purge_cancel(purge_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_cancel');
	IF purge_id IS NULL THEN
		RAISE EXCEPTION 'purge_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._cancel(purge_id);
END
$$;

CREATE FUNCTION crm_purge._purge_trash_batch(tbl regclass, marked_before timestamptz, max_rows integer)
	RETURNS bigint[] LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_purge_trash_batch_sql';

CREATE OR REPLACE FUNCTION crm_purge._purge_step(batch_size integer) RETURNS boolean
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

-- Only tables the caller may read, instead of failing on the first other.
CREATE OR REPLACE FUNCTION crm_purge._overview()
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

-- Erasure -----------------------------------------------------------------

ALTER TABLE crm_purge.relations ADD COLUMN child_columns name[], ADD COLUMN condition text;
COMMENT ON COLUMN crm_purge.relations.child_columns IS 'without a foreign key: the child''s columns holding the parent''s primary key; NULL: the foreign key';
COMMENT ON COLUMN crm_purge.relations.condition IS 'without a foreign key: which child rows point at this parent table, e.g. content_type_id = 12';
DROP FUNCTION crm_purge_relate(regclass, regclass, text);
CREATE OR REPLACE FUNCTION crm_purge_relate(parent regclass, child regclass, on_erase text,
								 child_columns name[] DEFAULT NULL, condition text DEFAULT NULL) RETURNS void
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
	IF child_columns IS NULL THEN
		IF condition IS NOT NULL THEN
			RAISE EXCEPTION 'a condition needs child_columns'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Name the child''s columns that hold the parent''s key, e.g. child_columns => ARRAY[''object_id''].';
		END IF;
		IF NOT EXISTS (SELECT FROM pg_constraint WHERE contype = 'f' AND conrelid = child AND confrelid = parent) THEN
			RAISE EXCEPTION 'no foreign key of table % references table %', child, parent
				USING ERRCODE = 'invalid_foreign_key',
					  HINT = 'A rule follows a foreign key from the child to the parent, or names the child''s columns (child_columns, condition).';
		END IF;
		IF on_erase IN ('unlink', 'anonymize') AND EXISTS (
			SELECT FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
			WHERE c.contype = 'f' AND c.conrelid = child AND c.confrelid = parent AND a.attnotnull) THEN
			RAISE EXCEPTION 'cannot % rows of table %: its reference to % is NOT NULL', on_erase, child, parent
				USING ERRCODE = 'not_null_violation',
					  HINT = 'Use ''delete'' or ''keep'', or allow NULL in the referencing column.';
		END IF;
	ELSE
		-- a polymorphic reference (Django's GenericForeignKey, Rails' polymorphic):
		-- the child's columns hold the parent's primary key, as text or a number
		PERFORM crm_purge._check_key_columns(child, child_columns);
		IF cardinality(child_columns) <> cardinality(crm_purge._pk_cols(parent)) THEN
			RAISE EXCEPTION 'child_columns must name % column(s): one per column of the primary key of %',
				cardinality(crm_purge._pk_cols(parent)), parent
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF on_erase IN ('unlink', 'anonymize') AND EXISTS (
			SELECT FROM pg_attribute a WHERE a.attrelid = child AND a.attname = ANY (child_columns) AND a.attnotnull) THEN
			RAISE EXCEPTION 'cannot % rows of table %: its reference to % is NOT NULL', on_erase, child, parent
				USING ERRCODE = 'not_null_violation',
					  HINT = 'Use ''delete'' or ''keep'', or allow NULL in the referencing column.';
		END IF;
		PERFORM crm_purge._check_condition(child, condition);
	END IF;
	PERFORM crm_purge._set_relation(parent, child, on_erase, child_columns, condition);
END
$$;
COMMENT ON FUNCTION crm_purge_relate(regclass, regclass, text, name[], text) IS 'what an erase of a parent does to its child rows';
CREATE FUNCTION crm_purge._check_condition(child regclass, condition text) RETURNS text
	LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'crm_purge_check_condition_sql';
CREATE FUNCTION crm_purge._attnums(tbl regclass, cols name[]) RETURNS int2[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT array_agg(a.attnum ORDER BY c.o)::int2[]
	FROM unnest(cols) WITH ORDINALITY AS c(n, o)
	JOIN pg_attribute a ON a.attrelid = tbl AND a.attname = c.n AND a.attnum > 0 AND NOT a.attisdropped
$$;
DROP FUNCTION crm_purge._child_assignments(regclass, oid, boolean);
CREATE OR REPLACE FUNCTION crm_purge._child_assignments(child regclass, cols int2[], anonymize boolean, hashes text DEFAULT NULL,
	checks boolean DEFAULT false)
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT string_agg(CASE WHEN checks THEN format('(%s)', c) ELSE x END, CASE WHEN checks THEN ' AND ' ELSE ', ' END)
	FROM (
		SELECT format('%I = NULL', a.attname) AS x, format('crm_purge_t.%I IS NULL', a.attname) AS c
		FROM pg_attribute a WHERE a.attrelid = child AND a.attnum = ANY (cols)
		UNION ALL
		SELECT format('%I = %s', w.col, w.e),
			CASE WHEN w.strategy = 'null' THEN format('crm_purge_t.%I IS NULL', w.col)
				 WHEN w.strategy = 'hash' AND hashes IS NULL THEN 'true'
				 ELSE format('CASE WHEN %2$s IS NULL THEN crm_purge_t.%1$I IS NULL ELSE crm_purge_t.%1$I::pg_catalog.text'
							 ' OPERATOR(pg_catalog.=) (%2$s)::pg_catalog.text END', w.col, w.e) END
		FROM (SELECT r.col, r.strategy,
				CASE WHEN r.strategy = 'null' THEN 'NULL'
					 WHEN r.strategy = 'hash' AND hashes IS NOT NULL THEN
						format('%s[(crm_purge_u.crm_purge_ord OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.*) %s'
							   ' OPERATOR(pg_catalog.+) %s]', hashes,
							   count(*) FILTER (WHERE r.strategy = 'hash') OVER (),
							   count(*) FILTER (WHERE r.strategy = 'hash') OVER (ORDER BY a.attnum))
					 WHEN r.strategy = 'hash' THEN format('CASE WHEN %1$I IS NULL THEN NULL ELSE '
						'lpad(to_hex(crm_purge._key_hash(%1$I::text)), 16, %2$L) END', r.col, '0')
					 ELSE format('%L::%s', substr(r.strategy, 7), format_type(a.atttypid, a.atttypmod)) END AS e
			FROM crm_purge.anonymize_rules r JOIN pg_attribute a ON a.attrelid = r.tbl AND a.attname = r.col
			WHERE anonymize AND r.tbl = child) w
	) s
$$;
DROP FUNCTION crm_purge._set_relation(regclass, regclass, text);
CREATE FUNCTION crm_purge._set_relation(parent regclass, child regclass, on_erase text,
										child_columns name[], condition text) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._set_relation_impl(actor regrole, parent regclass, child regclass, on_erase text,
											 child_columns name[], condition text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
	IF NOT coalesce(has_table_privilege(actor, parent, 'SELECT') AND has_table_privilege(actor, child, 'SELECT'), false) THEN
		RAISE EXCEPTION 'permission denied for table % or %', parent, child USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- a rule does to the child's rows what its action says, in every later
	-- erase: its author needs that right, and the right of the rule it
	-- replaces (an admin that may only read the child turned another's
	-- 'keep' into 'delete'; review round 57, A57-8)
	IF NOT coalesce(has_table_privilege(actor, child, CASE _set_relation_impl.on_erase WHEN 'delete' THEN 'DELETE' WHEN 'keep' THEN 'SELECT' ELSE 'UPDATE' END)
					AND (SELECT bool_and(has_table_privilege(actor, child, CASE r.on_erase WHEN 'delete' THEN 'DELETE'
																 WHEN 'keep' THEN 'SELECT' ELSE 'UPDATE' END))
						 FROM crm_purge.relations r WHERE r.parent = _set_relation_impl.parent AND r.child = _set_relation_impl.child)
					IS NOT FALSE, false) THEN
		RAISE EXCEPTION 'permission denied for table %', child
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'A rule that deletes rows of the child needs DELETE on it, one that unlinks or anonymizes them UPDATE; so does replacing such a rule.';
	END IF;
	-- the parent's DELETE takes such rows with it (into the trash, whole)
	IF on_erase = 'keep' AND child_columns IS NULL AND EXISTS (
		SELECT FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = child AND c.confrelid = parent
			AND c.confdeltype = 'c') THEN
		RAISE EXCEPTION 'cannot keep rows of table % on erase: it references % ON DELETE CASCADE', child, parent
			USING ERRCODE = 'invalid_foreign_key',
				  HINT = 'The parent''s DELETE removes them: use ''delete'', ''unlink'' or ''anonymize'' (the last two set the reference NULL first).';
	END IF;
	PERFORM crm_purge._check_rule_table(parent);
	PERFORM crm_purge._check_rule_table(child);
	-- evaluated later as other admins and as the extension owner
	PERFORM crm_purge._check_condition(child, condition);
	INSERT INTO crm_purge.relations VALUES (parent, child, on_erase, child_columns, condition)
		ON CONFLICT (parent, child) DO UPDATE
		SET on_erase = EXCLUDED.on_erase, child_columns = EXCLUDED.child_columns, condition = EXCLUDED.condition;
END
$$;

DROP FUNCTION crm_purge._set_anonymize(regclass, name, text);
CREATE FUNCTION crm_purge._set_anonymize(tbl regclass, col name, strategy text) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._set_anonymize_impl(actor regrole, tbl regclass, col name, strategy text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'UPDATE'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF strategy NOT IN ('null', 'hash') AND strategy NOT LIKE 'fixed:%' THEN
		RAISE EXCEPTION 'unknown strategy "%"', strategy
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use null, hash or fixed:<text>.';
	END IF;
	PERFORM crm_purge._check_rule_table(tbl);
	INSERT INTO crm_purge.anonymize_rules VALUES (tbl, col, strategy)
		ON CONFLICT (tbl, col) DO UPDATE SET strategy = EXCLUDED.strategy;
END
$$;

-- The owner's part of an erase on a trash table, for an admin with the
-- table rights the action needs.  Takes no SQL text from the caller.
DROP FUNCTION crm_purge._trash_apply(regclass, int2[], text[], text, oid);
CREATE FUNCTION crm_purge._trash_apply(tbl regclass, cols int2[], keys text[], action text, con oid, parent regclass,
										unlinked text[] DEFAULT NULL)
	RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._trash_apply_impl(actor regrole, tbl regclass, cols int2[], keys text[], action text,
											con oid, parent regclass, unlinked text[])
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
	n bigint;
	cond text;
	named text;
	ids bigint[];
	nums bigint[];
	held_ids bigint[];
	held_nums bigint[];
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, CASE WHEN action = 'delete' THEN 'DELETE' ELSE 'UPDATE' END), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF action NOT IN ('delete', 'unlink', 'anonymize') THEN
		RETURN 0;
	END IF;
	-- (an erase deletes only its own table's trash rows this way; a child's
	-- go by the erase of the child)
	IF action = 'delete' AND (con IS NOT NULL OR parent IS NOT NULL) THEN
		RAISE EXCEPTION 'only erased keys of table % are deleted from its trash this way', tbl
			USING ERRCODE = 'insufficient_privilege', HINT = 'Use crm_purge_erase.';
	END IF;
	IF con IS NULL AND parent IS NOT NULL THEN
		SELECT r.condition INTO cond FROM crm_purge.relations r
			WHERE r.parent = _trash_apply_impl.parent AND r.child = tbl
			  AND crm_purge._attnums(tbl, r.child_columns) = cols;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'table % has no relation to % on these columns', tbl, parent
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		cond := crm_purge._check_condition(tbl, cond);
	ELSIF con IS NULL AND action = 'delete' THEN
		-- an erase's own trash rows: only keys it tombstoned, never held ones
		IF EXISTS (SELECT FROM unnest(keys) k WHERE NOT EXISTS (
				SELECT FROM crm_purge.tombstones t WHERE t.tbl = _trash_apply_impl.tbl
				  AND t.key_hash = crm_purge._key_hash(k))) THEN
			RAISE EXCEPTION 'only erased keys of table % are deleted from its trash this way', tbl
				USING ERRCODE = 'insufficient_privilege', HINT = 'Use crm_purge_erase.';
		END IF;
		IF crm_purge._hold_keeping(tbl, keys) IS NOT NULL THEN
			RAISE EXCEPTION 'cannot delete rows of table %: a legal hold keeps them', tbl
				USING ERRCODE = 'object_in_use';
		END IF;
	ELSIF action <> 'delete' AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.oid = con AND c.conrelid = tbl
										   AND c.contype = 'f' AND c.conkey = cols) THEN
		RAISE EXCEPTION 'constraint % is not a foreign key of table % on these columns', con, tbl
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- (a column's type may have changed since the rule was made: see crm_purge_anonymize)
	IF action = 'anonymize' AND EXISTS (
			SELECT FROM crm_purge.anonymize_rules r
			JOIN pg_attribute a ON a.attrelid = r.tbl AND a.attname = r.col
			JOIN pg_type y ON y.oid = a.atttypid
			WHERE r.tbl = _trash_apply_impl.tbl AND r.strategy LIKE 'fixed:%' AND y.oid >= 16384 AND y.typtype <> 'e') THEN
		RAISE EXCEPTION 'cannot anonymize table %: a fixed value is for a column of a user-defined type', tbl
			USING ERRCODE = 'feature_not_supported', HINT = 'Make the rule again with null, or hash for a text column.';
	END IF;
	tr := crm_purge._trash(_trash_apply_impl.tbl);
	IF tr IS NULL THEN
		RETURN 0;
	END IF;
	-- hashed here as the extension owner: a column changed since the rule
	-- was made to a type of the owner's would run its casts (to text and back)
	IF action = 'anonymize' AND EXISTS (
			SELECT FROM crm_purge.anonymize_rules r
			LEFT JOIN pg_attribute a ON a.attrelid = r.tbl AND a.attname = r.col AND NOT a.attisdropped
			LEFT JOIN pg_attribute t ON t.attrelid = tr AND t.attname = r.col AND NOT t.attisdropped
			WHERE r.tbl = _trash_apply_impl.tbl AND r.strategy = 'hash'
			  AND (a.atttypid NOT IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)
				   OR t.atttypid NOT IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype))) THEN
		RAISE EXCEPTION 'cannot anonymize table %: a hash rule is for a column that is no longer text', tbl
			USING ERRCODE = 'feature_not_supported', HINT = 'Make the rule again with null, or hash for a text column.';
	END IF;
	-- the rows are picked first, then named (Citus runs no key text, a
	-- STABLE function of columns, in a modification); a held row is never
	-- changed, whoever calls (the erase refuses before)
	-- (and, by their own keys, child rows the foreign key unlinked when the
	-- parent was trashed, trashed since, still unlinked: review round 44, B44-1)
	EXECUTE format('SELECT coalesce(array_agg(t.deletion_id), ''{}''), coalesce(array_agg(t.trash_row), ''{}'')'
				   ' FROM %s t WHERE (%s OPERATOR(pg_catalog.=) ANY ($1)%s)%s', tr, crm_purge._key_expr(tbl, cols),
				   CASE WHEN cond IS NOT NULL THEN format(' AND %s', cond) ELSE '' END,
				   CASE WHEN unlinked IS NOT NULL AND con IS NOT NULL AND action <> 'delete' THEN
						format(' OR (%s OPERATOR(pg_catalog.=) ANY ($2) AND %s)',
							   crm_purge._text_array_expr(tbl, crm_purge._pk_cols(tbl)),
							   (SELECT string_agg(format('%I IS NULL', a.attname), ' AND ')
								FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = ANY (cols)))
						ELSE '' END)
		INTO ids, nums USING keys, unlinked;
	SELECT coalesce(array_agg(h.deletion_id), '{}'), coalesce(array_agg(h.trash_row), '{}') INTO held_ids, held_nums
		FROM crm_purge._held_rows(tbl, ids, nums) h;
	-- (the erase checked the rows of its keys; unlinked ones are found here)
	IF unlinked IS NOT NULL AND cardinality(held_ids) > 0 THEN
		RAISE EXCEPTION 'cannot erase: a legal hold keeps trashed rows of table % that the erase would %', tbl, action
			USING ERRCODE = 'object_in_use',
				  HINT = 'Nothing was erased. Release the hold with crm_purge_release, or relate the tables with ''keep'' (crm_purge_relate).';
	END IF;
	SELECT coalesce(array_agg(u.i), '{}'), coalesce(array_agg(u.r), '{}') INTO ids, nums
		FROM unnest(ids, nums) u(i, r)
		WHERE NOT EXISTS (SELECT FROM unnest(held_ids, held_nums) h(i, r) WHERE h.i = u.i AND h.r = u.r);
	named := '(deletion_id, trash_row) IN (SELECT * FROM unnest($2, $3))';
	IF action = 'delete' AND con IS NULL AND parent IS NULL AND NOT crm_purge._citus_table(tr) THEN
		-- the erase's own trash rows: what re-linking remembered of them goes too
		PERFORM crm_purge._forget_unlinks(tbl, ids, nums);
	END IF;
	IF action = 'delete' THEN
		EXECUTE format('DELETE FROM %s WHERE %s', tr, named) USING keys, ids, nums;
	ELSE
		-- (values set aside by a type change or a drop are the subject's too:
		-- cleared; so are the trash's copies of stored generated columns made
		-- of an anonymized column, which the table computes again itself)
		EXECUTE format('UPDATE %s SET %s%s%s WHERE %s', tr,
					   crm_purge._child_assignments(tbl, cols, action = 'anonymize'),
					   (SELECT string_agg(format(', %I = NULL', k.attname), '')
						FROM crm_purge.anonymize_rules r, crm_purge._kept_columns(tr, r.col) k
						WHERE action = 'anonymize' AND r.tbl = _trash_apply_impl.tbl),
					   (SELECT string_agg(DISTINCT format(', %I = NULL', g.attname), '')
						FROM crm_purge.anonymize_rules r
						JOIN pg_attribute c ON c.attrelid = r.tbl AND c.attname = r.col AND NOT c.attisdropped
						JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass
							AND d.refobjid = r.tbl AND d.refobjsubid = c.attnum
						JOIN pg_attrdef ad ON ad.oid = d.objid
						JOIN pg_attribute g ON g.attrelid = r.tbl AND g.attnum = ad.adnum AND g.attgenerated = 's'
						JOIN pg_attribute t ON t.attrelid = tr AND t.attname = g.attname AND NOT t.attisdropped
						WHERE action = 'anonymize' AND r.tbl = _trash_apply_impl.tbl
						  AND NOT EXISTS (SELECT FROM crm_purge.anonymize_rules o WHERE o.tbl = r.tbl AND o.col = g.attname)),
					   named) USING keys, ids, nums;
	END IF;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

-- Tombstones and history of the erased keys of one table.
DROP FUNCTION crm_purge._erased(regclass, text[], bigint, name, int);
-- What a natural key's tombstone hashes: never equal to a primary key's text.
CREATE FUNCTION crm_purge._natural_key_text(k text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	SELECT 'natural key' || chr(31) || k
$$;
CREATE FUNCTION crm_purge._erased(tbl regclass, keys text[], natural_keys text[], depth integer) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
-- Returns the export parts of the table that still hold the keys.
CREATE OR REPLACE FUNCTION crm_purge._erased_impl(actor regrole, tbl regclass, keys text[], natural_keys text[], depth integer) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	pk int2[] := crm_purge._pk_cols(tbl);
	parts text[];
	hashes bigint[];
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'DELETE'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF crm_purge._hold_keeping(tbl, keys) IS NOT NULL THEN
		RAISE EXCEPTION 'cannot erase rows of table %: a legal hold keeps them', tbl
			USING ERRCODE = 'object_in_use';
	END IF;
	PERFORM crm_purge._ensure_secret();
	hashes := ARRAY(SELECT crm_purge._key_hash(k) FROM unnest(keys) k
					UNION SELECT crm_purge._key_hash(crm_purge._natural_key_text(k)) FROM unnest(natural_keys) k
						  WHERE k IS NOT NULL);
	INSERT INTO crm_purge.tombstones (tbl, key_hash)
		SELECT tbl, h FROM unnest(hashes) h ON CONFLICT DO NOTHING;
	PERFORM crm_purge._citus_tombstones(tbl, hashes, false);
	-- an integer key is kept as a number: the sequence never hands it out again
	IF cardinality(pk) = 1 AND cardinality(keys) > 0
		AND (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = pk[1])
			IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN
		INSERT INTO crm_purge.key_floors AS f (tbl, floor)
			SELECT tbl, max(k::bigint) FROM unnest(keys) k
			ON CONFLICT ON CONSTRAINT key_floors_pkey DO UPDATE SET floor = greatest(f.floor, EXCLUDED.floor);
		PERFORM crm_purge._raise_key_sequences(tbl);
	END IF;
	-- what the recycle bin remembered of children unlinked from these keys
	DELETE FROM crm_purge.unlinks u
		USING pg_constraint c
		WHERE c.conrelid = u.child AND c.conname = u.constraint_name AND c.confrelid = tbl
		  AND CASE WHEN cardinality(u.parent_ref) = 1 THEN u.parent_ref[1]
				   ELSE '(' || array_to_string(u.parent_ref, ',') || ')' END = ANY (keys);
	IF cardinality(pk) = 1 THEN
		DELETE FROM crm_purge.unlinks u WHERE u.child = tbl AND u.child_key[1] = ANY (keys);
	END IF;
	-- and those of a foreign key to tbl whose parent row is no longer in
	-- tbl's trash (its copy expired, or went while others of its deletion
	-- stayed), or of a key gone: nothing can link them back, and they may
	-- hold the erased subject's e-mail (review rounds 70, 71: B70-1, B71-2)
	IF NOT crm_purge._citus_table(tbl) THEN
		PERFORM crm_purge._forget_orphan_unlinks(tbl);
	END IF;
	PERFORM crm_purge._record_history(CASE WHEN depth = 0 THEN 'erase' ELSE 'erase cascade' END, tbl,
		(SELECT count(DISTINCT k) FROM unnest(keys) k), pg_get_userbyid(actor));
	PERFORM crm_purge._tombstones_changed();
	SELECT array_agg(format('request %s part %s', p.request_id, p.part) ORDER BY p.request_id, p.part)
		INTO parts FROM crm_purge._parts_with_keys(tbl, keys, crm_purge._col_names(tbl, pk)) p;
	RETURN parts;
END
$$;

DROP FUNCTION crm_purge._lock_trash_rows(regclass, tid[]);
CREATE FUNCTION crm_purge._lock_trash_rows(tbl regclass, tids tid[]) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE FUNCTION crm_purge._lock_trash_rows_impl(actor regrole, tbl regclass, tids tid[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass := crm_purge._trash(_lock_trash_rows_impl.tbl);
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'DELETE'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF tr IS NOT NULL THEN
		EXECUTE format('SELECT count(*) FROM (SELECT FROM %s WHERE ctid = ANY ($1) FOR UPDATE) l', tr) USING tids;
	END IF;
END
$$;

-- The erasure's record: the number of erased keys, the reason, and the
-- export parts that still hold them (read here, as the extension owner).
DROP FUNCTION crm_purge._record_erasure(regclass, bigint, text, text[]);
CREATE FUNCTION crm_purge._record_erasure(tbl regclass, keys text[], reason text, parts text[]) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._record_erasure_impl(actor regrole, tbl regclass, keys text[], reason text, parts text[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'DELETE'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'an erase needs a reason' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- only keys the erase tombstoned (called by itself, this recorded
	-- erasures that never happened)
	IF EXISTS (SELECT FROM unnest(keys) k
			   WHERE NOT EXISTS (SELECT FROM crm_purge.tombstones t
								 WHERE t.tbl = _record_erasure_impl.tbl AND t.key_hash = crm_purge._key_hash(k))) THEN
		RAISE EXCEPTION 'cannot record an erasure of rows of table % that were not erased', tbl
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Erase rows with crm_purge_erase, or crm_purge_delete_keys with permanent => true: they record the erasure.';
	END IF;
	-- only parts that exist (the list comes from the erase's own steps)
	parts := ARRAY(SELECT x FROM unnest(parts) x
				   WHERE EXISTS (SELECT FROM crm_purge.export_parts p
								 WHERE format('request %s part %s', p.request_id, p.part) = x)
				   ORDER BY x);
	INSERT INTO crm_purge.erasures (tbl, rows, reason, actor, export_parts)
		VALUES (tbl, (SELECT count(DISTINCT k) FROM unnest(keys) k), reason, pg_get_userbyid(actor),
				nullif(parts, '{}'));
END
$$;

-- The erase itself, as the caller (an admin): cond selects the subject's
-- rows, with $1 in it standing for keys, so that no key is ever part of
-- SQL text (which could reach the log).  With dry_run it only counts.
-- Child rules run before the parent rows go, so that foreign keys hold.
-- Legal holds are checked by their own creators (_hold_keeping).
DROP FUNCTION crm_purge._erase(regclass, text, text[], boolean, integer);
CREATE FUNCTION crm_purge._erase(tbl regclass, cond text, keys text[], dry_run boolean, depth integer)
RETURNS TABLE (t regclass, a text, n bigint, p text[])
LANGUAGE plpgsql AS $$
DECLARE
	tr regclass := crm_purge._trash(_erase.tbl);
	pk int2[] := crm_purge._pk_cols(tbl);
	pkx text := crm_purge._key_expr(tbl, pk);
	natural_cols name[] := (SELECT g.key_columns FROM crm_purge.guards g WHERE g.tbl = _erase.tbl);
	natx text;
	natural_keys text[];
	subject text[];
	k text[];
	n_live bigint;
	n_trash bigint := 0;
	hold_id bigint;
	r record;
	refs text[];
	child_cond text;
	nc bigint;
	tids tid[];
BEGIN
	IF depth > 16 THEN
		RAISE EXCEPTION 'erase rules nest deeper than 16 tables from %', tbl
			USING ERRCODE = 'program_limit_exceeded', HINT = 'Look for a cycle in crm_purge.relations.';
	END IF;
	-- no one writes the table until the erase commits: an INSERT of an
	-- erased key waits, then finds its tombstone; one made before is seen
	IF NOT dry_run THEN
		EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
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
	-- a guard's natural key is tombstoned too (email, say: a re-import gets a new id)
	IF natural_cols IS NOT NULL AND NOT dry_run THEN
		natx := crm_purge._key_expr(tbl, ARRAY(SELECT a.attnum FROM unnest(natural_cols) WITH ORDINALITY AS c(n, o)
											   JOIN pg_attribute a ON a.attrelid = tbl AND a.attname = c.n
											   ORDER BY c.o)::int2[]);
		EXECUTE format('SELECT array_agg(%s) FROM %s WHERE (%s%s)', natx, tbl, cond, E'\n') USING keys INTO natural_keys;
		IF tr IS NOT NULL THEN
			EXECUTE format('SELECT array_agg(%s) FROM %s WHERE (%s%s)', natx, tr, cond, E'\n') USING keys INTO k;
			natural_keys := coalesce(natural_keys, '{}') || coalesce(k, '{}');
		END IF;
	END IF;
	hold_id := crm_purge._hold_keeping(tbl, subject);
	IF hold_id IS NOT NULL THEN
		RAISE EXCEPTION 'cannot erase rows of table %: legal hold % keeps them (%)', tbl, hold_id,
			(SELECT h.reason FROM crm_purge.holds h WHERE h.id = hold_id)
			USING ERRCODE = 'object_in_use',
				  HINT = 'Nothing was erased. Release the hold with crm_purge_release, or narrow the filter.';
	END IF;
	t := tbl; a := CASE WHEN depth = 0 THEN 'erase' ELSE 'delete' END; n := n_live + n_trash; p := NULL;
	RETURN NEXT;

	FOR r IN
		-- a protected child that ON DELETE CASCADE would empty into its trash,
		-- with no rule of its own, is deleted with the parent: the erased
		-- person's rows must not stay restorable there
		SELECT * FROM (
			SELECT rel.child, rel.on_erase, c.oid AS con, c.conkey, c.confkey, NULL::text AS condition, c.conname
			FROM (SELECT r0.child, r0.on_erase, NULL::oid AS con FROM crm_purge.relations r0
				  WHERE r0.parent = tbl AND r0.child_columns IS NULL
				  UNION ALL
				  SELECT c0.conrelid, 'delete', c0.oid FROM pg_constraint c0
				  WHERE c0.contype = 'f' AND c0.confrelid = tbl AND c0.confdeltype = 'c' AND c0.conrelid <> tbl
					AND crm_purge._trash(c0.conrelid) IS NOT NULL
					AND NOT EXISTS (SELECT FROM crm_purge.relations r1 WHERE r1.parent = tbl AND r1.child = c0.conrelid)) rel
			JOIN pg_constraint c ON c.contype = 'f' AND c.conrelid = rel.child AND c.confrelid = tbl
				AND (rel.con IS NULL OR c.oid = rel.con)
			UNION ALL
			-- relations without a foreign key: the child's columns hold the key
			SELECT r2.child, r2.on_erase, NULL::oid, crm_purge._attnums(r2.child, r2.child_columns),
				   crm_purge._pk_cols(tbl), r2.condition, NULL::name
			FROM crm_purge.relations r2 WHERE r2.parent = tbl AND r2.child_columns IS NOT NULL) rels
		ORDER BY child::text, conname
	LOOP
		EXECUTE format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
					   crm_purge._key_expr(tbl, r.confkey), tbl, cond, E'\n') USING keys INTO refs;
		IF tr IS NOT NULL THEN
			EXECUTE format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
						   crm_purge._key_expr(tbl, r.confkey), tr, cond, E'\n') USING keys INTO k;
			refs := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(refs, '{}') || coalesce(k, '{}')) x);
		END IF;
		refs := coalesce(refs, '{}');
		-- the condition is checked again (a column's type may have changed) and
		-- written with pg_catalog's operators: no search_path picks them
		child_cond := format('%s OPERATOR(pg_catalog.=) ANY ($1)', crm_purge._key_expr(r.child, r.conkey))
			|| CASE WHEN r.condition IS NOT NULL
					THEN format(' AND %s', crm_purge._check_condition(r.child, r.condition)) ELSE '' END;
		IF r.on_erase = 'delete' THEN
			RETURN QUERY SELECT * FROM crm_purge._erase(r.child, child_cond, refs, dry_run, depth + 1);
		ELSE
			EXECUTE format('SELECT count(*) FROM %s WHERE %s', r.child, child_cond) USING refs INTO nc;
			IF NOT dry_run AND r.on_erase <> 'keep' THEN
				EXECUTE format('UPDATE %s SET %s WHERE %s', r.child,
							   crm_purge._child_assignments(r.child, r.conkey, r.on_erase = 'anonymize'),
							   child_cond) USING refs;
				nc := nc + crm_purge._trash_apply(r.child, r.conkey, refs, r.on_erase, r.con, tbl);
			END IF;
			t := r.child; a := r.on_erase; n := nc; p := NULL;
			RETURN NEXT;
		END IF;
	END LOOP;

	IF NOT dry_run THEN
		PERFORM crm_purge._delete_permanently(tbl, cond, keys);
		-- a row this transaction's snapshot could not see (REPEATABLE READ)
		IF crm_purge._live_now(tbl, subject) > 0 THEN
			RAISE EXCEPTION 'could not erase rows of table %: a row with an erased key was written concurrently', tbl
				USING ERRCODE = 'serialization_failure',
					  HINT = 'Nothing was erased. Run the erase again, in a new transaction.';
		END IF;
		-- tombstones first: the trash copies of tombstoned keys go next
		p := crm_purge._erased(tbl, subject, coalesce(natural_keys, '{}'), depth);
		PERFORM crm_purge._trash_apply(tbl, pk, subject, 'delete', NULL, NULL);
		-- the export parts that still hold the keys, as one more row
		t := tbl; a := 'parts'; n := 0;
		RETURN NEXT;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._erase_top(tbl regclass, cond text, keys text[], reason text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	total bigint;
	pk int2[] := crm_purge._pk_cols(tbl);
	subject text[];
	tr regclass := crm_purge._trash(_erase_top.tbl);
	k text[];
	parts text[];
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'an erase needs a reason' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Say why, e.g. ''GDPR request 2026-118''; it is kept with the erasure.';
	END IF;
	-- the keys, to find the export parts that still hold them
	SELECT x.a INTO subject FROM crm_purge._pick(tbl, format('SELECT array_agg(%s) FROM %s WHERE (%s%s)',
		crm_purge._key_expr(tbl, pk), tbl, cond, E'\n'), keys) AS x(a text[]);
	IF tr IS NOT NULL THEN
		SELECT x.a INTO k FROM crm_purge._pick(tbl, format('SELECT array_agg(%s) FROM %s WHERE (%s%s)',
			crm_purge._key_expr(tbl, pk), tr, cond, E'\n'), keys) AS x(a text[]);
	END IF;
	subject := coalesce(subject, '{}') || coalesce(k, '{}');
	-- every table the erase touched names its parts that still hold the keys
	WITH e AS (SELECT * FROM crm_purge._erase(tbl, cond, keys, false, 0))
	SELECT (SELECT sum(e.n) FILTER (WHERE e.a = 'erase') FROM e),
		   (SELECT array_agg(DISTINCT x) FROM e, unnest(e.p) x)
		INTO total, parts;
	PERFORM crm_purge._record_erasure(tbl, subject, reason, parts);
	IF parts IS NOT NULL THEN
		RAISE NOTICE 'erased rows of table % are still in export parts: %', tbl, array_to_string(parts, ', ')
			USING HINT = 'An export is a copy: remove those files, or let them expire (crm_purge.export_retention).';
	END IF;
	RETURN total;
END
$$;

-- Guard and tombstones ----------------------------------------------------

ALTER TABLE crm_purge.guards ADD COLUMN key_columns name[];
-- The highest erased integer key of a table: its sequence is never set
-- below it (sequence.c).  A number, not personal data.
CREATE TABLE crm_purge.key_floors (
	tbl			regclass PRIMARY KEY,
	floor		bigint NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('crm_purge.key_floors', '');
-- Tables dropped while they had tombstones (Citus's alter_distributed_table
-- and undistribute_table drop a table and make it again under its name): a
-- guard on a new table of that name takes their tombstones over.
CREATE TABLE crm_purge.dropped_tables (
	tbl			oid PRIMARY KEY,
	name		text NOT NULL,
	dropped_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	owner		oid				-- its owner when dropped (NULL: not known)
);
SELECT pg_catalog.pg_extension_config_dump('crm_purge.dropped_tables', '');
GRANT SELECT ON crm_purge.dropped_tables TO crm_purge_admin;
-- Trashes crm_purge_unprotect kept, by their table's OID (its name may
-- change): an erase of the table, or one that reaches it as a partition or
-- through ON DELETE CASCADE, is refused; crm_purge_protect takes it back.
CREATE TABLE crm_purge.kept_trashes (
	tbl			oid PRIMARY KEY,
	trash		oid NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('crm_purge.kept_trashes', '');
GRANT SELECT ON crm_purge.kept_trashes TO crm_purge_admin;
COMMENT ON TABLE crm_purge.key_floors IS 'the highest erased integer key per table; sequences are never set below it or below the trash''s highest key';
GRANT SELECT ON crm_purge.key_floors TO crm_purge_admin;
COMMENT ON COLUMN crm_purge.guards.key_columns IS 'a natural unique key, also tombstoned; NULL: the primary key only';
DROP FUNCTION crm_purge._guard(regclass, text);
-- key_columns: NULL, or distinct columns of the table (at most 32).
CREATE OR REPLACE FUNCTION crm_purge._check_key_columns(tbl regclass, key_columns name[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	missing name;
BEGIN
	IF key_columns IS NULL THEN
		RETURN;
	END IF;
	IF cardinality(key_columns) = 0 OR cardinality(key_columns) > 32 OR array_position(key_columns, NULL) IS NOT NULL
		OR (SELECT count(DISTINCT c) FROM unnest(key_columns) c) <> cardinality(key_columns) THEN
		RAISE EXCEPTION 'key_columns must name 1 to 32 distinct columns'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the columns of a natural key, e.g. ARRAY[''email''], or ''{}'' for the primary key only.';
	END IF;
	SELECT c INTO missing FROM unnest(key_columns) c
		WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = c
						  AND a.attnum > 0 AND NOT a.attisdropped);
	IF FOUND THEN
		RAISE EXCEPTION 'column "%" of table % does not exist', missing, tbl USING ERRCODE = 'undefined_column';
	END IF;
	-- a BEFORE trigger sees a generated column before it is computed
	SELECT c INTO missing FROM unnest(key_columns) c
		WHERE EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = c AND a.attgenerated <> '');
	IF FOUND THEN
		RAISE EXCEPTION 'column "%" of table % is generated', missing, tbl
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the columns it is computed from, e.g. ARRAY[''email''] rather than a lower(email) column.';
	END IF;
END
$$;
CREATE FUNCTION crm_purge._guard(tbl regclass, mode text, key_columns name[]) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._guard_impl(actor regrole, tbl regclass, mode text, key_columns name[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	d record;
	n bigint;
BEGIN
	IF NOT pg_has_role(actor, (SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to guard it', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF mode NOT IN ('skip', 'error') THEN
		RAISE EXCEPTION 'unknown mode "%"', mode USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM crm_purge._pk_cols(tbl);
	-- guarded again without key columns (to change the mode): the natural
	-- key stays ('{}' drops it)
	IF key_columns IS NULL THEN
		key_columns := (SELECT g.key_columns FROM crm_purge.guards g WHERE g.tbl = _guard_impl.tbl);
	ELSIF cardinality(key_columns) = 0 THEN
		key_columns := NULL;
	END IF;
	PERFORM crm_purge._check_key_columns(tbl, key_columns);
	-- the guard compares a key's text: equal values must have one text
	SELECT a.attname, format_type(a.atttypid, NULL) AS type, coll.collname INTO d
		FROM pg_attribute a
		LEFT JOIN pg_collation coll ON coll.oid = a.attcollation AND NOT coll.collisdeterministic
		WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
		  AND (a.attnum = ANY (crm_purge._pk_cols(tbl)) OR a.attname = ANY (coalesce(key_columns, '{}')))
		  AND (coll.oid IS NOT NULL
			   OR NOT (SELECT b.oid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'text'::regtype, 'varchar'::regtype,
									  'bpchar'::regtype, 'uuid'::regtype, 'date'::regtype, 'timestamp'::regtype,
									  'timestamptz'::regtype, 'bool'::regtype, 'inet'::regtype, 'cidr'::regtype) OR b.typtype = 'e'
					   FROM pg_type b WHERE b.oid = crm_purge._base_type(a.atttypid)))
		ORDER BY a.attnum LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot guard table %: column "%" %', tbl, d.attname,
			CASE WHEN d.collname IS NOT NULL THEN format('has the nondeterministic collation %s', quote_ident(d.collname))
				 ELSE format('is of type %s', d.type) END
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'The guard compares a key''s text, and equal values of it can be written differently (1 and 1.0, 0 and -0, a@x and A@X): an erased key would come back under another spelling.',
				  HINT = 'Guard a table whose keys are of an integer, text (with a deterministic collation), uuid, date or time, boolean, inet or enum type.';
	END IF;
	-- nor a unique index that finds them equal under such a collation (the
	-- table's own key says 'A@X' and 'a@x' are one record; round 45, B45-3)
	-- (an exclusion constraint too, and a partition's or child's: review
	-- round 46, B46-7)
	SELECT a.attname, l.collname, ic.relname AS idx INTO d
		FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indcollation::oid[]) u(attnum, coll)
		JOIN pg_attribute ia ON ia.attrelid = i.indrelid AND ia.attnum = u.attnum
		JOIN pg_attribute a ON a.attrelid = tbl AND a.attname = ia.attname AND a.attnum > 0 AND NOT a.attisdropped
		JOIN pg_collation l ON l.oid = u.coll AND NOT l.collisdeterministic
		WHERE (i.indrelid = tbl OR i.indrelid IN (SELECT r.relid FROM pg_partition_tree(tbl) r)
			   OR i.indrelid IN (SELECT h.inhrelid FROM pg_inherits h WHERE h.inhparent = tbl))
		  AND (i.indisunique OR i.indisexclusion)
		  AND (a.attnum = ANY (crm_purge._pk_cols(tbl)) OR a.attname = ANY (coalesce(key_columns, '{}')))
		ORDER BY ic.relname, a.attnum LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot guard table %: its unique index or exclusion constraint % compares column "%" under the nondeterministic collation %',
			tbl, quote_ident(d.idx), d.attname, quote_ident(d.collname)
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'The guard compares a key''s text; the index finds other spellings of it (a@x and A@X) the same key, so an erased key would come back under another spelling.',
				  HINT = 'Guard a table whose unique keys compare with a deterministic collation.';
	END IF;
	-- a unique index on an expression (lower(email)) makes other spellings
	-- one key as well, which the guard cannot know: said
	SELECT ic.relname AS idx INTO d
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		WHERE i.indrelid = tbl AND i.indisunique AND i.indexprs IS NOT NULL
		  AND EXISTS (SELECT FROM pg_depend dep JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = dep.refobjsubid
					  WHERE dep.classid = 'pg_class'::regclass AND dep.objid = i.indexrelid
						AND dep.refclassid = 'pg_class'::regclass AND dep.refobjid = tbl
						AND (a.attname = ANY (coalesce(key_columns, '{}'))))
		ORDER BY ic.relname LIMIT 1;
	IF FOUND THEN
		RAISE WARNING 'crm_purge_guard: the unique index % of table % is on an expression of the natural key', quote_ident(d.idx), tbl
			USING DETAIL = 'The guard compares the key columns'' exact text: a value the index finds equal but written otherwise (lower(email)) is not refused.',
				  HINT = 'Keep the key in one spelling (a CHECK (email = lower(email)), or lower it in the application).';
	END IF;
	-- a generated key is computed after the guard read the row; 'k' and 'k '
	-- are equal bpchar values with two texts in a key of several columns
	SELECT a.attname, a.attgenerated <> '' AS generated INTO d
		FROM pg_attribute a
		WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
		  AND (a.attnum = ANY (crm_purge._pk_cols(tbl)) OR a.attname = ANY (coalesce(key_columns, '{}')))
		  AND (a.attgenerated <> ''
			   OR (crm_purge._base_type(a.atttypid) = 'bpchar'::regtype
				   AND coalesce(nullif(a.atttypmod, -1), (SELECT y.typtypmod FROM pg_type y WHERE y.oid = a.atttypid)) = -1
				   AND ((a.attnum = ANY (crm_purge._pk_cols(tbl)) AND cardinality(crm_purge._pk_cols(tbl)) > 1)
						OR (a.attname = ANY (coalesce(key_columns, '{}')) AND cardinality(key_columns) > 1))))
		ORDER BY a.attnum LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot guard table %: column "%" %', tbl, d.attname,
			CASE WHEN d.generated THEN 'is generated' ELSE 'is of type character without a length, in a key of several columns' END
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = CASE WHEN d.generated THEN 'A generated column gets its value after the guard has read the row.'
								ELSE 'Equal values of it can be written with trailing spaces or without: an erased key would come back so.' END,
				  HINT = CASE WHEN d.generated THEN 'Key the table by a column that is not generated.'
							  ELSE 'Give the column a length (character(n)) or the type text.' END;
	END IF;
	-- a row inserted into an inheriting table is not the guarded table's to check
	IF EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			   WHERE i.inhparent = tbl AND NOT c.relispartition) THEN
		RAISE EXCEPTION 'cannot guard table %: other tables inherit from it', tbl
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'A row inserted into an inheriting table would not be checked, and the erased key would come back there.',
				  HINT = 'Use declarative partitioning (PARTITION BY), which the guard supports.';
	END IF;
	-- nor a partition or inheritance child: an erase through its parent
	-- files the tombstones under the parent, which its guard does not read
	SELECT i.inhparent::regclass AS parent INTO d FROM pg_inherits i WHERE i.inhrelid = tbl LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot guard table %: it is a partition or inheritance child of table %', tbl, d.parent
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'An erase through the parent files its tombstones there, which this table''s guard would not read.',
				  HINT = format('Guard %s (a guard on a partitioned table covers its partitions).', d.parent);
	END IF;
	-- a table dropped with tombstones and made again under its name (Citus's
	-- alter_distributed_table): its erased keys stay erased here
	FOR d IN SELECT x.tbl, x.dropped_at, x.owner FROM crm_purge.dropped_tables x
			 WHERE x.name = (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
							 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = _guard_impl.tbl)
			   AND x.tbl <> _guard_impl.tbl::oid LOOP
		-- only for a table of the same owner, or by a superuser: an admin
		-- made a table of that name and read the erased keys' hashes as its
		-- own (review round 57, A57-3)
		IF d.owner IS DISTINCT FROM (SELECT c.relowner FROM pg_class c WHERE c.oid = _guard_impl.tbl)
		   AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = actor) THEN
			RAISE EXCEPTION 'cannot guard table %: a dropped table of that name, owned by another role, left tombstones of erased keys', tbl
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'A guard on a table of that name takes them over, for the same owner only.',
					  HINT = 'Have the dropped table''s owner own this table, or a superuser guard it.';
		END IF;
		INSERT INTO crm_purge.tombstones (tbl, key_hash, erased_at)
			SELECT _guard_impl.tbl, t.key_hash, t.erased_at FROM crm_purge.tombstones t WHERE t.tbl = d.tbl::regclass
			ON CONFLICT DO NOTHING;
		GET DIAGNOSTICS n = ROW_COUNT;
		DELETE FROM crm_purge.tombstones t WHERE t.tbl = d.tbl::regclass;
		INSERT INTO crm_purge.key_floors (tbl, floor)
			SELECT _guard_impl.tbl, f.floor FROM crm_purge.key_floors f WHERE f.tbl = d.tbl::regclass
			ON CONFLICT ON CONSTRAINT key_floors_pkey DO UPDATE SET floor = greatest(crm_purge.key_floors.floor, EXCLUDED.floor);
		DELETE FROM crm_purge.key_floors f WHERE f.tbl = d.tbl::regclass;
		DELETE FROM crm_purge.guards g WHERE g.tbl = d.tbl::regclass;
		DELETE FROM crm_purge.dropped_tables x WHERE x.tbl = d.tbl;
		RAISE NOTICE 'crm_purge: table % takes over % tombstones of a dropped table of that name', tbl, n;
		-- every session's guard reads them (a pooled connection had read none),
		-- and the sequence hands out no erased key
		PERFORM crm_purge._tombstones_changed();
		PERFORM crm_purge._raise_key_sequences(tbl);
	END LOOP;
	-- Citus: the shards' guard reads the tombstones on the worker nodes
	PERFORM crm_purge._citus_tombstones(tbl, NULL, false);
	PERFORM crm_purge._guard_trigger(tbl, mode, key_columns);
	-- an erase files natural keys' tombstones only for the columns a guard
	-- names then: those erased before are not covered by new ones
	IF key_columns IS NOT NULL
	   AND key_columns IS DISTINCT FROM (SELECT g.key_columns FROM crm_purge.guards g WHERE g.tbl = _guard_impl.tbl) THEN
		SELECT count(*) INTO n FROM crm_purge.erasures e WHERE e.tbl = _guard_impl.tbl;
		IF n > 0 THEN
			RAISE WARNING 'crm_purge: % erasures of table % were made before its guard named these key columns: their values have no tombstone', n, tbl
				USING HINT = 'Rows with those values can be written again: erase them again with crm_purge_erase on those columns if they come back.';
		END IF;
	END IF;
	INSERT INTO crm_purge.guards VALUES (_guard_impl.tbl, _guard_impl.mode, _guard_impl.key_columns)
		ON CONFLICT ON CONSTRAINT guards_pkey DO UPDATE SET mode = EXCLUDED.mode, key_columns = EXCLUDED.key_columns;
	PERFORM crm_purge._ensure_secret();
END
$$;
DROP FUNCTION crm_purge_guard(regclass, text);
CREATE OR REPLACE FUNCTION crm_purge_guard(tbl regclass, mode text DEFAULT 'skip', key_columns name[] DEFAULT NULL) RETURNS void
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
	-- ('{}': the primary key only; NULL: the natural key a guard has stays)
	PERFORM crm_purge._check_key_columns(tbl, nullif(key_columns, '{}'));
	-- (refuses a Citus table's key whose text depends on settings)
	IF crm_purge._citus_table(tbl) THEN
		PERFORM crm_purge._key_expr(tbl, crm_purge._pk_cols(tbl));
		IF cardinality(key_columns) > 0 THEN
			PERFORM crm_purge._key_expr(tbl, crm_purge._attnums(tbl, key_columns));
		END IF;
	END IF;
	PERFORM crm_purge._guard(tbl, mode, key_columns);
END
$$;
COMMENT ON FUNCTION crm_purge_guard(regclass, text, name[]) IS 'INSERTs and UPDATEs to erased keys (primary, and a natural key when given) are dropped (skip) or refused (error)';

CREATE FUNCTION crm_purge._guard_skipped(tbl regclass) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_guard_skipped';

-- Guarded tables and the rows each guard dropped (mode skip) since the server started.
CREATE VIEW crm_purge_guards WITH (security_invoker = true) AS
	SELECT g.tbl AS "table", g.mode, g.key_columns, crm_purge._guard_skipped(g.tbl) AS skipped_rows
	FROM crm_purge.guards g
	WHERE pg_catalog.has_table_privilege(g.tbl, 'SELECT');
COMMENT ON VIEW crm_purge_guards IS 'guarded tables, their key columns, and the rows each guard skipped since the server started';
REVOKE ALL ON FUNCTION crm_purge._guard_skipped(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._guard_skipped(regclass) TO crm_purge_admin;
REVOKE ALL ON crm_purge_guards FROM PUBLIC;
GRANT SELECT ON crm_purge_guards TO crm_purge_admin;

DROP FUNCTION crm_purge._forget(regclass, text);
CREATE FUNCTION crm_purge._forget(tbl regclass, key text) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._forget_impl(actor regrole, tbl regclass, key text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'INSERT'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Lifting a tombstone lets the key be inserted again: it needs INSERT on the table.';
	END IF;
	PERFORM crm_purge._ensure_secret();
	DELETE FROM crm_purge.tombstones t WHERE t.tbl = _forget_impl.tbl
		AND t.key_hash IN (crm_purge._key_hash(key), crm_purge._key_hash(crm_purge._natural_key_text(key)));
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM crm_purge._citus_tombstones(tbl, ARRAY[crm_purge._key_hash(key),
											   crm_purge._key_hash(crm_purge._natural_key_text(key))], true);
	IF n > 0 THEN
		PERFORM crm_purge._record_history('tombstone lifted', tbl, n, pg_get_userbyid(actor));
		PERFORM crm_purge._tombstones_changed();
	END IF;
	RETURN n;
END
$$;

-- Holds -------------------------------------------------------------------

DROP FUNCTION crm_purge._hold(regclass, text, date, text, name);
CREATE FUNCTION crm_purge._hold(tbl regclass, filter text, until date, reason text) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._hold_impl(actor regrole, tbl regclass, filter text, until date, reason text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	hid bigint;
	obstacle text;
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'SELECT'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF filter IS NULL OR reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a hold needs a filter and a reason' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	obstacle := crm_purge._unlogged_part(tbl);
	IF obstacle IS NOT NULL THEN
		RAISE EXCEPTION 'cannot hold rows of table %: % is unlogged', tbl, obstacle
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'A crash would empty an unlogged table, held rows with it.',
				  HINT = 'Have its owner make it logged first (ALTER TABLE ... SET LOGGED).';
	END IF;
	obstacle := crm_purge._temporary_dependency(tbl);
	IF obstacle IS NOT NULL THEN
		RAISE EXCEPTION 'cannot hold rows of table %: it depends on temporary %', tbl, obstacle
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The session''s end drops it, and the table or its column with it, held rows and all.',
				  HINT = 'Have the table''s owner use a type or table that is not temporary.';
	END IF;
	-- a protected table's rows are held in its trash too: its trash
	-- triggers must be there, as crm_purge made them (review round 57,
	-- A57-1, B57-3: disabled or dropped before the hold)
	IF EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = _hold_impl.tbl OR p.tbl IN (SELECT a.relid FROM pg_partition_ancestors(_hold_impl.tbl) a))
	   AND crm_purge._trash_triggers_broken(tbl) IS NOT NULL THEN
		RAISE EXCEPTION 'cannot hold rows of table %: crm_purge''s trash triggers on % are missing, disabled or changed',
			tbl, crm_purge._trash_triggers_broken(tbl)
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Rows deleted there would skip the trash, held ones too.',
				  HINT = 'Have the table protected again: crm_purge_unprotect (the trash is kept), then crm_purge_protect.';
	END IF;
	PERFORM crm_purge._check_filter(filter);
	-- on Citus a hold's filter runs as the extension owner (see holds.c):
	-- a plain condition, which runs no one's code
	IF crm_purge._citus_table(tbl) THEN
		BEGIN
			PERFORM crm_purge._check_condition(tbl, filter);
		EXCEPTION WHEN invalid_parameter_value THEN
			RAISE EXCEPTION 'a hold on Citus table % must be a plain condition', tbl
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'Its filter runs as the extension owner: it may only compare columns of built-in types with constants (=, <>, <, <=, >, >=, IN), joined by AND, OR and NOT.',
					  HINT = 'Write it like id = 42 or created_at < ''2024-01-01''.';
		END;
	END IF;
	-- returns once no batch, round, purge or erase that read the holds without it can still delete
	PERFORM crm_purge._lock_holds(tbl);
	-- and no batch of a Citus round that read them without it (one the
	-- coordinator gave up on may still run on its node: C77-2); whatever
	-- this transaction's snapshot says of the table's requests
	IF crm_purge._citus_table(tbl) THEN
		PERFORM crm_purge._citus_fence_rounds();
	END IF;
	INSERT INTO crm_purge.holds (tbl, filter, until, reason, created_by) VALUES (tbl, filter, until, reason, actor)
		RETURNING id INTO hid;
	RETURN hid;
END
$$;
-- The filter is tried as the caller, with the search_path it will run under.
CREATE OR REPLACE FUNCTION crm_purge_hold(tbl regclass, filter text, until date, reason text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_erase_args('crm_purge_hold', tbl, filter);
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a hold needs a reason' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF until < current_date THEN
		RAISE EXCEPTION 'until (%) is in the past', until USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- operations on a partitioned table read its holds, and a partition's hold would not be seen
	IF (SELECT c.relispartition FROM pg_class c WHERE c.oid = tbl) THEN
		RAISE EXCEPTION 'cannot hold rows of partition %: a legal hold names the partitioned table', tbl
			USING ERRCODE = 'wrong_object_type',
				  HINT = format('Hold them through %s with a filter that picks them; it keeps them wherever they are named.',
								pg_partition_root(tbl));
	END IF;
	PERFORM crm_purge._check_deferred_filter(filter);
	PERFORM crm_purge._citus_secret_everywhere(tbl);
	PERFORM crm_purge._try_hold_filter(tbl, filter);
	RETURN crm_purge._hold(tbl, filter, until, reason);
END
$$;

DROP FUNCTION crm_purge._release(bigint, name);
CREATE FUNCTION crm_purge._release(hold_id bigint) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE FUNCTION crm_purge._release_impl(actor regrole, hold_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	h crm_purge.holds;
BEGIN
	SELECT * INTO h FROM crm_purge.holds x WHERE x.id = hold_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'hold % does not exist', hold_id USING ERRCODE = 'undefined_object';
	END IF;
	IF h.created_by <> actor AND NOT coalesce(has_table_privilege(actor, h.tbl, 'SELECT'), false) THEN
		RAISE EXCEPTION 'permission denied to release hold %', hold_id
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Its creator, or an admin who may SELECT from its table, may release it.';
	END IF;
	IF h.released_at IS NOT NULL THEN
		RAISE EXCEPTION 'hold % was released already', hold_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE crm_purge.holds x SET released_at = now(), released_by = actor WHERE x.id = hold_id;
END
$$;
CREATE OR REPLACE FUNCTION crm_purge_release(hold_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_release');
	IF hold_id IS NULL THEN
		RAISE EXCEPTION 'hold_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._release(hold_id);
END
$$;

-- Policies ----------------------------------------------------------------

-- The pg_cron job of a policy runs in this database as the policy's creator.
DROP FUNCTION crm_purge._cron_job(bigint, text, name);
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
REVOKE ALL ON FUNCTION crm_purge._cron_job(bigint) FROM PUBLIC;

DROP FUNCTION crm_purge._add_policy(regclass, interval, text, text, text, name, name);
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

CREATE OR REPLACE FUNCTION crm_purge_schedule(tbl regclass, older_than interval, schedule text DEFAULT '0 2 * * *',
											  mode text DEFAULT 'export_and_delete', filter text DEFAULT NULL,
											  modified_column name DEFAULT 'modified_at')
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_schedule');
	RETURN crm_purge._add_policy(tbl, older_than, schedule, mode, filter, modified_column);
END
$$;

DROP FUNCTION crm_purge._drop_policy(bigint);
CREATE FUNCTION crm_purge._drop_policy(policy_id bigint) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._drop_policy_impl(actor regrole, policy_id bigint) RETURNS void
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

REVOKE ALL ON FUNCTION crm_purge._policy_ran(bigint, bigint, text) FROM crm_purge_admin;

-- One run of a policy, from its pg_cron job, as the policy's creator (by
-- OID: a role made again under the same name is refused).
CREATE OR REPLACE FUNCTION crm_purge._run_policy(policy_id bigint) RETURNS bigint
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

CREATE OR REPLACE FUNCTION crm_purge._reconcile_policies() RETURNS integer
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
		PERFORM crm_purge._cron_job(p.id);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

-- Grants: every gate to admins only; every _impl to the owner only. -------

DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
	f record;
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	FOR f IN
		SELECT p.oid::regprocedure AS fn, p.proname, p.prosrc FROM pg_proc p
		WHERE p.pronamespace = 'crm_purge'::regnamespace
		  AND (p.prosrc = 'crm_purge_privileged' OR p.proname LIKE '\_%\_impl' OR p.proname LIKE '\_%\_check')
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
		IF f.prosrc = 'crm_purge_privileged' OR f.proname LIKE '%\_check' THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO crm_purge_admin', f.fn);
		END IF;
	END LOOP;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;
REVOKE ALL ON FUNCTION crm_purge._role_of(text), crm_purge._trash_type(oid, integer),
	crm_purge._trusted_cast(oid, oid), crm_purge._check_trash_schema(),
	crm_purge._sync_trash(regclass) FROM PUBLIC;

-- Schema sync, continued ---------------------------------------------------

-- A dropped live column's trash values stay, under another name, so that a
-- column added later under the old name starts empty.
CREATE OR REPLACE FUNCTION crm_purge._trash_column_dropped(tbl regclass, col name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass := crm_purge._trash(_trash_column_dropped.tbl);
	kept name;
BEGIN
	IF tr IS NOT NULL AND EXISTS (SELECT FROM pg_attribute
								  WHERE attrelid = tr AND attname = col AND attnum > 0 AND NOT attisdropped) THEN
		-- set aside, the values leave the reach of a hold's filter on the
		-- column (a column added again under its name would be matched)
		IF crm_purge._held_around(tbl) IS NOT NULL THEN
			RAISE EXCEPTION 'cannot drop column "%" of table %: legal hold % keeps trashed rows of the table',
				col, tbl, crm_purge._held_around(tbl)
				USING ERRCODE = 'object_in_use',
					  HINT = 'Release the hold first (crm_purge_release).';
		END IF;
		kept := crm_purge._free_column_name(tr, left(col, 50) || '_dropped');
		EXECUTE format('ALTER TABLE %s RENAME COLUMN %I TO %I', tr, col, kept);
		-- (an erase's anonymize rule on the column still reaches them: review round 43, B43-3)
		PERFORM crm_purge._set_aside_from(tr, kept, col);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION crm_purge._trash_column_dropped(regclass, name) FROM PUBLIC;

-- Unlink triggers on the children whose key points at tbl: made at
-- protect, and again whenever such a key is added later.  An ON DELETE SET
-- NULL key cleared by the parent's DELETE is recorded at once
-- (crm_purge_unlink_*); a nullable key the application clears itself, as
-- ORMs do before deleting the parent, is checked at commit
-- (crm_purge_appunlink_*, a deferred constraint trigger).
CREATE OR REPLACE FUNCTION crm_purge._create_unlink_triggers(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c record;
BEGIN
	FOR c IN
		SELECT con.conname, con.conrelid::regclass AS child, con.confdeltype IN ('n', 'd') AS set_null,
			   string_agg(format('OLD.%1$I IS NOT NULL AND NEW.%1$I IS NULL', a.attname), ' AND ' ORDER BY k.ord) AS cond,
			   bool_and(NOT a.attnotnull) AS nullable
		FROM pg_constraint con
		CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
		WHERE con.confrelid = tbl AND con.contype = 'f'
		  AND (SELECT relkind FROM pg_class WHERE oid = con.conrelid) = 'r'
		GROUP BY con.oid, con.conname, con.conrelid, con.confdeltype
	LOOP
		IF c.set_null AND NOT EXISTS (SELECT FROM pg_trigger tg WHERE tg.tgrelid = c.child
									  AND tg.tgname = left('crm_purge_unlink_' || c.conname, 63)) THEN
			EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW '
						   'WHEN (pg_catalog.pg_trigger_depth() > 0 AND %s) '
						   'EXECUTE FUNCTION crm_purge.unlink_trigger(%L)',
						   left('crm_purge_unlink_' || c.conname, 63), c.child, c.cond, c.conname);
		END IF;
		IF c.nullable AND NOT EXISTS (SELECT FROM pg_trigger tg WHERE tg.tgrelid = c.child
									  AND tg.tgname = left('crm_purge_appunlink_' || c.conname, 63)) THEN
			EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER UPDATE ON %s DEFERRABLE INITIALLY DEFERRED '
						   'FOR EACH ROW WHEN (pg_catalog.pg_trigger_depth() = 0 AND %s) '
						   'EXECUTE FUNCTION crm_purge.unlink_trigger(%L)',
						   left('crm_purge_appunlink_' || c.conname, 63), c.child, c.cond, c.conname);
		END IF;
	END LOOP;
END
$$;

-- Unprotect removes every unlink trigger it made for the table, and any
-- whose foreign key is gone.
CREATE OR REPLACE FUNCTION crm_purge._unprotect_impl(actor regrole, tbl regclass, drop_trash boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
	t record;
	hold bigint := crm_purge._held_around(tbl);
BEGIN
	IF NOT pg_has_role(actor, (SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to unprotect it', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- a legal hold keeps trash rows: the trash is not dropped under one;
	-- nor the table unprotected (a plain DELETE would then skip the trash)
	IF drop_trash AND hold IS NOT NULL THEN
		RAISE EXCEPTION 'cannot drop the trash of table %: legal hold % keeps rows of it', tbl, hold
			USING ERRCODE = 'object_in_use',
				  HINT = 'Release the hold first.';
	END IF;
	IF hold IS NOT NULL THEN
		RAISE EXCEPTION 'cannot unprotect table %: legal hold % keeps rows of it', tbl, hold
			USING ERRCODE = 'object_in_use',
				  DETAIL = 'Its rows deleted afterwards would skip the trash, held ones too.',
				  HINT = 'Release the hold first.';
	END IF;
	DELETE FROM crm_purge.protected_tables p WHERE p.tbl = _unprotect_impl.tbl RETURNING p.trash INTO tr;
	IF tr IS NULL THEN
		RAISE EXCEPTION 'table % is not protected by crm_purge', tbl USING ERRCODE = 'undefined_object';
	END IF;
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_trash ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_trash_flush ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_no_truncate ON %s', tbl);
	PERFORM crm_purge._protect_partitions(tbl);
	FOR t IN
		SELECT tg.tgname, tg.tgrelid::regclass AS child
		FROM pg_trigger tg
		LEFT JOIN pg_constraint con ON con.conrelid = tg.tgrelid AND con.contype = 'f'
			AND tg.tgname IN (left('crm_purge_unlink_' || con.conname, 63), left('crm_purge_appunlink_' || con.conname, 63))
		WHERE tg.tgfoid = 'crm_purge.unlink_trigger()'::regprocedure
		  AND (con.oid IS NULL OR con.confrelid = tbl
			   OR NOT EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = con.confrelid))
	LOOP
		EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.child);
	END LOOP;
	IF drop_trash THEN
		EXECUTE format('DROP TABLE %s', tr);
		DELETE FROM crm_purge.unlinks u WHERE u.child IN (SELECT con.conrelid FROM pg_constraint con
														  WHERE con.confrelid = tbl AND con.contype = 'f');
	ELSE
		INSERT INTO crm_purge.kept_trashes AS k (tbl, trash) VALUES (_unprotect_impl.tbl, tr)
			ON CONFLICT ON CONSTRAINT kept_trashes_pkey DO UPDATE SET trash = EXCLUDED.trash;
	END IF;
END
$$;

-- The schema-sync event trigger also sees CREATE TABLE: a child table made
-- later gets its unlink trigger.
DROP EVENT TRIGGER crm_purge_ddl;
CREATE EVENT TRIGGER crm_purge_ddl ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE FOREIGN TABLE', 'CREATE SCHEMA',
				 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER FOREIGN TABLE')
	EXECUTE FUNCTION crm_purge.ddl_trigger();
-- ... and drops see DROP TYPE and DROP DOMAIN: a held table (a typed
-- table) or a held trash's column goes with its type
DROP EVENT TRIGGER crm_purge_sql_drop;
-- (every drop: a trash's column goes with a collation, a function, an
-- extension... dropped with CASCADE too)
CREATE EVENT TRIGGER crm_purge_sql_drop ON sql_drop
	EXECUTE FUNCTION crm_purge._sql_drop();

-- Due work: failures on view, ANALYZE on its own, a commit per step --------

CREATE TABLE crm_purge.errors (
	task		text NOT NULL,
	tbl			oid NOT NULL DEFAULT 0,
	error		text NOT NULL,
	since		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	retries		integer NOT NULL DEFAULT 0,
	next_try	timestamptz NOT NULL,
	PRIMARY KEY (task, tbl)
);
COMMENT ON TABLE crm_purge.errors IS 'due work that fails: retried with backoff while the rest goes on; cleared when it succeeds';
GRANT SELECT ON crm_purge.errors TO crm_purge_admin;

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
COMMENT ON VIEW crm_purge_errors IS 'due work that fails and is retried with backoff';
GRANT SELECT ON crm_purge_errors TO PUBLIC;

ALTER TABLE crm_purge.requests ADD COLUMN analyzed_at timestamptz;
-- requests on partitioned tables: the partition being worked on
ALTER TABLE crm_purge.requests ADD COLUMN part oid;
-- the file a tid scan's blocks are of: a rewrite (VACUUM FULL) starts it over
ALTER TABLE crm_purge.requests ADD COLUMN scan_file oid;
ALTER TABLE crm_purge.requests ADD COLUMN passes integer NOT NULL DEFAULT 1;
ALTER TABLE crm_purge.requests ADD COLUMN tree_passes integer NOT NULL DEFAULT 1;
COMMENT ON COLUMN crm_purge.requests.analyzed_at IS 'when the table was analyzed after the request, in a transaction of its own';
UPDATE crm_purge.requests SET analyzed_at = finished_at WHERE status = 'success';

CREATE FUNCTION crm_purge._tick_step(first boolean) RETURNS boolean
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_tick_step_sql';
REVOKE ALL ON FUNCTION crm_purge._tick_step(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._tick_step(boolean) TO crm_purge_admin;

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
COMMENT ON PROCEDURE crm_purge_run() IS 'does all due work, committing after each batch (without the worker)';

-- Requests refuse, up front, tables whose rows they could not all account
-- for: partitioned and inheritance tables (a batch scans one heap).
CREATE OR REPLACE FUNCTION crm_purge._check_request_args(tbl regclass, older_than interval, mode text,
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

-- Functions of 1.0 that now find a trash through crm_purge._trash.

CREATE OR REPLACE FUNCTION crm_purge._rename_trash_column(tbl regclass, old_name name, new_name name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass;
BEGIN
	tr := crm_purge._trash(_rename_trash_column.tbl);
	IF tr IS NOT NULL AND EXISTS (SELECT FROM pg_attribute
								  WHERE attrelid = tr AND attname = old_name AND NOT attisdropped) THEN
		EXECUTE format('ALTER TABLE %s RENAME COLUMN %I TO %I', tr, old_name, new_name);
	END IF;
	IF tr IS NOT NULL THEN
		PERFORM crm_purge._set_aside_from(tr, k.attname, new_name)
		FROM crm_purge._kept_columns(tr, old_name) k;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._trash_of(tbl regclass, action text) RETURNS regclass
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

CREATE OR REPLACE FUNCTION crm_purge_delete_keys(tbl regclass, keys text[], permanent boolean DEFAULT false,
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
	ps oid[];
	ts tid[];
	picked text[];
BEGIN
	PERFORM crm_purge._mark_foreign_work();
	PERFORM crm_purge._check_admin('crm_purge_delete_keys');
	IF tbl IS NULL OR keys IS NULL OR permanent IS NULL THEN
		RAISE EXCEPTION 'table, keys and permanent must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._check_not_partition('crm_purge_delete_keys', tbl);
	-- (a key unique in the parent may name a child's row too: its reads take children)
	IF EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent
			   WHERE i.inhparent = tbl AND c.relkind = 'r') THEN
		RAISE EXCEPTION 'cannot delete keys of table %: it has inheritance children', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'A key may name a row of a child table too: delete from each table, or use crm_purge_delete_where.';
	END IF;
	-- a primary key of several columns: keys are its text, ROW(a, b)::text,
	-- as tombstones and erasures write it ('(6,16)')
	IF key_column IS NULL AND cardinality(crm_purge._pk_cols(tbl)) > 1 THEN
		RETURN QUERY SELECT * FROM crm_purge._delete_row_keys(tbl, keys, permanent);
		RETURN;
	END IF;
	att := crm_purge._key_column(tbl, key_column);
	-- (refuses a Citus table's key whose text depends on settings)
	IF crm_purge._citus_table(tbl) THEN
		PERFORM crm_purge._key_expr(tbl, ARRAY[att]);
	END IF;
	-- a domain's base type: casting the keys to the domain would run its
	-- CHECK, the owner's code, as the caller
	WITH RECURSIVE d(t, m, depth) AS (
		SELECT a.atttypid, a.atttypmod, 0 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = att
		UNION ALL
		SELECT y.typbasetype, y.typtypmod, d.depth + 1 FROM d JOIN pg_type y ON y.oid = d.t WHERE y.typtype = 'd'
	)
	SELECT (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = att), format_type(d.t, d.m)
		INTO col, typ FROM d ORDER BY d.depth DESC LIMIT 1;
	IF permanent THEN
		SELECT x.a INTO done FROM crm_purge._pick(tbl,
			format('SELECT array_agg(%I::text) FROM %s WHERE %I = ANY ($1::%s[])', col, tbl, col, typ), keys) AS x(a text[]);
		tr := crm_purge._trash(crm_purge_delete_keys.tbl);
		IF tr IS NOT NULL THEN
			SELECT x.a INTO more FROM crm_purge._pick(tbl,
				format('SELECT array_agg(%I::text) FROM %s WHERE %I = ANY ($1::%s[])', col, tr, col, typ), keys) AS x(a text[]);
		END IF;
		done := coalesce(done, '{}') || coalesce(more, '{}');
		PERFORM crm_purge._erase_top(tbl, format('%I = ANY ($1::%s[])', col, typ), keys,
									 format('crm_purge_delete_keys: %s keys', cardinality(keys)));
	ELSE
		IF crm_purge._citus_table(tbl) THEN
			-- as the owner on the worker nodes
			done := crm_purge._citus_delete(tbl, col, keys);
		ELSE
			-- picked as the caller, deleted as the table's owner
			SELECT x.ps, x.ts, x.ks INTO ps, ts, picked FROM crm_purge._pick(tbl,
				format('SELECT array_agg(tableoid), array_agg(ctid), array_agg(%I::text) FROM %s'
					   ' WHERE %I = ANY ($1::%s[])', col, tbl, col, typ), keys) AS x(ps oid[], ts tid[], ks text[]);
			IF ts IS NOT NULL THEN
				done := ARRAY(SELECT picked[o] FROM unnest(crm_purge._owner_write(tbl, ps, ts, NULL, NULL)) o);
			END IF;
		END IF;
	END IF;
	-- (the keys are cast to the column's type, maybe the owner's: restricted
	-- too; on Citus a key's type is a built-in one, and no filter of the
	-- caller's reads the table)
	IF crm_purge._citus_table(tbl) THEN
		RETURN QUERY EXECUTE format(
			'SELECT k.key, CASE WHEN row_number() OVER (PARTITION BY k.key::%1$s ORDER BY k.ord) > 1 THEN %2$L '
			'WHEN k.key::%1$s = ANY ($2::%1$s[]) THEN %3$L ELSE %4$L END '
			'FROM unnest($1) WITH ORDINALITY k(key, ord) ORDER BY k.ord',
			typ, 'duplicate_in_list', 'deleted', 'not_found')
			USING keys, coalesce(done, '{}');
		RETURN;
	END IF;
	RETURN QUERY SELECT x.key, x.outcome FROM crm_purge._pick(tbl, format(
		'SELECT k.key, CASE WHEN row_number() OVER (PARTITION BY k.key::%1$s ORDER BY k.ord) > 1 THEN %2$L '
		'WHEN k.key::%1$s = ANY ($2::%1$s[]) THEN %3$L ELSE %4$L END '
		'FROM unnest($1) WITH ORDINALITY k(key, ord) ORDER BY k.ord',
		typ, 'duplicate_in_list', 'deleted', 'not_found'), keys, coalesce(done, '{}')) AS x(key text, outcome text);
END
$$;

-- The one place a request changes status: queued -> in_progress ->
-- success | failed, queued -> revoked | failed.  Records the end in
-- history, and tells the creator (or, on success, every admin).
CREATE OR REPLACE FUNCTION crm_purge._request_status(request_id bigint, new_status text, error text DEFAULT NULL,
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

-- A table's primary key is read in C (catalog.c), the one reader.
CREATE OR REPLACE FUNCTION crm_purge._pk_cols(tbl regclass) RETURNS int2[]
	LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'crm_purge_pk_cols_sql';

-- Key text expressions are built in C (catalog.c), the one generator.
CREATE OR REPLACE FUNCTION crm_purge._key_expr(tbl regclass, cols int2[]) RETURNS text
	LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'crm_purge_key_expr_sql';

-- Key text (what tombstones hash and export parts hold) never depends on
-- the session's settings: the guard pins the same ones in C.
ALTER FUNCTION crm_purge._erase(regclass, text, text[], boolean, integer)
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';
ALTER FUNCTION crm_purge._erase_top(regclass, text, text[], text)
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';
ALTER FUNCTION crm_purge_delete_keys(regclass, text[], boolean, name)
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';
-- Filters, and the erase's own SQL around them, resolve names with
-- search_path = pg_catalog, pg_temp, as every filter does: no schema on the
-- caller's path picks an operator or function in them.
ALTER FUNCTION crm_purge._erase(regclass, text, text[], boolean, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge._erase_top(regclass, text, text[], text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge._erase_preview(regclass, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge_erase(regclass, text, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge_erase_preview(regclass, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge_delete_keys(regclass, text[], boolean, name) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge_delete_where(regclass, text, boolean, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge._mark(text, regclass, text, boolean) SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION crm_purge._purge_trash_batch(regclass, timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._record_history(text, regclass, bigint, name, bigint, bigint, bigint) FROM PUBLIC;

-- Guards made by 1.0 also check UPDATEs that set a key (an erased key must
-- not come back by UPDATE or upsert either).
DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
	g record;
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	FOR g IN SELECT x.tbl, x.mode FROM crm_purge.guards x
			 WHERE EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = x.tbl AND t.tgname = 'crm_purge_guard') LOOP
		EXECUTE format('DROP TRIGGER crm_purge_guard ON %s', g.tbl);
		EXECUTE format('CREATE TRIGGER crm_purge_guard BEFORE INSERT OR UPDATE ON %s FOR EACH ROW '
					   'EXECUTE FUNCTION crm_purge.guard_trigger(%L)', g.tbl, g.mode);
	END LOOP;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;
REVOKE ALL ON FUNCTION crm_purge._trash(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._trash(regclass) TO crm_purge_admin;

-- Children whose nullable key the application clears get app unlink triggers.
SELECT crm_purge._create_unlink_triggers(p.tbl) FROM crm_purge.protected_tables p ORDER BY p.tbl;

-- History shows the application's user and reason.
DROP VIEW crm_purge_history;
DROP FUNCTION crm_purge._history();
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
GRANT SELECT ON crm_purge_history TO PUBLIC;
COMMENT ON VIEW crm_purge_history IS 'every restore, trash expiry, request, purge and erasure; no personal data';
REVOKE ALL ON FUNCTION crm_purge._request_status(bigint, text, text, regrole) FROM PUBLIC;

-- Trash segments ----------------------------------------------------------
-- Each trash becomes a partitioned table (LIST on trash_segment) whose old
-- table, renamed, is its first segment: sealed, to be indexed by the worker.
CREATE TABLE crm_purge.trash_segments (
	leaf		regclass PRIMARY KEY,
	trash		regclass NOT NULL,
	segment		integer NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	sealed_at	timestamptz,
	indexed_at	timestamptz,
	UNIQUE (trash, segment)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.trash_segments', '');
CREATE OR REPLACE FUNCTION crm_purge._trash_stats_off(tr regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	col name;
BEGIN
	-- (the walk written out: the 1.0 update seals old trashes before
	-- crm_purge._base_type exists)
	FOR col IN WITH RECURSIVE d(attname, attstattarget, o) AS (
				   SELECT a.attname, a.attstattarget, a.atttypid FROM pg_attribute a
				   WHERE a.attrelid = tr AND a.attnum > 0 AND NOT a.attisdropped
				   UNION ALL SELECT d.attname, d.attstattarget, y.typbasetype FROM d JOIN pg_type y ON y.oid = d.o
				   WHERE y.typtype = 'd')
			   SELECT a.attname FROM d a JOIN pg_type t ON t.oid = a.o
			   WHERE a.attstattarget <> 0 AND t.oid >= 16384 AND t.typtype IN ('r', 'm') LOOP
		EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 0', tr, col);
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._free_trash_name(base text, suffix text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n integer := 0;
	b text;
	cand text;
BEGIN
	-- (a NULL part made every candidate NULL: this looped for ever)
	IF base IS NULL OR suffix IS NULL THEN
		RAISE EXCEPTION 'crm_purge._free_trash_name needs a name and a suffix' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	LOOP
		b := base;
		LOOP
			cand := b || suffix || CASE WHEN n > 0 THEN '_' || n ELSE '' END;
			EXIT WHEN octet_length(cand) <= 63;
			b := left(b, -1);
		END LOOP;
		IF to_regclass(format('crm_trash.%I', cand)) IS NULL THEN
			RETURN cand;
		END IF;
		n := n + 1;
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._add_trash_segment(tr regclass, seg integer) RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	leaf_name text := crm_purge._free_trash_name(left((SELECT c.relname FROM pg_class c WHERE c.oid = tr), 50),
												 '_s' || seg);
	leaf regclass;
BEGIN
	EXECUTE format('CREATE TABLE crm_trash.%I (LIKE %s)', leaf_name, tr);
	leaf := format('crm_trash.%I', leaf_name)::regclass;
	PERFORM crm_purge._trash_stats_off(leaf);
	-- read through the trash alone, whose policy says whose rows: a segment
	-- named directly shows nothing, and takes no one's writes (pg_write_all_data)
	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', leaf);
	EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%s)', tr, leaf, seg);
	EXECUTE format('COMMENT ON TABLE %s IS %L', leaf, format('crm_purge trash segment %s of %s', seg, tr));
	INSERT INTO crm_purge.trash_segments (leaf, trash, segment) VALUES (leaf, tr, seg);
	RETURN leaf;
END
$$;
CREATE OR REPLACE FUNCTION crm_purge._index_trash_segment(tbl regclass, leaf regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	cols text;
BEGIN
	FOR cols IN
		SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.o)
		FROM pg_constraint c
		CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, o)
		JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.attnum
		WHERE c.conrelid = tbl AND c.contype IN ('p', 'f')
		GROUP BY c.oid
		HAVING bool_and(EXISTS (SELECT FROM pg_attribute t WHERE t.attrelid = leaf
								AND t.attname = a.attname AND NOT t.attisdropped))
		UNION
		SELECT 'deletion_id, trash_row'
		UNION
		-- built-in types only: a cast to text of a user's type would run its code as the owner
		SELECT '(' || crm_purge._key_expr(tbl, crm_purge._pk_cols(tbl)) || ')'
		WHERE NOT EXISTS (SELECT FROM unnest(crm_purge._pk_cols(tbl)) k(attnum)
						  JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.attnum
						  WHERE a.atttypid >= 16384)
	LOOP
		BEGIN
			EXECUTE format('CREATE INDEX ON %s (%s)', leaf, cols);
		EXCEPTION WHEN invalid_object_definition THEN
			NULL;	-- a key text that depends on settings (timestamptz)
		END;
	END LOOP;
	EXECUTE format('CREATE INDEX ON %s USING brin (deleted_at)', leaf);
	PERFORM crm_purge._trash_stats_off(leaf);
	EXECUTE format('ANALYZE %s', leaf);
END
$$;
CREATE OR REPLACE FUNCTION crm_purge._trash_upkeep(tbl regclass, cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on AS $$
DECLARE
	tr regclass := crm_purge._trash(_trash_upkeep.tbl);
	cur crm_purge.trash_segments;
	s crm_purge.trash_segments;
	oldest timestamptz;
	cols text;
	merge_leaves regclass[];
	merge_segs integer[];
	l regclass;
	merged_name text;
	merged regclass;
	segment_bytes bigint := pg_size_bytes(current_setting('crm_purge.trash_segment_size'));
	expired boolean;
	n bigint;
	dropped bigint := 0;
BEGIN
	IF tr IS NULL THEN
		RETURN 0;
	END IF;
	-- one upkeep of a trash at a time (the worker, crm_purge_tick()); it blocks no reader or writer.
	-- The table first, as an ALTER TABLE takes them (the table, then its
	-- trash's sync): upkeep reads the table's key, and waiting for it while
	-- holding the trash deadlocked with a migration.  (A Citus table: LOCK
	-- would go to every node.)
	BEGIN
		IF NOT crm_purge._citus_table(tbl) THEN
			EXECUTE format('LOCK TABLE %s IN ACCESS SHARE MODE NOWAIT', tbl);
		END IF;
		EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE NOWAIT', tr);
	EXCEPTION WHEN lock_not_available THEN
		RETURN 0;
	END;
	-- Citus: a table distributed after it was protected gets its trash
	-- distributed too; its shards are new in this transaction (invisible
	-- to the connections that read shard sizes): the rest next time
	IF crm_purge._citus_table(tbl) AND NOT crm_purge._citus_table(tr) THEN
		PERFORM crm_purge._citus_distribute_trash(tbl, tr);
		RETURN 0;
	END IF;
	IF crm_purge._citus_table(tbl) THEN
		PERFORM crm_purge._citus_trash_owner(tbl, tr);
	END IF;
	-- a trash left without segments (someone dropped them) takes writes again
	IF NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = tr) THEN
		PERFORM crm_purge._add_trash_segment(tr, coalesce((SELECT max(g.segment) + 1 FROM crm_purge.trash_segments g
														   WHERE g.trash = tr), 0));
	END IF;
	SELECT * INTO cur FROM crm_purge.trash_segments g WHERE g.trash = tr ORDER BY g.segment DESC LIMIT 1;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	FOR s IN SELECT * FROM crm_purge.trash_segments g
			 WHERE g.trash = tr AND g.sealed_at IS NOT NULL AND g.indexed_at IS NULL
			   AND g.sealed_at < transaction_timestamp()
			 ORDER BY g.segment LIMIT 1 LOOP
		BEGIN
			EXECUTE format('LOCK TABLE %s IN SHARE MODE NOWAIT', s.leaf);
		EXCEPTION WHEN lock_not_available THEN
			CONTINUE;
		END;
		PERFORM crm_purge._index_trash_segment(tbl, s.leaf);
		UPDATE crm_purge.trash_segments g SET indexed_at = now() WHERE g.leaf = s.leaf;
	END LOOP;

	IF cur.sealed_at IS NULL THEN
		IF crm_purge._relation_size(cur.leaf) < segment_bytes
			AND cur.created_at < now() - current_setting('crm_purge.trash_segment_age')::interval THEN
			-- the first row stored is about the oldest; read only once the
			-- segment is that old itself (the read passes every uncommitted
			-- row of a DELETE under way)
			EXECUTE format('SELECT deleted_at FROM %s LIMIT 1', cur.leaf) INTO oldest;
		END IF;
		IF crm_purge._relation_size(cur.leaf) >= segment_bytes
			OR oldest < now() - current_setting('crm_purge.trash_segment_age')::interval THEN
			PERFORM crm_purge._add_trash_segment(tr, cur.segment + 1);
			UPDATE crm_purge.trash_segments g SET sealed_at = now() WHERE g.leaf = cur.leaf;
		END IF;
	END IF;

	-- merge: four or more small indexed segments become one, so that
	-- a lookup plans and probes few segments however the trash grew.  Rows
	-- keep their trash_segment values (the merged segment lists them all)
	-- and their names; the sources take no change meanwhile (SHARE, never
	-- waited for).
	-- (of those under a quarter of 64 segment sizes, up to 64 segment sizes in all)
	SELECT array_agg(x.leaf ORDER BY x.segment), array_agg(x.segment ORDER BY x.segment) INTO merge_leaves, merge_segs
	FROM (SELECT g.leaf, g.segment, sum(crm_purge._relation_size(g.leaf, true)) OVER (ORDER BY g.segment) AS upto
		  FROM crm_purge.trash_segments g
		  WHERE g.trash = tr AND g.indexed_at IS NOT NULL
			AND crm_purge._relation_size(g.leaf, true) < 16 * segment_bytes
			AND NOT crm_purge._segment_pinned(g.leaf)) x
	WHERE x.upto <= 64 * segment_bytes;
	-- not on Citus: the merge's INSERT ... SELECT would pull every trash row
	-- to the coordinator, where reading a value runs the checks of the
	-- owner's domains inside composite or array columns, as the superuser
	IF cardinality(merge_leaves) >= 4 AND NOT crm_purge._citus_table(tr) THEN
		-- every list value of the sources (a merged one has several)
		merge_segs := ARRAY(SELECT DISTINCT v::integer FROM unnest(merge_leaves) m
							CROSS JOIN LATERAL unnest(string_to_array(substring(
								(SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = m)
								FROM '\(([0-9, ]*)\)'), ', ')) v
							ORDER BY 1);
		BEGIN
			FOREACH l IN ARRAY merge_leaves LOOP
				EXECUTE format('LOCK TABLE %s IN SHARE MODE NOWAIT', l);
			END LOOP;
			SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
			FROM pg_attribute a WHERE a.attrelid = tr AND a.attnum > 0 AND NOT a.attisdropped;
			merged_name := crm_purge._free_trash_name(left((SELECT c.relname FROM pg_class c WHERE c.oid = tr), 40),
								'_s' || merge_segs[1] || '_' || merge_segs[cardinality(merge_segs)]);
			EXECUTE format('CREATE TABLE crm_trash.%I (LIKE %s)', merged_name, tr);
			merged := format('crm_trash.%I', merged_name)::regclass;
			EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', merged);
			EXECUTE format('INSERT INTO %s (%s) %s', merged, cols,
						   (SELECT string_agg(format('SELECT %s FROM %s', cols, m), ' UNION ALL ')
							FROM unnest(merge_leaves) m));
			-- proves the list bound: ATTACH reads nothing under the trash's lock
			EXECUTE format('ALTER TABLE %s ADD CONSTRAINT crm_purge_segments CHECK (trash_segment IN (%s))',
						   merged, array_to_string(merge_segs, ', '));
			PERFORM crm_purge._index_trash_segment(tbl, merged);
			EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE NOWAIT', tr);
			FOREACH l IN ARRAY merge_leaves LOOP
				EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', tr, l);
				EXECUTE format('DROP TABLE %s', l);
			END LOOP;
			EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%s)', tr, merged,
						   array_to_string(merge_segs, ', '));
			EXECUTE format('ALTER TABLE %s DROP CONSTRAINT crm_purge_segments', merged);
			EXECUTE format('COMMENT ON TABLE %s IS %L', merged,
						   format('crm_purge trash segments %s of %s', array_to_string(merge_segs, ', '), tr));
			DELETE FROM crm_purge.trash_segments g WHERE g.leaf = ANY (merge_leaves);
			INSERT INTO crm_purge.trash_segments (leaf, trash, segment, sealed_at, indexed_at)
				VALUES (merged, tr, merge_segs[1], now(), now());
		EXCEPTION WHEN lock_not_available OR dependent_objects_still_exist THEN
			NULL;	-- someone reads or changes them (or pinned one since): next time
		END;
	END IF;

	-- (a hold on a partition too: a table held, then attached; on a parent)
	IF crm_purge._held_around(tbl) IS NOT NULL THEN
		RETURN 0;
	END IF;
	FOR s IN SELECT * FROM crm_purge.trash_segments g
			 WHERE g.trash = tr AND g.indexed_at IS NOT NULL ORDER BY g.segment LOOP
		-- (SELECT 1: Citus 13.2 cannot plan an empty target list with a parameter)
		EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s WHERE deleted_at >= $1)', s.leaf) USING cutoff INTO expired;
		EXIT WHEN NOT expired;
		-- never wait here: trash readers would queue behind the worker
		BEGIN
			EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE NOWAIT', s.leaf);
			EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE NOWAIT', tr);
		EXCEPTION WHEN lock_not_available THEN
			RETURN dropped;
		END;
		EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s WHERE deleted_at >= $1)', s.leaf) USING cutoff INTO expired;
		EXIT WHEN NOT expired;
		EXECUTE format('SELECT count(*) FROM %s', s.leaf) INTO n;
		-- a role's object on the segment's row type (a temporary table's
		-- column, a view) blocks its DROP: its rows expire all the same, the
		-- empty segment goes once nothing depends on it (review round 56, A56-2)
		BEGIN
			EXECUTE format('DROP TABLE %s', s.leaf);
			DELETE FROM crm_purge.trash_segments g WHERE g.leaf = s.leaf;
		EXCEPTION WHEN dependent_objects_still_exist THEN
			EXECUTE format('TRUNCATE %s', s.leaf);
		END;
		dropped := dropped + n;
	END LOOP;
	RETURN dropped;
END
$$;
CREATE FUNCTION crm_purge._key_match(tbl regclass, cols int2[], src_type regtype) RETURNS text
	LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'crm_purge_key_match_sql';
CREATE OR REPLACE FUNCTION crm_purge._protect_impl(actor regrole, tbl regclass, retention interval) RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rel record;
	trash_name text;
	tr regclass;
	cols text;
	reserved name;
	obstacle text;
BEGIN
	SELECT c.relkind, c.relpersistence, c.relispartition, c.relowner, n.nspname, c.relname
		INTO rel
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = tbl;
	IF NOT pg_has_role(actor, rel.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to protect it', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	obstacle := crm_purge._temporary_dependency(tbl);
	IF obstacle IS NOT NULL THEN
		RAISE EXCEPTION 'cannot protect table %: it depends on temporary %', tbl, obstacle
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The session''s end drops it, and the table or its column with it, rows and all.',
				  HINT = 'Have the table''s owner use a type or table that is not temporary.';
	END IF;
	IF rel.relispartition THEN
		RAISE EXCEPTION 'cannot protect table %: it is a partition of %', tbl,
			(SELECT i.inhparent::regclass FROM pg_inherits i WHERE i.inhrelid = tbl)
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Protect the partitioned table: its partitions, present and future, are covered.';
	END IF;
	IF rel.relkind = 'r' AND EXISTS (SELECT FROM pg_inherits WHERE inhrelid = tbl OR inhparent = tbl) THEN
		RAISE EXCEPTION 'cannot protect table %: inheritance tables are not supported', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Declarative partitioning (PARTITION BY) is supported.';
	END IF;
	IF rel.relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', tbl
			USING ERRCODE = 'wrong_object_type', HINT = 'Only ordinary tables can be protected.';
	END IF;
	IF rel.relpersistence = 't' THEN
		RAISE EXCEPTION 'cannot protect temporary table %', tbl USING ERRCODE = 'feature_not_supported';
	END IF;
	obstacle := crm_purge._unlogged_part(tbl);
	IF obstacle IS NOT NULL THEN
		RAISE EXCEPTION 'cannot protect table %: % is unlogged', tbl, obstacle
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'A crash would empty an unlogged table, its rows never reaching the trash.',
				  HINT = 'Make it logged first (ALTER TABLE ... SET LOGGED).';
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
	IF EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = _protect_impl.tbl) THEN
		RAISE EXCEPTION 'table % is already protected', tbl
			USING ERRCODE = 'duplicate_object',
				  HINT = 'To change its retention, run crm_purge_unprotect and crm_purge_protect again; the trash is kept.';
	END IF;
	SELECT a.attname INTO reserved FROM pg_attribute a
		WHERE a.attrelid = tbl AND NOT a.attisdropped
		  AND a.attname IN ('deleted_at', 'deleted_by', 'deletion_id', 'deletion_actor', 'deletion_reason', 'marked_at',
							'trash_segment', 'trash_row');
	IF FOUND THEN
		RAISE EXCEPTION 'cannot protect table %: it has a column named "%"', tbl, reserved
			USING ERRCODE = 'duplicate_column',
				  DETAIL = 'The trash table adds the columns deleted_at, deleted_by, deletion_id, deletion_actor, deletion_reason, marked_at, trash_segment and trash_row.';
	END IF;

	trash_name := rel.nspname || '__' || rel.relname;
	-- a trash kept by crm_purge_unprotect follows its table, renamed or not
	-- (by OID; by name for a table dropped and made again)
	tr := crm_purge._kept_trash(tbl);
	IF tr IS NOT NULL THEN
		trash_name := (SELECT c.relname FROM pg_class c WHERE c.oid = tr);
		IF obj_description(tr, 'pg_class') IS DISTINCT FROM 'crm_purge trash of ' || tbl::text THEN
			EXECUTE format('COMMENT ON TABLE %s IS %L', tr, 'crm_purge trash of ' || tbl::text);
		END IF;
	END IF;
	DELETE FROM crm_purge.kept_trashes k WHERE k.tbl = _protect_impl.tbl OR k.trash = tr;
	IF octet_length(trash_name) > 63 THEN
		RAISE EXCEPTION 'cannot protect table %: trash table name "%" is longer than 63 bytes', tbl, trash_name
			USING ERRCODE = 'name_too_long', HINT = 'Rename the table or its schema to something shorter.';
	END IF;
	PERFORM crm_purge._check_trash_schema();
	IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'crm_trash') THEN
		CREATE SCHEMA crm_trash;
		COMMENT ON SCHEMA crm_trash IS 'crm_purge trash tables: rows deleted from protected tables';
		GRANT USAGE ON SCHEMA crm_trash TO PUBLIC;
	END IF;
	tr := to_regclass(format('crm_trash.%I', trash_name));
	IF tr IS NOT NULL
		AND (EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.trash = tr)
			 OR EXISTS (SELECT FROM crm_purge.kept_trashes k WHERE k.trash = tr AND k.tbl <> _protect_impl.tbl::oid)
			 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = tr) <> 'p'
			 OR obj_description(tr, 'pg_class') IS DISTINCT FROM 'crm_purge trash of ' || tbl::text) THEN
		-- the name is another table's trash (a.b__c and a__b.c) or segment
		-- (a.b_s0), or anything else: this one's has its OID
		trash_name := crm_purge._free_trash_name(left(trash_name, 50), '_' || tbl::oid);
		tr := NULL;
	END IF;
	IF tr IS NOT NULL THEN
		-- a trash kept by crm_purge_unprotect (only ever in crm_trash, which
		-- no one else may create in)
		INSERT INTO crm_purge.protected_tables (tbl, trash, retention, protected_by) VALUES (tbl, tr, retention, actor);
		PERFORM crm_purge._sync_trash(tbl);
		-- copies of keys erased meanwhile (the table renamed to this name
		-- after its erase) are not taken back (review round 48, B48-3)
		-- (not on Citus, whose shards run no such function in a DELETE: README Limits)
		IF EXISTS (SELECT FROM crm_purge.tombstones t WHERE t.tbl = _protect_impl.tbl) AND NOT crm_purge._citus_table(tr) THEN
			EXECUTE format('DELETE FROM %s WHERE crm_purge._key_hash(%s) IN (SELECT t.key_hash FROM crm_purge.tombstones t WHERE t.tbl = $1)',
						   tr, crm_purge._key_expr(tbl, crm_purge._pk_cols(tbl)))
				USING tbl;
		END IF;
		DELETE FROM crm_purge.protected_tables p WHERE p.tbl = _protect_impl.tbl;
	ELSE
		SELECT string_agg(crm_purge._column_ddl(tbl, a.attname), ', ' ORDER BY a.attnum) INTO cols
			FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped;
		EXECUTE format('CREATE TABLE crm_trash.%I (%s, deleted_at timestamptz NOT NULL, '
					   'deleted_by regrole NOT NULL, deletion_id bigint NOT NULL, marked_at timestamptz, '
					   'deletion_actor text, deletion_reason text, trash_segment integer NOT NULL, trash_row bigint NOT NULL) '
					   'PARTITION BY LIST (trash_segment)',
					   trash_name, cols);
		tr := format('crm_trash.%I', trash_name)::regclass;
		PERFORM crm_purge._trash_stats_off(tr);
		EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tr);
		-- Whoever deleted a row, or an admin, sees it while they may read the table.
		EXECUTE format('CREATE POLICY crm_purge_own_rows ON %s FOR SELECT USING '
					   '(crm_purge._trash_row_visible(tableoid, deleted_by))', tr);
		EXECUTE format('GRANT SELECT ON %s TO PUBLIC', tr);
		EXECUTE format('COMMENT ON TABLE %s IS %L', tr, 'crm_purge trash of ' || tbl::text);
		PERFORM crm_purge._add_trash_segment(tr, 0);
	END IF;

	INSERT INTO crm_purge.protected_tables (tbl, trash, retention, protected_by)
		VALUES (tbl, tr, retention, actor);
	-- Citus: the trash is distributed with the table, before the triggers
	-- reach every shard
	PERFORM crm_purge._citus_distribute_trash(tbl, tr);
	PERFORM crm_purge._create_trash_triggers(tbl);
	EXECUTE format('CREATE TRIGGER crm_purge_no_truncate BEFORE TRUNCATE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	PERFORM crm_purge._protect_partitions(tbl);
	PERFORM crm_purge._create_unlink_triggers(tbl);
	RETURN tr;
END
$$;
CREATE OR REPLACE FUNCTION crm_purge._sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	o record;
BEGIN
	-- a trash's column dropped with its type (DROP TYPE ... CASCADE): the
	-- trashed values of that column go, and a hold keeps them
	FOR o IN SELECT d.*, p.tbl AS live FROM pg_event_trigger_dropped_objects() d
			 JOIN crm_purge.protected_tables p ON p.trash = d.objid
			 WHERE d.object_type = 'table column'
	LOOP
		IF crm_purge._held_tree(o.live) IS NOT NULL THEN
			RAISE EXCEPTION 'cannot drop %: legal hold % keeps rows of table %', o.object_identity,
				crm_purge._held_tree(o.live), o.live
				USING ERRCODE = 'object_in_use',
					  HINT = 'Release the hold with crm_purge_release first.';
		END IF;
	END LOOP;
	-- a protected table's column dropped with its type or domain (DROP DOMAIN
	-- ... CASCADE): as ALTER TABLE ... DROP COLUMN, refused under a hold, and
	-- its trash column set aside (a column added again under its name would
	-- restore the old values)
	FOR o IN SELECT d.*, p.tbl AS live FROM pg_event_trigger_dropped_objects() d
			 JOIN crm_purge.protected_tables p ON p.tbl = d.objid
			 WHERE d.object_type = 'table column' AND NOT d.original
	LOOP
		PERFORM crm_purge._trash_column_dropped(o.live, o.address_names[3]::name);
	END LOOP;
	-- an attribute of a row type a held trash's column uses, dropped by
	-- CASCADE (a collation's, a schema's): every held value loses it
	-- (review round 48, B48-1)
	FOR o IN SELECT d.object_identity, c.reltype FROM pg_event_trigger_dropped_objects() d
			 JOIN pg_class c ON c.oid = d.objid
			 WHERE d.classid = 'pg_class'::regclass AND d.objsubid > 0
	LOOP
		IF crm_purge._held_trash_using(o.reltype) IS NOT NULL THEN
			RAISE EXCEPTION 'cannot drop %: a legal hold keeps trashed rows of table % that use its type', o.object_identity,
				crm_purge._held_trash_using(o.reltype)
				USING ERRCODE = 'object_in_use',
					  HINT = 'Release the hold first.';
		END IF;
	END LOOP;
	FOR o IN SELECT * FROM pg_event_trigger_dropped_objects()
			 WHERE object_type = 'table' AND objsubid = 0
	LOOP
		-- (DROP TABLE is refused before it runs; DROP SCHEMA or DROP OWNED here)
		IF crm_purge._held_on(ARRAY[o.objid]) IS NOT NULL THEN
			RAISE EXCEPTION 'cannot drop table %: a legal hold keeps rows of it', o.object_identity
				USING ERRCODE = 'object_in_use',
					  HINT = 'Release the hold with crm_purge_release first.';
		END IF;
		IF EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = o.objid) THEN
			DELETE FROM crm_purge.protected_tables p WHERE p.tbl = o.objid;
			RAISE NOTICE 'crm_purge: table % was protected; its trash table is kept', o.object_identity;
		END IF;
		-- erased keys outlive the table: a guard on a table of its name takes them over
		IF EXISTS (SELECT FROM crm_purge.tombstones t WHERE t.tbl = o.objid) THEN
			-- (its name from its parts, with quote_all_identifiers off here: the
			-- identity follows the dropping session's setting, and the guard
			-- of a table made again found none; review round 56, A56-4)
			INSERT INTO crm_purge.dropped_tables (tbl, name, owner)
				VALUES (o.objid, quote_ident(o.schema_name) || '.' || quote_ident(o.object_name), crm_purge._dropped_owner(o.objid))
				ON CONFLICT (tbl) DO UPDATE SET name = EXCLUDED.name, dropped_at = EXCLUDED.dropped_at, owner = EXCLUDED.owner;
			RAISE NOTICE 'crm_purge: table % had tombstones of erased keys; they are kept', o.object_identity
				USING HINT = 'crm_purge_guard on a table made again under this name takes them over.';
		END IF;
		DELETE FROM crm_purge.protected_tables p WHERE p.trash = o.objid;
		DELETE FROM crm_purge.trash_segments g WHERE g.leaf = o.objid OR g.trash = o.objid;
		-- (the trash of a table dropped stays its name's: crm_purge_protect of a table made again)
		DELETE FROM crm_purge.kept_trashes k WHERE k.tbl = o.objid OR k.trash = o.objid;
	END LOOP;
END
$$;
CREATE OR REPLACE FUNCTION crm_purge._mark(action text, tbl regclass, filter text, marked boolean) RETURNS bigint
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
CREATE OR REPLACE FUNCTION crm_purge._overview()
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
CREATE OR REPLACE FUNCTION crm_purge._erase(tbl regclass, cond text, keys text[], dry_run boolean, depth integer)
RETURNS TABLE (t regclass, a text, n bigint, p text[])
LANGUAGE plpgsql AS $$
DECLARE
	tr regclass := crm_purge._trash(_erase.tbl);
	pk int2[] := crm_purge._pk_cols(tbl);
	pkx text := crm_purge._key_expr(tbl, pk);
	d record;
	natural_cols name[] := (SELECT g.key_columns FROM crm_purge.guards g WHERE g.tbl = _erase.tbl);
	natx text;
	natnulls text;
	natural_keys text[];
	subject text[];
	k text[];
	n_live bigint;
	n_trash bigint := 0;
	ps oid[];
	ts tid[];
	hold_id bigint;
	r record;
	refs text[];
	child_cond text;
	unlinked text;
	unlinked_keys text[];
	nc bigint;
	ids bigint[];
	nums bigint[];
BEGIN
	IF depth > 16 THEN
		RAISE EXCEPTION 'erase rules nest deeper than 16 tables from %', tbl
			USING ERRCODE = 'program_limit_exceeded', HINT = 'Look for a cycle in crm_purge.relations.';
	END IF;
	-- an older snapshot misses trashed copies a segment merge moved since
	-- (and rows trashed since): the erase must see them all
	IF NOT dry_run AND depth = 0 AND current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'crm_purge_erase cannot run in a % transaction', upper(current_setting('transaction_isolation'))
			USING ERRCODE = 'active_sql_transaction',
				  DETAIL = 'Its snapshot would miss trashed copies the worker moved, or that were trashed, after it was taken.',
				  HINT = 'Nothing was erased. Run it in a READ COMMITTED transaction (the default).';
	END IF;
	-- copies kept in a trash of an earlier protection would come back with
	-- the next crm_purge_protect: of the table, a partition or child of it,
	-- or a table its rows' deletion cascades to (review round 45, B45-4)
	IF NOT dry_run THEN
		WITH RECURSIVE reach(rel) AS (
			SELECT tbl::oid
			UNION
			SELECT x.child FROM reach, LATERAL (
				SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = reach.rel
				UNION ALL
				SELECT c.conrelid FROM pg_constraint c
				WHERE c.contype = 'f' AND c.confrelid = reach.rel AND c.confdeltype = 'c'
				UNION ALL
				-- (and the children its rules change: review round 46, B46-2)
				SELECT r0.child FROM crm_purge.relations r0
				WHERE r0.parent = reach.rel AND r0.on_erase <> 'keep') x(child))
		SELECT reach.rel::regclass AS unprotected, crm_purge._kept_trash(reach.rel::regclass) AS kept INTO d
			FROM reach WHERE crm_purge._trash(reach.rel::regclass) IS NULL
						 AND crm_purge._kept_trash(reach.rel::regclass) IS NOT NULL
			ORDER BY reach.rel LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'cannot erase rows of table %: %', tbl,
				CASE WHEN d.unprotected = tbl THEN format('its trash %s was kept when it was unprotected', d.kept)
					 ELSE format('the trash %s of table %s, which the erase reaches, was kept when that table was unprotected',
								 d.kept, d.unprotected) END
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'The erase would leave copies of the rows there, which crm_purge_protect takes back.',
					  HINT = format('Nothing was erased. Protect table %s again (crm_purge_protect), then erase.', d.unprotected);
		END IF;
	END IF;
	-- a foreign key ON DELETE CASCADE of a partition only (not of its
	-- partitioned table) would take rows of a protected or guarded table
	-- past the erase: into its trash, or without tombstones (round 47, B47-4)
	SELECT c.conname, c.conrelid::regclass AS part, pg_partition_root(c.conrelid) AS root INTO d
		FROM pg_constraint c JOIN pg_class k ON k.oid = c.conrelid
		WHERE c.contype = 'f' AND c.confrelid = tbl AND c.confdeltype = 'c' AND k.relispartition AND c.conparentid = 0
		  AND (crm_purge._trash(pg_partition_root(c.conrelid)) IS NOT NULL
			   OR EXISTS (SELECT FROM crm_purge.guards g WHERE g.tbl = pg_partition_root(c.conrelid)))
		ORDER BY 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot erase rows of table %: foreign key % of partition % deletes rows of table % with them', tbl, quote_ident(d.conname), d.part, d.root
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'The erase deletes rows a cascade reaches through a partitioned table''s own foreign keys only.',
				  HINT = format('Nothing was erased. Declare the foreign key on table %s instead of its partition.', d.root);
	END IF;
	-- Citus: its own way (crm_purge._citus_erase), as one erase from the top
	IF NOT dry_run AND crm_purge._citus_table(tbl) THEN
		RETURN QUERY SELECT (x->>'t')::oid::regclass, x->>'a', (x->>'n')::bigint,
							CASE WHEN x ? 'p' THEN ARRAY(SELECT jsonb_array_elements_text(x->'p')) END
					 FROM jsonb_array_elements(crm_purge._citus_erase(tbl, cond, keys)) x;
		RETURN;
	END IF;
	-- no one writes the table until the erase commits: an INSERT of an
	-- erased key waits, then finds its tombstone; one made before is seen
	IF NOT dry_run THEN
		EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	END IF;
	-- a restore of these rows has finished, or waits for us; the statements
	-- below see what it did
	IF tr IS NOT NULL AND NOT dry_run THEN
		SELECT x.i, x.r INTO ids, nums FROM crm_purge._pick(tbl,
			format('SELECT array_agg(deletion_id), array_agg(trash_row) FROM %s WHERE (%s%s)', tr, cond, E'\n'), keys)
			AS x(i bigint[], r bigint[]);
		PERFORM crm_purge._lock_trash_rows(tbl, coalesce(ids, '{}'), coalesce(nums, '{}'));
	END IF;
	SELECT x.a, x.n INTO subject, n_live FROM crm_purge._pick(tbl,
		format('SELECT array_agg(%s), count(*) FROM %s WHERE (%s%s)', pkx, tbl, cond, E'\n'), keys) AS x(a text[], n bigint);
	IF tr IS NOT NULL THEN
		SELECT x.a, x.n INTO k, n_trash FROM crm_purge._pick(tbl,
			format('SELECT array_agg(%s), count(*) FROM %s WHERE (%s%s)', pkx, tr, cond, E'\n'), keys) AS x(a text[], n bigint);
		-- (and copies whose key is equal but written otherwise)
		subject := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(subject, '{}') || coalesce(k, '{}')
			|| crm_purge._equal_trash_keys(tbl, tr, cond, keys)) x);
	END IF;
	subject := coalesce(subject, '{}');
	-- a guard's natural key is tombstoned too (email, say: a re-import gets a new id)
	IF natural_cols IS NOT NULL AND NOT dry_run THEN
		-- (a natural key with a NULL part is no key: no tombstone; review round 47, B47-1)
		natnulls := (SELECT string_agg(format('%I', c.n), ', ') FROM unnest(natural_cols) c(n));
		natx := crm_purge._key_expr(tbl, ARRAY(SELECT a.attnum FROM unnest(natural_cols) WITH ORDINALITY AS c(n, o)
											   JOIN pg_attribute a ON a.attrelid = tbl AND a.attname = c.n
											   ORDER BY c.o)::int2[]);
		SELECT x.a INTO natural_keys FROM crm_purge._pick(tbl,
			format('SELECT array_agg(%s) FROM %s WHERE (%s%s) AND pg_catalog.num_nulls(%s) OPERATOR(pg_catalog.=) 0',
				   natx, tbl, cond, E'\n', natnulls), keys) AS x(a text[]);
		-- (of every trashed version of the erased keys, which all go: an
		-- older e-mail of the record too)
		IF tr IS NOT NULL THEN
			SELECT x.a INTO k FROM crm_purge._pick(tbl,
				format('SELECT array_agg(%s) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)'
					   ' AND pg_catalog.num_nulls(%s) OPERATOR(pg_catalog.=) 0', natx, tr, pkx, natnulls), subject)
				AS x(a text[]);
			natural_keys := coalesce(natural_keys, '{}') || coalesce(k, '{}');
		END IF;
	END IF;
	hold_id := crm_purge._hold_keeping(tbl, subject);
	IF hold_id IS NOT NULL THEN
		RAISE EXCEPTION 'cannot erase rows of table %: legal hold % keeps them (%)', tbl, hold_id,
			coalesce((SELECT h.reason FROM crm_purge.holds h WHERE h.id = hold_id), 'made after this transaction''s snapshot')
			USING ERRCODE = 'object_in_use',
				  HINT = 'Nothing was erased. Release the hold with crm_purge_release, or narrow the filter.';
	END IF;
	t := tbl; a := CASE WHEN depth = 0 THEN 'erase' ELSE 'delete' END; n := n_live + n_trash; p := NULL;
	RETURN NEXT;

	FOR r IN
		-- a protected child that ON DELETE CASCADE would empty into its trash,
		-- with no rule of its own, is deleted with the parent: the erased
		-- person's rows must not stay restorable there
		SELECT * FROM (
			SELECT rel.child, rel.on_erase, c.oid AS con, c.conkey, c.confkey, NULL::text AS condition, c.conname
			FROM (SELECT r0.child, r0.on_erase, NULL::oid AS con FROM crm_purge.relations r0
				  WHERE r0.parent = tbl AND r0.child_columns IS NULL
				  UNION ALL
				  SELECT c0.conrelid, 'delete', c0.oid FROM pg_constraint c0
				  WHERE c0.contype = 'f' AND c0.confrelid = tbl AND c0.confdeltype = 'c' AND c0.conrelid <> tbl
					-- (a guarded child too: its keys are tombstoned; review round 44, B44-4)
					AND (crm_purge._trash(c0.conrelid) IS NOT NULL
						 OR EXISTS (SELECT FROM crm_purge.guards g WHERE g.tbl = c0.conrelid))
					-- (a rule by the child's columns is about other references)
					AND NOT EXISTS (SELECT FROM crm_purge.relations r1 WHERE r1.parent = tbl AND r1.child = c0.conrelid
									AND r1.child_columns IS NULL)) rel
			JOIN pg_constraint c ON c.contype = 'f' AND c.conrelid = rel.child AND c.confrelid = tbl
				AND (rel.con IS NULL OR c.oid = rel.con)
			UNION ALL
			-- relations without a foreign key: the child's columns hold the key
			SELECT r2.child, r2.on_erase, NULL::oid, crm_purge._attnums(r2.child, r2.child_columns),
				   crm_purge._pk_cols(tbl), r2.condition, NULL::name
			FROM crm_purge.relations r2 WHERE r2.parent = tbl AND r2.child_columns IS NOT NULL) rels
		ORDER BY child::text, conname
	LOOP
		-- (a rule made before 1.1's checks, or a table changed since)
		IF r.con IS NULL OR EXISTS (SELECT FROM crm_purge.relations x WHERE x.parent = tbl AND x.child = r.child) THEN
			PERFORM crm_purge._check_rule_table(r.child);
		END IF;
		SELECT x.a INTO refs FROM crm_purge._pick(tbl, format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
					   crm_purge._key_expr(tbl, r.confkey), tbl, cond, E'\n'), keys) AS x(a text[]);
		IF tr IS NOT NULL THEN
			SELECT x.a INTO k FROM crm_purge._pick(tbl, format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
						   crm_purge._key_expr(tbl, r.confkey), tr, cond, E'\n'), keys) AS x(a text[]);
			refs := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(refs, '{}') || coalesce(k, '{}')) x);
		END IF;
		refs := coalesce(refs, '{}');
		-- (the child's rows are matched by the key's text: a column of another
		-- type writes the same value otherwise, 1 and 1.0, and none matched)
		IF r.on_erase <> 'keep' AND cardinality(refs) > 0
		   AND NOT crm_purge._keys_comparable(r.child, r.conkey, tbl, r.confkey) THEN
			RAISE EXCEPTION 'cannot erase rows of table %: the columns of table % that hold its key are of other types', tbl, r.child
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'The erase matches the rows of that table by the key''s text, which another type writes otherwise.',
					  HINT = 'Nothing was erased. Give the columns the types of the key, or relate the tables with ''keep'' (crm_purge_relate).';
		END IF;
		-- the condition is checked again (a column's type may have changed) and
		-- written with pg_catalog's operators: no search_path picks them
		child_cond := crm_purge._key_match(r.child, r.conkey,
					(SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = r.confkey[1]))
			|| CASE WHEN r.condition IS NOT NULL
					THEN format(' AND %s', crm_purge._check_condition(r.child, r.condition)) ELSE '' END;
		-- child rows the foreign key unlinked when the parent was trashed
		-- (recorded for re-linking), still unlinked: the rule reaches them too
		unlinked := NULL;
		unlinked_keys := NULL;
		IF tr IS NOT NULL AND r.con IS NOT NULL AND r.on_erase <> 'keep' THEN
			SELECT x.a INTO k FROM crm_purge._pick(tbl, format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
						   crm_purge._text_array_expr(tbl, r.confkey), tr, cond, E'\n'), keys) AS x(a text[]);
			unlinked_keys := CASE WHEN k IS NOT NULL THEN crm_purge._unlinked_children(r.child, r.conname, k) END;
			IF unlinked_keys IS NOT NULL THEN
				unlinked := format('%s OPERATOR(pg_catalog.=) ANY (%L::pg_catalog.text[]) AND %s',
					crm_purge._text_array_expr(r.child, crm_purge._pk_cols(r.child)), unlinked_keys,
					(SELECT string_agg(format('%I IS NULL', a.attname), ' AND ')
					 FROM pg_attribute a WHERE a.attrelid = r.child AND a.attnum = ANY (r.conkey)));
				child_cond := format('((%s) OR (%s))', child_cond, unlinked);
			END IF;
		END IF;
		-- (a rule made before the foreign key cascaded)
		IF r.on_erase = 'keep' AND r.con IS NOT NULL
		   AND (SELECT c.confdeltype FROM pg_constraint c WHERE c.oid = r.con) = 'c' THEN
			RAISE EXCEPTION 'cannot keep rows of table % on erase: it references % ON DELETE CASCADE', r.child, tbl
				USING ERRCODE = 'invalid_foreign_key',
					  HINT = 'Nothing was erased. Relate the tables again with ''delete'', ''unlink'' or ''anonymize'' (crm_purge_relate).';
		END IF;
		IF r.on_erase = 'delete' THEN
			RETURN QUERY SELECT * FROM crm_purge._erase(r.child, child_cond, refs, dry_run, depth + 1);
		ELSE
			SELECT x.n INTO nc FROM crm_purge._pick(r.child, format('SELECT count(*) FROM %s WHERE %s', r.child, child_cond), refs)
				AS x(n bigint);
			IF NOT dry_run AND r.on_erase <> 'keep' THEN
				-- a held child row is neither anonymized nor unlinked, live or trashed
				PERFORM crm_purge._lock_held(r.child);
				hold_id := crm_purge._hold_keeping_cols(r.child, r.conkey, refs,
					(SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = r.confkey[1]));
				IF hold_id IS NULL AND unlinked IS NOT NULL THEN
					SELECT x.a INTO k FROM crm_purge._pick(r.child, format('SELECT array_agg(%s) FROM %s WHERE %s',
						crm_purge._key_expr(r.child, crm_purge._pk_cols(r.child)), r.child, unlinked), refs) AS x(a text[]);
					hold_id := crm_purge._hold_keeping(r.child, coalesce(k, '{}'));
				END IF;
				IF hold_id IS NOT NULL THEN
					RAISE EXCEPTION 'cannot erase rows of table %: legal hold % keeps rows of table % that the erase would %',
						tbl, hold_id, r.child, r.on_erase
						USING ERRCODE = 'object_in_use',
							  HINT = 'Nothing was erased. Release the hold with crm_purge_release, or relate the tables with ''keep'' (crm_purge_relate).';
				END IF;
				-- (nor held rows that follow the unlinked or anonymized columns ON UPDATE)
				IF r.conkey IS NOT NULL AND NOT crm_purge._citus_table(r.child) THEN
					PERFORM crm_purge._fk_action_holds('erase', tbl, r.child, child_cond, refs, 1,
						r.conkey || ARRAY(SELECT a.attnum FROM crm_purge.anonymize_rules ar
										  JOIN pg_attribute a ON a.attrelid = ar.tbl AND a.attname = ar.col
										  WHERE r.on_erase = 'anonymize' AND ar.tbl = r.child)::int2[]);
				END IF;
				-- picked (and locked) as the caller, unlinked as the child's owner
				SELECT x.ps, x.ts INTO ps, ts FROM crm_purge._pick(r.child,
					format('SELECT array_agg(l.tableoid), array_agg(l.ctid)'
						   ' FROM (SELECT tableoid, ctid FROM %s WHERE %s FOR UPDATE) l', r.child, child_cond), refs)
					AS x(ps oid[], ts tid[]);
				-- (picked FOR UPDATE: a row not written was kept by the child's trigger or rule)
				IF ts IS NOT NULL AND cardinality(crm_purge._owner_write(r.child, ps, ts, r.conkey, r.on_erase = 'anonymize'))
					< cardinality(ts) THEN
					RAISE EXCEPTION 'could not erase rows of table %: rows of table % that the erase would % kept their values', tbl, r.child, r.on_erase
						USING ERRCODE = 'object_not_in_prerequisite_state',
							  DETAIL = 'A trigger or rule of that table kept them from being changed.',
							  HINT = 'Nothing was erased. See what keeps the rows, or relate the tables with ''keep'' (crm_purge_relate).';
				END IF;
				nc := nc + crm_purge._trash_apply(r.child, r.conkey, refs, r.on_erase, r.con, tbl, unlinked_keys);
			END IF;
			t := r.child; a := r.on_erase; n := nc; p := NULL;
			RETURN NEXT;
		END IF;
	END LOOP;

	IF NOT dry_run THEN
		PERFORM crm_purge._erase_cascade_trash(tbl, tbl, cond, keys, 0);
		PERFORM crm_purge._delete_permanently(tbl, cond, keys);
		-- tombstones first (none while a key is live: _erased_check): the
		-- trash copies of tombstoned keys go next
		p := crm_purge._erased(tbl, subject, coalesce(natural_keys, '{}'), depth);
		PERFORM crm_purge._trash_apply(tbl, pk, subject, 'delete', NULL, NULL);
		-- the export parts that still hold the keys, as one more row
		t := tbl; a := 'parts'; n := 0;
		RETURN NEXT;
	END IF;
END
$$;
CREATE OR REPLACE FUNCTION crm_purge._reconcile_policies() RETURNS integer
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
DROP FUNCTION crm_purge._set_marks(regclass, tid[], boolean);
DROP FUNCTION crm_purge._set_marks_impl(regrole, regclass, tid[], boolean);
DROP FUNCTION crm_purge._lock_trash_rows(regclass, tid[]);
DROP FUNCTION crm_purge._lock_trash_rows_impl(regrole, regclass, tid[]);
CREATE FUNCTION crm_purge._held_rows(tbl regclass, ids bigint[], nums bigint[])
RETURNS TABLE (deletion_id bigint, trash_row bigint)
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_held_rows';
CREATE FUNCTION crm_purge._set_marks(tbl regclass, ids bigint[], nums bigint[], marked boolean) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._set_marks_impl(actor regrole, tbl regclass, ids bigint[], nums bigint[], marked boolean)
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
CREATE FUNCTION crm_purge._lock_trash_rows(tbl regclass, ids bigint[], nums bigint[]) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';
CREATE OR REPLACE FUNCTION crm_purge._lock_trash_rows_impl(actor regrole, tbl regclass, ids bigint[], nums bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tr regclass := crm_purge._trash(_lock_trash_rows_impl.tbl);
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'DELETE'), false) THEN
		RAISE EXCEPTION 'permission denied for table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF tr IS NOT NULL AND crm_purge._citus_table(tr) THEN
		-- Citus locks rows of many shards by an UPDATE only (no FOR UPDATE)
		EXECUTE format('WITH l AS (UPDATE %s t SET marked_at = t.marked_at WHERE (t.deletion_id, t.trash_row) IN '
					   '(SELECT * FROM unnest($1, $2)) RETURNING 1) SELECT count(*) FROM l', tr) USING ids, nums;
	ELSIF tr IS NOT NULL THEN
		EXECUTE format('SELECT count(*) FROM (SELECT FROM %s t WHERE (t.deletion_id, t.trash_row) IN '
					   '(SELECT * FROM unnest($1, $2)) FOR UPDATE) l', tr) USING ids, nums;
	END IF;
END
$$;
COMMENT ON FUNCTION crm_purge._held_rows(regclass, bigint[], bigint[]) IS 'which of these trash rows a legal hold keeps; each hold''s filter runs as its creator';
REVOKE ALL ON FUNCTION crm_purge._set_marks(regclass, bigint[], bigint[], boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._set_marks(regclass, bigint[], bigint[], boolean) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._set_marks_impl(regrole, regclass, bigint[], bigint[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._lock_trash_rows(regclass, bigint[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._lock_trash_rows(regclass, bigint[], bigint[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._lock_trash_rows_impl(regrole, regclass, bigint[], bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._held_rows(regclass, bigint[], bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._add_trash_segment(regclass, integer),
	crm_purge._trash_upkeep(regclass, timestamptz), crm_purge._index_trash_segment(regclass, regclass),
	crm_purge._trash_stats_off(regclass) FROM PUBLIC;
GRANT SELECT ON crm_purge.trash_segments TO crm_purge_admin;

-- Each 1.0 trash: its rows numbered (trash_row, once: the table is
-- rewritten), then it becomes the first segment of a partitioned trash
-- under its name, read by everyone else through that trash's policy.
DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
	t record;
	tr regclass;
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	FOR t IN SELECT c.oid::regclass AS old, c.relname, obj_description(c.oid, 'pg_class') AS note
			 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname = 'crm_trash' AND c.relkind = 'r' AND NOT c.relispartition
			   AND obj_description(c.oid, 'pg_class') LIKE 'crm_purge trash of %'
			 ORDER BY c.oid
	LOOP
		EXECUTE format('ALTER TABLE %s ADD COLUMN trash_segment integer NOT NULL DEFAULT 0, '
					   'ADD COLUMN trash_row bigint NOT NULL DEFAULT nextval(%L)', t.old, 'crm_purge.deletion_id_seq');
		EXECUTE format('ALTER TABLE %s ALTER COLUMN trash_segment DROP DEFAULT, ALTER COLUMN trash_row DROP DEFAULT', t.old);
		EXECUTE format('ALTER TABLE %s RENAME TO %I', t.old, left(t.relname, 50) || '_s0');
		EXECUTE format('CREATE TABLE crm_trash.%I (LIKE %s) PARTITION BY LIST (trash_segment)', t.relname, t.old);
		tr := format('crm_trash.%I', t.relname)::regclass;
		EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (0)', tr, t.old);
		EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tr);
		EXECUTE format('CREATE POLICY crm_purge_own_rows ON %s FOR SELECT USING '
					   '(crm_purge._trash_row_visible(tableoid, deleted_by))', tr);
		EXECUTE format('GRANT SELECT ON %s TO PUBLIC', tr);
		EXECUTE format('COMMENT ON TABLE %s IS %L', tr, t.note);
		EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', t.old);
		EXECUTE format('DROP POLICY IF EXISTS crm_purge_own_rows ON %s', t.old);
		-- (as every segment: named directly, it shows nothing and takes no
		-- one's writes, pg_write_all_data's; review round 56, A56-3)
		EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.old);
		EXECUTE format('COMMENT ON TABLE %s IS %L', t.old, format('crm_purge trash segment 0 of %s', tr));
		INSERT INTO crm_purge.trash_segments (leaf, trash, segment, sealed_at) VALUES (t.old, tr, 0, now());
		UPDATE crm_purge.protected_tables p SET trash = tr WHERE p.trash = t.old;
		-- trash is user data, never part of the extension
		EXECUTE format('ALTER EXTENSION crm_purge DROP TABLE %s', tr);
		EXECUTE format('ALTER EXTENSION crm_purge DROP TABLE %s', crm_purge._add_trash_segment(tr, 1));
	END LOOP;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;
ALTER FUNCTION crm_purge._erase(regclass, text, text[], boolean, integer)
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';
ALTER FUNCTION crm_purge._erase(regclass, text, text[], boolean, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge._mark(text, regclass, text, boolean) SET search_path = pg_catalog, pg_temp;

-- (end of trash segments)

-- Citus -------------------------------------------------------------------
ALTER TABLE crm_purge.export_parts ADD COLUMN node_group integer, ADD COLUMN placementid bigint,
	ADD COLUMN shard_part integer;

-- Citus: a request on a distributed table runs a batch per shard placement
-- on its node.  The coordinator keeps what each placement reported, by
-- placement (a moved shard has a new one) and node group (a node's address
-- may change) ...
CREATE TABLE crm_purge.request_shards (
	request_id	bigint NOT NULL REFERENCES crm_purge.requests ON DELETE CASCADE,
	placementid	bigint NOT NULL,
	shardid		bigint NOT NULL,
	node_group	integer NOT NULL,
	rows_done	bigint NOT NULL DEFAULT 0,
	parts		integer NOT NULL DEFAULT 0,
	done		boolean NOT NULL DEFAULT false,
	PRIMARY KEY (request_id, placementid)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.request_shards', '');

-- ... and the node keeps the placement's scan and parts, saved with each batch.
CREATE TABLE crm_purge.shard_requests (
	request_id	bigint NOT NULL,
	placementid	bigint NOT NULL,
	shardid		bigint NOT NULL,
	scan		text NOT NULL,
	next_block	bigint NOT NULL,
	end_block	bigint NOT NULL,
	chunk_blocks bigint NOT NULL,
	last_value	timestamptz,
	batches		integer NOT NULL DEFAULT 0,
	parts		integer NOT NULL DEFAULT 0,
	rows_done	bigint NOT NULL DEFAULT 0,
	done		boolean NOT NULL DEFAULT false,
	scan_file	oid,
	passes		integer NOT NULL DEFAULT 1,
	left_note	text,
	PRIMARY KEY (request_id, placementid)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.shard_requests', '');

CREATE TABLE crm_purge.shard_parts (
	request_id	bigint NOT NULL,
	placementid	bigint NOT NULL,
	part		integer NOT NULL,
	path		text,
	rows		bigint NOT NULL,
	bytes		bigint NOT NULL,
	sha256		text NOT NULL,
	data		bytea,
	PRIMARY KEY (request_id, placementid, part)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.shard_parts', '');

-- ... and the rounds' fence: a shard batch commits only when its round (a
-- number of the coordinator's crm_purge.citus_rounds) is not below the
-- floor here.  The coordinator raises the floor on every node when a legal
-- hold is made on a Citus table, and when a request on one ends
-- (crm_purge._citus_fence_rounds): a batch of a round the coordinator
-- gave up on, still running on its node, then fails instead of deleting
-- with the holds of its round, or after the request ended (review round 77,
-- C77-2).  Node-local state: not dumped (a restored node starts from 0).
CREATE SEQUENCE crm_purge.citus_rounds;

SELECT pg_catalog.pg_extension_config_dump('crm_purge.citus_rounds', '');

CREATE TABLE crm_purge.citus_round_fence (
	one			boolean PRIMARY KEY DEFAULT true CHECK (one),
	floor		bigint NOT NULL
);

INSERT INTO crm_purge.citus_round_fence (floor) VALUES (0);

GRANT SELECT ON crm_purge.citus_round_fence TO crm_purge_admin;
ALTER TABLE crm_purge.citus_round_fence ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.citus_round_fence FOR SELECT TO crm_purge_admin USING (true);

GRANT SELECT ON crm_purge.request_shards, crm_purge.shard_requests TO crm_purge_admin;
-- export data of every table on a Citus node: read through crm_purge_export_read
REVOKE ALL ON crm_purge.shard_parts FROM crm_purge_admin;

CREATE OR REPLACE FUNCTION crm_purge._citus_distribute_trash(tbl regclass, tr regclass) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	method text;
	repmodel text;
	col text;
	trash_colocation integer;
	colocation integer;
	expected text;
	owner regrole;
	code_col name;
	deleters jsonb;
	deleter record;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
		RETURN false;
	END IF;
	EXECUTE 'SELECT p.partmethod::text, p.repmodel::text, p.colocationid,
					CASE WHEN p.partkey IS NOT NULL THEN column_to_column_name(p.logicalrelid, p.partkey) END
			 FROM pg_dist_partition p WHERE p.logicalrelid = $1'
		INTO method, repmodel, colocation, col USING tbl;
	IF method IS NULL THEN
		-- a trash kept distributed from before undistribute_table: DELETEs
		-- would write the coordinator's copy of it, which Citus never reads
		IF EXISTS (SELECT FROM pg_dist_partition p WHERE p.logicalrelid = tr) THEN
			RAISE EXCEPTION 'cannot protect table %: its trash % is a Citus table and the table is not', tbl, tr
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Distribute the table again, or have a superuser run undistribute_table on the trash.';
		END IF;
		RETURN false;
	END IF;
	IF method = 'n' AND repmodel = 't' THEN
		RAISE EXCEPTION 'cannot protect table %: it is a Citus reference table', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'crm_purge protects hash-distributed tables (create_distributed_table) and plain tables.';
	END IF;
	IF method = 'n' THEN
		RAISE EXCEPTION 'cannot protect table %: it is a Citus local table', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Distribute it with create_distributed_table, or make it a plain table again with undistribute_table.';
	END IF;
	IF method <> 'h' THEN
		RAISE EXCEPTION 'cannot protect table %: it is distributed by range or append', tbl
			USING ERRCODE = 'feature_not_supported', HINT = 'crm_purge protects hash-distributed tables.';
	END IF;
	-- the trash stores a domain's base type, and Citus colocates tables
	-- distributed by the same type only
	IF (SELECT y.typtype FROM pg_attribute a JOIN pg_type y ON y.oid = a.atttypid
		WHERE a.attrelid = tbl AND a.attname = col) = 'd' THEN
		RAISE EXCEPTION 'cannot protect distributed table %: its distribution column % has a domain type', tbl, quote_ident(col)
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Its trash stores the base type, and Citus colocates only tables distributed by columns of the same type.',
				  HINT = 'Distribute the table by a column of a base type (alter_distributed_table).';
	END IF;
	-- each copy of a replicated trash shard names a row otherwise: a restore
	-- or purge by name reached one copy
	IF EXISTS (SELECT FROM pg_dist_shard s JOIN pg_dist_placement pl ON pl.shardid = s.shardid
			   WHERE s.logicalrelid = tbl GROUP BY s.shardid HAVING count(*) > 1) THEN
		RAISE EXCEPTION 'cannot protect distributed table %: its shards are replicated', tbl
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Each copy of a trash shard would name its rows otherwise.',
				  HINT = 'Distribute the table with citus.shard_replication_factor = 1.';
	END IF;
	IF (SELECT c.relkind FROM pg_class c WHERE c.oid = tbl) = 'p' THEN
		RAISE EXCEPTION 'cannot protect table %: partitioned distributed tables are not supported yet', tbl
			USING ERRCODE = 'feature_not_supported', HINT = 'Protect a distributed table that is not partitioned.';
	END IF;
	-- Citus copies a trash's rows as the superuser (distributing one that
	-- holds rows, moving a shard), reading every value: a domain's CHECK
	-- inside a composite, array or range column would run as the superuser
	code_col := crm_purge._citus_owner_code_column(tr);
	IF code_col IS NOT NULL THEN
		RAISE EXCEPTION 'cannot protect distributed table %: column % of its trash has a type whose values run code when read', tbl, quote_ident(code_col)
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'A domain inside an array, a composite or a range, or a type made by a user: Citus reads the trash''s values as the superuser when it copies them.',
				  HINT = 'On Citus, protect tables whose columns have built-in types, enums or domains over them.';
	END IF;
	expected := (SELECT n.nspname || '__' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				 WHERE c.oid = tbl);
	-- a worker node finds the trash by this name alone: it must name one
	-- table (no "__" inside either name, nor a "_" next to the join) and
	-- leave room for Citus's shard suffixes (longer names are hashed)
	IF NOT crm_purge._citus_name_ok(tbl) THEN
		RAISE EXCEPTION 'cannot protect distributed table %: its schema or table name contains "__", or the schema ends or the table starts with "_"', tbl
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = format('On Citus the trash name %s must name one table.', quote_ident(expected)),
				  HINT = 'Rename the table or its schema.';
	END IF;
	IF octet_length(expected) > 40 THEN
		RAISE EXCEPTION 'cannot protect distributed table %: the trash name % is longer than 40 bytes', tbl, quote_ident(expected)
			USING ERRCODE = 'name_too_long',
				  HINT = 'Citus hashes shard names that would pass 63 bytes, and a worker node finds the trash by its name: rename the table or its schema.';
	END IF;
	IF (SELECT c.relname FROM pg_class c WHERE c.oid = tr) <> expected THEN
		RAISE EXCEPTION 'cannot protect distributed table %: its trash must be named crm_trash.%', tbl, quote_ident(expected)
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = format('The trash would be %s.', tr),
				  HINT = 'Rename the table, or rename or drop the other relation of that name in schema crm_trash.';
	END IF;
	EXECUTE 'SELECT p.colocationid FROM pg_dist_partition p WHERE p.logicalrelid = $1' INTO trash_colocation USING tr;
	IF trash_colocation IS NULL THEN
		-- Citus copies the rows it holds in binary: deleted_by as the
		-- coordinator's OIDs, which name other roles (or none) on the
		-- worker nodes; each is set again by name
		EXECUTE format('SELECT jsonb_object_agg(n, r) FROM (SELECT deleted_by::text AS n,'
					   ' array_agg(deletion_id::text || '':'' || trash_row::text) AS r FROM %s GROUP BY 1) x', tr)
			INTO deleters;
		EXECUTE 'SELECT create_distributed_table($1, $2, colocate_with => $3)' USING tr::text, col, tbl::text;
		-- the rows it held stay in the coordinator's files otherwise (erased ones too)
		EXECUTE 'SELECT truncate_local_data_after_distributing_table($1)' USING tr;
		FOR deleter IN SELECT d.key, d.value FROM jsonb_each(coalesce(deleters, '{}')) d LOOP
			EXECUTE format('UPDATE %s SET deleted_by = %L::regrole'
						   ' WHERE (deletion_id::text || '':'' || trash_row::text) = ANY ($1)', tr, deleter.key)
				USING ARRAY(SELECT jsonb_array_elements_text(deleter.value));
		END LOOP;
	ELSIF trash_colocation <> colocation THEN
		RAISE EXCEPTION 'cannot protect distributed table %: its trash % is not colocated with it', tbl, tr
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = format('Run SELECT update_distributed_table_colocation(%L, colocate_with => %L).', tr::text, tbl::text);
	END IF;
	PERFORM crm_purge._citus_trash_owner(tbl, tr);
	-- the secret on every node: it tags the deletion ids of statements in
	-- transaction blocks (src/citus.c)
	PERFORM crm_purge._citus_tombstones(tbl, '{}', false);
	-- Citus's own statements on the superuser's connections to the worker
	-- nodes find functions through public (README, Citus): say so when the
	-- table's owner may create there
	SELECT c.relowner::regrole INTO owner FROM pg_class c WHERE c.oid = tbl;
	IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = owner::oid)
	   AND has_schema_privilege(owner::oid, 'public', 'CREATE') THEN
		RAISE WARNING 'the owner % of distributed table % may create objects in schema public', owner, tbl
			USING DETAIL = 'Citus runs statements as the superuser on the worker nodes with public on their search_path: a function made there can run as the superuser.',
				  HINT = 'Revoke CREATE on schema public from that role (and from PUBLIC), and give it a schema of its own.';
	END IF;
	RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_table(tbl regclass) RETURNS boolean
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

CREATE OR REPLACE FUNCTION crm_purge._relation_size(rel regclass, total boolean DEFAULT false) RETURNS bigint
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


CREATE OR REPLACE FUNCTION crm_purge._delete_row_keys(tbl regclass, keys text[], permanent boolean)
RETURNS TABLE (key text, outcome text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	pk int2[] := crm_purge._pk_cols(tbl);
	keyx text := crm_purge._key_expr(tbl, pk);
	tr regclass;
	done text[];
	more text[];
	ps oid[];
	ts tid[];
	picked text[];
BEGIN
	IF permanent THEN
		SELECT x.a INTO done FROM crm_purge._pick(tbl,
			format('SELECT array_agg(%s) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)', keyx, tbl, keyx), keys) AS x(a text[]);
		tr := crm_purge._trash(_delete_row_keys.tbl);
		IF tr IS NOT NULL THEN
			SELECT x.a INTO more FROM crm_purge._pick(tbl,
				format('SELECT array_agg(%s) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)', keyx, tr, keyx), keys) AS x(a text[]);
		END IF;
		done := coalesce(done, '{}') || coalesce(more, '{}');
		PERFORM crm_purge._erase_top(tbl, format('%s OPERATOR(pg_catalog.=) ANY ($1)', keyx), keys,
									 format('crm_purge_delete_keys: %s keys', cardinality(keys)));
	ELSIF crm_purge._citus_table(tbl) THEN
		done := crm_purge._citus_delete(tbl, NULL, keys);
	ELSE
		-- picked as the caller, deleted as the table's owner
		SELECT x.ps, x.ts, x.ks INTO ps, ts, picked FROM crm_purge._pick(tbl,
			format('SELECT array_agg(tableoid), array_agg(ctid), array_agg(%1$s) FROM %2$s'
				   ' WHERE %1$s OPERATOR(pg_catalog.=) ANY ($1)', keyx, tbl), keys) AS x(ps oid[], ts tid[], ks text[]);
		IF ts IS NOT NULL THEN
			done := ARRAY(SELECT picked[o] FROM unnest(crm_purge._owner_write(tbl, ps, ts, NULL, NULL)) o);
		END IF;
	END IF;
	done := coalesce(done, '{}');
	RETURN QUERY
		SELECT k.key, CASE WHEN row_number() OVER (PARTITION BY k.key ORDER BY k.ord) > 1 THEN 'duplicate_in_list'
						   WHEN k.key = ANY (done) THEN 'deleted' ELSE 'not_found' END
		FROM unnest(keys) WITH ORDINALITY k(key, ord) ORDER BY k.ord;
END
$$;






CREATE OR REPLACE FUNCTION crm_purge._citus_tombstones(tbl regclass, hashes bigint[], forget boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	name text;
BEGIN
	IF NOT crm_purge._citus_table(tbl) THEN
		RETURN;
	END IF;
	-- the table by its smallest shard id: the same on every node, and
	-- through renames (src/citus.c, crm_purge_citus_table_key)
	EXECUTE 'SELECT min(shardid)::text FROM pg_dist_shard WHERE logicalrelid = $1' INTO name USING tbl;
	IF hashes IS NULL AND octet_length((SELECT c.relname FROM pg_class c WHERE c.oid = tbl)) > 40 THEN
		RAISE EXCEPTION 'cannot guard Citus table %: its name is longer than 40 bytes', tbl
			USING ERRCODE = 'name_too_long',
				  HINT = 'Citus hashes shard names that would pass 63 bytes, and a shard''s guard finds its table by its name: rename the table.';
	END IF;
	IF to_regclass('crm_trash.crm_purge_tombstones') IS NULL THEN
		PERFORM crm_purge._check_trash_schema();
		IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'crm_trash') THEN
			CREATE SCHEMA crm_trash;
			COMMENT ON SCHEMA crm_trash IS 'crm_purge trash tables: rows deleted from protected tables';
			GRANT USAGE ON SCHEMA crm_trash TO PUBLIC;
		END IF;
		CREATE TABLE crm_trash.crm_purge_tombstones (tbl text NOT NULL, key_hash bigint NOT NULL, PRIMARY KEY (tbl, key_hash));
		CREATE TABLE crm_trash.crm_purge_secret (one boolean PRIMARY KEY DEFAULT true CHECK (one), secret bytea NOT NULL);
		REVOKE ALL ON crm_trash.crm_purge_tombstones, crm_trash.crm_purge_secret FROM PUBLIC;
		COMMENT ON TABLE crm_trash.crm_purge_tombstones IS 'crm_purge: tombstones of Citus tables, on every node';
		COMMENT ON TABLE crm_trash.crm_purge_secret IS 'crm_purge: the tombstone secret, on every node';
		EXECUTE 'SELECT create_reference_table(''crm_trash.crm_purge_tombstones'')';
		EXECUTE 'SELECT create_reference_table(''crm_trash.crm_purge_secret'')';
	END IF;
	PERFORM crm_purge._ensure_secret();
	IF NOT EXISTS (SELECT FROM crm_trash.crm_purge_secret c, crm_purge.secret s WHERE c.secret = s.secret) THEN
		DELETE FROM crm_trash.crm_purge_secret;
		INSERT INTO crm_trash.crm_purge_secret (secret) SELECT s.secret FROM crm_purge.secret s;
	END IF;
	-- key_hash 0 marks a table copied whole: without it a shard's guard
	-- refuses rows rather than miss tombstones (distributed later, split);
	-- an erase or forget under a key not copied whole copies it first (one
	-- after a split filed only its own; review round 46, C46-1)
	IF hashes IS NULL OR NOT EXISTS (SELECT FROM crm_trash.crm_purge_tombstones t WHERE t.tbl = name AND t.key_hash = 0) THEN
		DELETE FROM crm_trash.crm_purge_tombstones t WHERE t.tbl = name;
		INSERT INTO crm_trash.crm_purge_tombstones (tbl, key_hash)
			SELECT name, 0 UNION SELECT name, x.key_hash FROM crm_purge.tombstones x WHERE x.tbl = _citus_tombstones.tbl;
	END IF;
	IF hashes IS NOT NULL AND forget THEN
		DELETE FROM crm_trash.crm_purge_tombstones t WHERE t.tbl = name AND t.key_hash = ANY (hashes) AND t.key_hash <> 0;
	ELSIF hashes IS NOT NULL THEN
		INSERT INTO crm_trash.crm_purge_tombstones (tbl, key_hash)
			SELECT name, h FROM unnest(hashes) h ON CONFLICT DO NOTHING;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_name_ok(tbl regclass) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT strpos(n.nspname, '__') = 0 AND strpos(c.relname, '__') = 0
		   AND right(n.nspname, 1) <> '_' AND left(c.relname, 1) <> '_'
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl
$$;

CREATE OR REPLACE FUNCTION crm_purge_anonymize(tbl regclass, col name, strategy text) RETURNS void
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
		-- the value is cast to the column's type as the extension owner too
		-- (trash copies): no domain check or input function of anyone's
		IF a.typ::oid >= 16384 AND (SELECT y.typtype FROM pg_type y WHERE y.oid = a.typ) <> 'e' THEN
			RAISE EXCEPTION 'cannot anonymize column "%" of table % with a fixed value: it has the user-defined type %', col, tbl, a.typ
				USING ERRCODE = 'feature_not_supported', HINT = 'Use null, or hash for a text column.';
		END IF;
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

CREATE OR REPLACE FUNCTION crm_purge._citus_check_request(tbl regclass) RETURNS void
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

CREATE OR REPLACE FUNCTION crm_purge._citus_round(request_id bigint, keep text, batch_rows integer, started timestamptz,
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

CREATE OR REPLACE FUNCTION crm_purge._citus_expire_exports() RETURNS bigint[]
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

CREATE OR REPLACE FUNCTION crm_purge._citus_erase(tbl regclass, cond text, keys text[]) RETURNS jsonb
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE OR REPLACE FUNCTION crm_purge._citus_erase_check(tbl regclass, cond text, keys text[]) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	tr regclass := crm_purge._trash(_citus_erase_check.tbl);
	pk int2[] := crm_purge._pk_cols(tbl);
	pkx text := crm_purge._key_expr(tbl, pk);
	owner oid := (SELECT c.relowner FROM pg_class c WHERE c.oid = tbl);
	method text;
	nat int2[];
	natural_keys text[];
	reach jsonb := '[]';
	children jsonb := '[]';
	deleted regclass[] := '{}';
	subject text[];
	k text[];
	ck text[];
	cnat text[];
	r record;
	ctr regclass;
BEGIN
	EXECUTE 'SELECT partmethod::text FROM pg_dist_partition WHERE logicalrelid = $1' INTO method USING tbl;
	IF method IS DISTINCT FROM 'h' THEN
		RAISE EXCEPTION 'cannot erase rows of table %: it is a Citus reference or local table', tbl
			USING ERRCODE = 'feature_not_supported', DETAIL = 'Nothing was erased.',
				  HINT = 'Its rows and the tombstones would be changed by two roles in one transaction, which Citus refuses; DELETE the rows, then crm_purge_mark and crm_purge_activate.';
	END IF;
	FOR r IN SELECT * FROM crm_purge._erase(tbl, cond, keys, true, 0) LOOP
		IF r.a = 'delete' THEN
			deleted := deleted || r.t;
		ELSIF r.a NOT IN ('erase', 'keep') THEN
			RAISE EXCEPTION 'cannot erase rows of Citus table %: its rule for table % is %', tbl, r.t, r.a
				USING ERRCODE = 'feature_not_supported', DETAIL = 'Nothing was erased.',
					  HINT = 'On Citus an erase deletes, by ON DELETE CASCADE, or keeps: change the rule with crm_purge_relate.';
		END IF;
		reach := reach || jsonb_build_object('t', r.t::oid, 'a', r.a, 'n', r.n);
	END LOOP;
	-- rows left in the coordinator's own file of a table distributed with
	-- rows (Citus keeps them there, unread): the erase would leave them, and
	-- ANALYZE would show them in pg_stats (review round 46, C46-2)
	FOR r IN SELECT DISTINCT x AS t FROM unnest(tbl || deleted) x LOOP
		IF pg_relation_size(r.t) > 0 THEN
			RAISE EXCEPTION 'cannot erase rows of Citus table %: the coordinator still holds rows of table % from before it was distributed', tbl, r.t
				USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = 'Nothing was erased. Citus keeps them in the coordinator''s file of the table, where the erase does not reach.',
					  HINT = format('Have the table''s owner run SET crm_purge.allow_truncate = on; SELECT truncate_local_data_after_distributing_table(%L);', r.t::text);
		END IF;
	END LOOP;
	-- a foreign key's own action, at any depth, on held rows (the dry run
	-- above does not look)
	PERFORM crm_purge._fk_action_holds('erase', tbl, tbl, cond, keys, 0);
	-- what is deleted with the table: children that reference its primary key
	-- ON DELETE CASCADE, by the same owner, and through nothing else the erase
	-- reaches (the owner deletes them by the cascade, and only that)
	FOR r IN SELECT DISTINCT x AS t FROM unnest(deleted) x LOOP
		IF NOT EXISTS (SELECT FROM pg_constraint c
					   WHERE c.contype = 'f' AND c.conrelid = r.t AND c.confrelid = tbl AND c.confdeltype = 'c'
						 AND c.confkey @> pk AND c.confkey <@ pk)
		   OR EXISTS (SELECT FROM pg_constraint c
					  WHERE c.contype = 'f' AND c.conrelid = r.t AND c.confrelid <> tbl AND c.confrelid = ANY (deleted))
		   OR EXISTS (SELECT FROM crm_purge.relations x WHERE x.parent = tbl AND x.child = r.t
					  AND (x.child_columns IS NOT NULL OR x.on_erase <> 'delete')) THEN
			RAISE EXCEPTION 'cannot erase rows of Citus table %: table % is to be deleted with it, but not only by ON DELETE CASCADE on its primary key', tbl, r.t
				USING ERRCODE = 'feature_not_supported', DETAIL = 'Nothing was erased.',
					  HINT = 'On Citus an erase deletes the rows of the table and of the tables that reference its primary key ON DELETE CASCADE directly; other rules must keep (crm_purge_relate).';
		END IF;
		IF (SELECT c.relowner FROM pg_class c WHERE c.oid = r.t) <> owner THEN
			RAISE EXCEPTION 'cannot erase rows of Citus table %: table % has another owner', tbl, r.t
				USING ERRCODE = 'feature_not_supported', DETAIL = 'Nothing was erased.',
					  HINT = 'On Citus the rows an erase reaches are deleted by their tables'' one owner: give both tables the same owner.';
		END IF;
	END LOOP;
	-- the keys, live and trashed
	SELECT x.a INTO subject FROM crm_purge._pick(tbl,
		format('SELECT array_agg(%s) FROM %s WHERE (%s%s)', pkx, tbl, cond, E'\n'), keys) AS x(a text[]);
	IF tr IS NOT NULL THEN
		SELECT x.a INTO k FROM crm_purge._pick(tbl,
			format('SELECT array_agg(%s) FROM %s WHERE (%s%s)', pkx, tr, cond, E'\n'), keys) AS x(a text[]);
	END IF;
	subject := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(subject, '{}') || coalesce(k, '{}')
		|| CASE WHEN tr IS NOT NULL THEN crm_purge._equal_trash_keys(tbl, tr, cond, keys) END) x);
	nat := crm_purge._natural_attnums(tbl);
	-- (read as _pick reads: as the owner, for an admin in the owner's role)
	SELECT x.a INTO natural_keys FROM crm_purge._pick(tbl,
		format('SELECT crm_purge._citus_keys_of(%L, %L, %L, $1)', tbl, tr, nat), subject) AS x(a text[]);
	-- the children's keys and natural keys: the rows that reference the keys
	FOR r IN SELECT DISTINCT x AS t FROM unnest(deleted) x LOOP
		ctr := crm_purge._trash(r.t);
		SELECT x.a INTO ck FROM crm_purge._pick(r.t,
			format('SELECT crm_purge._citus_child_keys(%L, %L, %L, %L, $1)', tbl, tr, r.t, ctr), subject) AS x(a text[]);
		SELECT x.a INTO cnat FROM crm_purge._pick(r.t,
			format('SELECT crm_purge._citus_keys_of(%L, %L, %L, $1)', r.t, ctr, crm_purge._natural_attnums(r.t)), ck)
			AS x(a text[]);
		children := children || jsonb_build_object('t', r.t::oid, 'trash', ctr::oid, 'keys', to_jsonb(ck),
												   'natural', to_jsonb(cnat));
	END LOOP;
	RETURN jsonb_build_object('reach', reach, 'subject', to_jsonb(subject), 'trash', tr::oid,
							  'natural', to_jsonb(natural_keys), 'natural_attnums', to_jsonb(coalesce(nat, '{}')),
							  'children', children);
END
$$;
ALTER FUNCTION crm_purge._citus_erase_check(regclass, text, text[])
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';
ALTER FUNCTION crm_purge._citus_erase_check(regclass, text, text[]) SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION crm_purge._citus_erase_impl(actor regrole, tbl regclass, cond text, keys text[], plan jsonb)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c jsonb;
	parts text[];
	p text[];
	n bigint;
BEGIN
	IF NOT coalesce(has_table_privilege(actor, tbl, 'DELETE'), false)
	   OR EXISTS (SELECT FROM jsonb_array_elements(plan->'children') x
				  WHERE NOT coalesce(has_table_privilege(actor, (x->>'t')::oid, 'DELETE'), false)) THEN
		RAISE EXCEPTION 'permission denied for table % or a table ON DELETE CASCADE reaches from it', tbl
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- tombstones first (legal holds checked again), as the extension owner
	parts := crm_purge._erased_impl(actor, tbl, ARRAY(SELECT jsonb_array_elements_text(plan->'subject')),
									ARRAY(SELECT jsonb_array_elements_text(plan->'natural')), 0);
	FOR c IN SELECT * FROM jsonb_array_elements(plan->'children') LOOP
		p := crm_purge._erased_impl(actor, (c->>'t')::oid::regclass, ARRAY(SELECT jsonb_array_elements_text(c->'keys')),
									ARRAY(SELECT jsonb_array_elements_text(c->'natural')), 1);
		parts := coalesce(parts, '{}') || coalesce(p, '{}');
	END LOOP;
	-- then the rows and their trash copies, as the table's owner
	n := crm_purge._citus_erase_rows_as_owner(tbl, ARRAY(SELECT jsonb_array_elements_text(plan->'subject')), plan - 'reach');
	-- statistics of the coordinator's file of the tables (Citus plans by
	-- the shards'): values sampled before they were distributed (C46-2)
	DELETE FROM pg_statistic s WHERE s.starelid = tbl
		OR s.starelid IN (SELECT (x->>'t')::oid FROM jsonb_array_elements(plan->'children') x);
	RETURN plan->'reach' || jsonb_build_array(jsonb_build_object('t', tbl::oid, 'a', 'parts', 'n', 0,
																 'p', to_jsonb(coalesce(parts, '{}'))));
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_erase_rows_as_owner(tbl regclass, subject text[], plan jsonb) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_as_table_owner';

CREATE OR REPLACE FUNCTION crm_purge._citus_erase_rows(tbl regclass, subject text[], plan jsonb) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C' AS $$
DECLARE
	n bigint;
	c jsonb;
	tr regclass := (plan->>'trash')::oid::regclass;
	ck text[];
	nat int2[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(plan->'natural_attnums', '[]'))::int2);
	left_over bigint;
	m bigint;
	held text[];
BEGIN
	-- no one writes the tables until the erase commits
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	-- the natural keys were read before the lock: a row of the subject
	-- whose natural key changed meanwhile would go without its tombstone
	IF cardinality(nat) > 0 THEN
		EXECUTE format('SELECT count(*) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1) AND NOT (%s OPERATOR(pg_catalog.=) ANY ($2))',
					   tbl, crm_purge._key_expr(tbl, crm_purge._pk_cols(tbl)), crm_purge._key_expr(tbl, nat))
			USING subject, ARRAY(SELECT jsonb_array_elements_text(plan->'natural')) INTO m;
		IF m > 0 THEN
			RAISE EXCEPTION 'could not erase rows of table %: a row of them was changed concurrently', tbl
				USING ERRCODE = 'serialization_failure',
					  HINT = 'Nothing was erased. Run the erase again, in a new transaction.';
		END IF;
	END IF;
	FOR c IN SELECT * FROM jsonb_array_elements(plan->'children') LOOP
		EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', (c->>'t')::oid::regclass);
		ck := crm_purge._citus_child_keys(tbl, tr, (c->>'t')::oid::regclass, (c->>'trash')::oid::regclass, subject);
		IF EXISTS (SELECT FROM unnest(ck) x WHERE x <> ALL (ARRAY(SELECT jsonb_array_elements_text(c->'keys')))) THEN
			RAISE EXCEPTION 'could not erase rows of table %: a row of table % referencing them was written concurrently',
				tbl, (c->>'t')::oid::regclass
				USING ERRCODE = 'serialization_failure',
					  HINT = 'Nothing was erased. Run the erase again, in a new transaction.';
		END IF;
	END LOOP;
	-- (what legal holds keep where the DELETE reaches, read back after it:
	-- the owner's code inside it may move a held row under a row that goes)
	held := crm_purge._citus_held_watch(tbl, NULL);
	n := crm_purge._citus_drop_keys(tbl, NULL, subject);
	PERFORM crm_purge._citus_held_watch(tbl, held);
	IF tr IS NOT NULL THEN
		PERFORM crm_purge._citus_drop_keys(tbl, tr, subject);
	END IF;
	FOR c IN SELECT * FROM jsonb_array_elements(plan->'children') LOOP
		IF c->>'trash' IS NOT NULL THEN
			PERFORM crm_purge._citus_drop_keys((c->>'t')::oid::regclass, (c->>'trash')::oid::regclass,
											   ARRAY(SELECT jsonb_array_elements_text(c->'keys')));
		END IF;
	END LOOP;
	-- a row the snapshot of an earlier statement could not see: the key, or
	-- a natural key of the subject written again
	left_over := crm_purge._citus_drop_keys(tbl, NULL, subject, count_only => true);
	IF cardinality(nat) > 0 THEN
		EXECUTE format('SELECT count(*) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)', tbl, crm_purge._key_expr(tbl, nat))
			USING ARRAY(SELECT jsonb_array_elements_text(plan->'natural')) INTO m;
		left_over := left_over + m;
	END IF;
	IF left_over > 0 THEN
		RAISE EXCEPTION 'could not erase rows of table %: a row with an erased key is live', tbl
			USING ERRCODE = 'serialization_failure',
				  DETAIL = 'It was written concurrently, or a trigger or rule of the table kept it from being deleted.',
				  HINT = 'Nothing was erased. Run the erase again, in a new transaction; if it fails again, see what keeps the row.';
	END IF;
	RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_drop_keys(tbl regclass, tr regclass, keys text[], count_only boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C' AS $$
DECLARE
	pk int2[] := crm_purge._pk_cols(tbl);
	keyx text := crm_purge._key_expr(tbl, pk);
	cols text;
	joined text;
	ids bigint[];
	nums bigint[];
	n bigint;
BEGIN
	IF count_only THEN
		EXECUTE format('SELECT count(*) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)', tbl, keyx) USING keys INTO n;
		RETURN n;
	END IF;
	IF tr IS NOT NULL THEN
		EXECUTE format('SELECT array_agg(deletion_id), array_agg(trash_row) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)',
					   tr, keyx) USING keys INTO ids, nums;
		-- under crm_purge's permit (the trash's policy for its owner)
		RETURN crm_purge._citus_drop_trash_rows(tr, coalesce(ids, '{}'), coalesce(nums, '{}'));
	END IF;
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.o),
		   string_agg(format('t.%1$I OPERATOR(pg_catalog.=) k.%1$I', a.attname), ' AND ' ORDER BY k.o)
		INTO cols, joined
		FROM unnest(pk) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.n;
	EXECUTE format('WITH k AS (SELECT %1$s FROM %2$s WHERE %3$s OPERATOR(pg_catalog.=) ANY ($1)),'
				   ' d AS (DELETE FROM %2$s t USING k WHERE %4$s RETURNING 1)'
				   ' SELECT count(*) FROM d', cols, tbl, keyx, joined) USING keys INTO n;
	RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_shard_part(request_id bigint, placementid bigint, part integer) RETURNS text
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_shard_part';

CREATE OR REPLACE FUNCTION crm_purge._citus_shard_expire(request_ids bigint[]) RETURNS bigint
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_shard_expire';

CREATE OR REPLACE FUNCTION crm_purge._natural_attnums(tbl regclass) RETURNS int2[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT ARRAY(SELECT a.attnum FROM crm_purge.guards g
				 CROSS JOIN LATERAL unnest(g.key_columns) WITH ORDINALITY AS c(n, o)
				 JOIN pg_attribute a ON a.attrelid = g.tbl AND a.attname = c.n
				 WHERE g.tbl = _natural_attnums.tbl ORDER BY c.o)::int2[]
	WHERE EXISTS (SELECT FROM crm_purge.guards g WHERE g.tbl = _natural_attnums.tbl AND g.key_columns IS NOT NULL)
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_keys_of(tbl regclass, tr regclass, cols int2[], keys text[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C' AS $$
DECLARE
	pkx text := crm_purge._key_expr(tbl, crm_purge._pk_cols(tbl));
	x text;
	nulls text;
	a text[];
	b text[];
BEGIN
	IF cols IS NULL OR cardinality(cols) = 0 THEN
		RETURN '{}';
	END IF;
	x := crm_purge._key_expr(tbl, cols);
	-- (a key with a NULL part is no key: B47-1)
	nulls := (SELECT string_agg(format('%I', a.attname), ', ') FROM unnest(cols) c(n)
			  JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = c.n);
	EXECUTE format('SELECT array_agg(%s) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)'
				   ' AND pg_catalog.num_nulls(%s) OPERATOR(pg_catalog.=) 0', x, tbl, pkx, nulls) USING keys INTO a;
	IF tr IS NOT NULL THEN
		EXECUTE format('SELECT array_agg(%s) FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)'
					   ' AND pg_catalog.num_nulls(%s) OPERATOR(pg_catalog.=) 0', x, tr, pkx, nulls) USING keys INTO b;
	END IF;
	RETURN ARRAY(SELECT DISTINCT v FROM unnest(coalesce(a, '{}') || coalesce(b, '{}')) v WHERE v IS NOT NULL);
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_child_keys(tbl regclass, tr regclass, child regclass, ctr regclass, keys text[])
RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C' AS $$
DECLARE
	con record;
	refs text[];
	cond text;
	out text[] := '{}';
	k text[];
	cpkx text := crm_purge._key_expr(child, crm_purge._pk_cols(child));
BEGIN
	FOR con IN SELECT c.conkey, c.confkey FROM pg_constraint c
			   WHERE c.contype = 'f' AND c.conrelid = child AND c.confrelid = tbl AND c.confdeltype = 'c'
			   ORDER BY c.conname LOOP
		refs := crm_purge._citus_keys_of(tbl, tr, con.confkey, keys);
		cond := crm_purge._key_match(child, con.conkey,
					(SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = con.confkey[1]));
		EXECUTE format('SELECT array_agg(%s) FROM %s WHERE %s', cpkx, child, cond) USING refs INTO k;
		out := out || coalesce(k, '{}');
		IF ctr IS NOT NULL THEN
			EXECUTE format('SELECT array_agg(%s) FROM %s WHERE %s', cpkx, ctr, cond) USING refs INTO k;
			out := out || coalesce(k, '{}');
		END IF;
	END LOOP;
	RETURN ARRAY(SELECT DISTINCT v FROM unnest(out) v);
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_drop_trash_rows(trash regclass, ids bigint[], nums bigint[]) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_drop_trash_rows';

CREATE OR REPLACE FUNCTION crm_purge._citus_trash_owner(tbl regclass, tr regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	owner regrole := (SELECT c.relowner::regrole FROM pg_class c WHERE c.oid = tbl);
	old regrole;
BEGIN
	FOR old IN SELECT DISTINCT r::regrole FROM pg_policy p, unnest(p.polroles) r
			   WHERE p.polrelid = tr AND p.polname = 'crm_purge_table_owner'
				 AND r <> owner::oid AND r <> 0 LOOP
		EXECUTE format('REVOKE SELECT, DELETE ON %s FROM %s', tr, old);
	END LOOP;
	IF EXISTS (SELECT FROM pg_class c, aclexplode(c.relacl) a
			   WHERE c.oid = tr AND a.grantee = owner::oid AND a.privilege_type <> 'SELECT') THEN
		EXECUTE format('REVOKE ALL ON %s FROM %s', tr, owner);
	END IF;
	IF NOT EXISTS (SELECT FROM pg_class c, aclexplode(c.relacl) a
				   WHERE c.oid = tr AND a.grantee = owner::oid AND a.privilege_type = 'SELECT') THEN
		EXECUTE format('GRANT SELECT ON %s TO %s', tr, owner);
	END IF;
	IF EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = tr AND p.polname = 'crm_purge_table_owner' AND p.polcmd <> 'r') THEN
		EXECUTE format('DROP POLICY crm_purge_table_owner ON %s', tr);
	END IF;
	IF NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = tr AND p.polname = 'crm_purge_table_owner') THEN
		EXECUTE format('CREATE POLICY crm_purge_table_owner ON %s FOR SELECT TO %s USING (true)', tr, owner);
	ELSIF (SELECT p.polroles FROM pg_policy p WHERE p.polrelid = tr AND p.polname = 'crm_purge_table_owner') <> ARRAY[owner::oid] THEN
		EXECUTE format('ALTER POLICY crm_purge_table_owner ON %s TO %s', tr, owner);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._trash_row_mode() RETURNS boolean
	LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'crm_purge_trash_row_mode';

CREATE OR REPLACE FUNCTION crm_purge._create_trash_triggers(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format('CREATE TRIGGER crm_purge_trash AFTER DELETE ON %s FOR EACH ROW '
				   'WHEN (crm_purge._trash_row_mode()) EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	EXECUTE format('CREATE TRIGGER crm_purge_trash_flush AFTER DELETE ON %s REFERENCING OLD TABLE AS crm_purge_deleted '
				   'FOR EACH STATEMENT EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
END
$$;
ALTER FUNCTION crm_purge._create_trash_triggers(regclass) SET citus.enable_unsafe_triggers = on;


CREATE OR REPLACE FUNCTION crm_purge._live_rows(tbl regclass) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_live_rows';

CREATE OR REPLACE FUNCTION crm_purge._citus_owner_code_column(tbl regclass) RETURNS name
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_owner_code_column';

CREATE OR REPLACE FUNCTION crm_purge._try_hold_filter(tbl regclass, filter text) RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_as_filter_creator';

CREATE OR REPLACE FUNCTION crm_purge._count_request_query(tbl regclass, modified_column name, filter text,
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

CREATE OR REPLACE FUNCTION crm_purge._try_hold_filter_query(tbl regclass, filter text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- the filter must work on the table (and so on its trash)
	EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s WHERE (%s%s) LIMIT 1) s', tbl, filter, E'\n');
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._check_deferred_filter(filter text) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_check_deferred_filter_sql';

CREATE OR REPLACE FUNCTION crm_purge_delete_where(tbl regclass, filter text, permanent boolean DEFAULT false,
									   dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	ps oid[];
	ts tid[];
	picked text[];
BEGIN
	PERFORM crm_purge._mark_foreign_work();
	PERFORM crm_purge._check_erase_args('crm_purge_delete_where', tbl, filter);
	IF permanent IS NULL OR dry_run IS NULL THEN
		RAISE EXCEPTION 'permanent and dry_run must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF dry_run THEN
		SELECT x.n INTO n FROM crm_purge._pick(tbl, format('SELECT count(*) FROM %s WHERE (%s%s)', tbl, filter, E'\n'), NULL)
			AS x(n bigint);
	ELSIF permanent THEN
		n := crm_purge._erase_top(tbl, filter, NULL, 'crm_purge_delete_where');
	ELSE
		IF crm_purge._citus_table(tbl) THEN
			-- the keys picked as the caller; deleted as the owner on the worker nodes
			SELECT x.a INTO picked FROM crm_purge._pick(tbl, format('SELECT array_agg(%s) FROM %s WHERE (%s%s)',
				crm_purge._key_expr(tbl, crm_purge._pk_cols(tbl)), tbl, filter, E'\n'), NULL) AS x(a text[]);
			n := CASE WHEN picked IS NULL THEN 0 ELSE cardinality(crm_purge._citus_delete(tbl, NULL, picked)) END;
		ELSE
			-- picked as the caller, by the caller's filter; deleted as the table's owner
			SELECT x.ps, x.ts INTO ps, ts FROM crm_purge._pick(tbl,
				format('SELECT array_agg(tableoid), array_agg(ctid) FROM %s WHERE (%s%s)', tbl, filter, E'\n'), NULL)
				AS x(ps oid[], ts tid[]);
			n := CASE WHEN ts IS NULL THEN 0 ELSE cardinality(crm_purge._owner_write(tbl, ps, ts, NULL, NULL)) END;
		END IF;
	END IF;
	RETURN n;
END
$$;
ALTER FUNCTION crm_purge_delete_where(regclass, text, boolean, boolean) SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION crm_purge._lock_holds(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_lock_holds_sql';
REVOKE ALL ON FUNCTION crm_purge._lock_holds(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION crm_purge._mark_foreign_work() RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_mark_foreign_work_sql';

CREATE OR REPLACE FUNCTION crm_purge_erase(tbl regclass, filter text, reason text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM crm_purge._mark_foreign_work();
	PERFORM crm_purge._check_erase_args('crm_purge_erase', tbl, filter);
	RETURN crm_purge._erase_top(tbl, filter, NULL, reason);
END
$$;
ALTER FUNCTION crm_purge_erase(regclass, text, text) SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION crm_purge._erase_preview(tbl regclass, filter text)
RETURNS TABLE (t regclass, a text, n bigint)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM crm_purge._mark_foreign_work();
	PERFORM crm_purge._check_erase_args('crm_purge_erase_preview', tbl, filter);
	RETURN QUERY SELECT e.t, e.a, sum(e.n)::bigint FROM crm_purge._erase(tbl, filter, NULL, true, 0) e
		GROUP BY e.t, e.a ORDER BY bool_or(e.a = 'erase') DESC, e.t::text, e.a;
END
$$;
ALTER FUNCTION crm_purge._erase_preview(regclass, text) SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION crm_purge._owner_write(tbl regclass, parts oid[], tids tid[], cols int2[], anonymize boolean)
	RETURNS int[] LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_owner_write';

CREATE OR REPLACE FUNCTION crm_purge._pick(tbl regclass, query text, arg text[], arg2 text[] DEFAULT NULL) RETURNS SETOF record
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_pick';

CREATE OR REPLACE FUNCTION crm_purge._citus_delete(tbl regclass, key_column name, keys text[]) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE OR REPLACE FUNCTION crm_purge._citus_delete_check(tbl regclass, key_column name, keys text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	cols int2[];
	hold_id bigint;
BEGIN
	IF tbl IS NULL OR keys IS NULL THEN
		RAISE EXCEPTION 'table and keys must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT crm_purge._citus_table(tbl) THEN
		RAISE EXCEPTION 'table % is not a Citus distributed table', tbl USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT has_table_privilege(tbl, 'SELECT') OR NOT has_table_privilege(tbl, 'DELETE') THEN
		RAISE EXCEPTION 'permission denied for table %', tbl USING ERRCODE = 'insufficient_privilege',
			DETAIL = 'Deleting rows needs SELECT and DELETE on the table.';
	END IF;
	IF row_security_active(tbl) THEN
		RAISE EXCEPTION 'cannot write to table % for you: row-level security applies to you there', tbl
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'crm_purge writes to a table as its owner, after checking your privileges; the table''s policies could not apply to you.',
				  HINT = 'Its owner may do it.';
	END IF;
	IF key_column IS NOT NULL THEN
		PERFORM crm_purge._key_column(tbl, key_column);
	END IF;
	-- held rows: never deleted past a trash, nor reached by a foreign key's
	-- action (as _owner_write and _fk_action_holds see to off Citus)
	cols := CASE WHEN key_column IS NULL THEN crm_purge._pk_cols(tbl) ELSE crm_purge._attnums(tbl, ARRAY[key_column]) END;
	IF crm_purge._trash(tbl) IS NULL THEN
		hold_id := crm_purge._hold_keeping_cols(tbl, cols, keys,
			(SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = cols[1]));
		IF hold_id IS NOT NULL THEN
			RAISE EXCEPTION 'cannot delete rows of table %: legal hold % keeps them', tbl, hold_id
				USING ERRCODE = 'object_in_use',
					  HINT = 'Nothing was deleted. Release the hold with crm_purge_release, or narrow the filter.';
		END IF;
	END IF;
	PERFORM crm_purge._fk_action_holds('delete', tbl, tbl,
		format('%s OPERATOR(pg_catalog.=) ANY ($1)', crm_purge._key_expr(tbl, cols)), keys, 0);
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_delete_impl(actor regrole, tbl regclass, key_column name, keys text[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN crm_purge._citus_delete_rows_as_owner(tbl, key_column, keys);
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_delete_rows_as_owner(tbl regclass, key_column name, keys text[]) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_as_table_owner';

CREATE OR REPLACE FUNCTION crm_purge._citus_delete_rows(tbl regclass, key_column name, keys text[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C' AS $$
DECLARE
	pk int2[] := crm_purge._pk_cols(tbl);
	keyx text;
	cols text;
	joined text;
	att int2;
	col name;
	typ text;
	done text[];
	returned text;
	-- (what legal holds keep where the DELETE reaches, but the rows it picks: read back after it)
	held text[];
BEGIN
	IF key_column IS NULL THEN
		-- by the key's text, picked first (a DELETE on Citus compares no key text)
		keyx := crm_purge._key_expr(tbl, pk);
		-- only the key comes back to this node, as its base type: a domain's
		-- CHECK (its owner's code) ran here as the extension owner when
		-- Citus read the returned rows
		SELECT string_agg(format('%1$I::%2$s AS %1$I', a.attname, format_type(crm_purge._base_type(a.atttypid), NULL)), ', ' ORDER BY k.o),
			   string_agg(format('t.%1$I OPERATOR(pg_catalog.=) k.%1$I', a.attname), ' AND ' ORDER BY k.o),
			   string_agg(format('t.%1$I::%2$s AS %1$I', a.attname, format_type(crm_purge._base_type(a.atttypid), NULL)), ', ' ORDER BY k.o)
			INTO cols, joined, returned
			FROM unnest(pk) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.n;
		held := crm_purge._citus_held_watch(tbl, NULL, false);
		EXECUTE format('WITH k AS (SELECT %1$s FROM %2$s WHERE %3$s OPERATOR(pg_catalog.=) ANY ($1)),'
					   ' d AS (DELETE FROM %2$s t USING k WHERE %4$s RETURNING %5$s)'
					   ' SELECT array_agg(%3$s) FROM d', cols, tbl, keyx, joined, returned) USING keys INTO done;
		PERFORM crm_purge._citus_held_watch(tbl, held, false);
	ELSE
		att := crm_purge._key_column(tbl, key_column);
		WITH RECURSIVE d(t, m, depth) AS (
			SELECT a.atttypid, a.atttypmod, 0 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = att
			UNION ALL
			SELECT y.typbasetype, y.typtypmod, d.depth + 1 FROM d JOIN pg_type y ON y.oid = d.t WHERE y.typtype = 'd'
		)
		SELECT (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = att), format_type(d.t, d.m)
			INTO col, typ FROM d ORDER BY d.depth DESC LIMIT 1;
		held := crm_purge._citus_held_watch(tbl, NULL, false);
		EXECUTE format('WITH d AS (DELETE FROM %s WHERE %I = ANY ($1::%s[]) RETURNING %I::%s AS %I) '
					   'SELECT array_agg(%I::text) FROM d', tbl, col, typ, col, typ, col, col) USING keys INTO done;
		PERFORM crm_purge._citus_held_watch(tbl, held, false);
	END IF;
	RETURN coalesce(done, '{}');
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._hold_keeping_cols(tbl regclass, cols int2[], keys text[], key_type regtype) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_hold_keeping_cols';

CREATE OR REPLACE FUNCTION crm_purge._forget_unlinks(tbl regclass, ids bigint[], nums bigint[]) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_forget_unlinks';

CREATE OR REPLACE FUNCTION crm_purge._base_type(t oid) RETURNS oid
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE d(o, base) AS (SELECT y.oid, y.typbasetype FROM pg_type y WHERE y.oid = t
		UNION ALL SELECT y.oid, y.typbasetype FROM d JOIN pg_type y ON y.oid = d.base WHERE d.base <> 0)
	SELECT o FROM d WHERE base = 0
$$;

CREATE OR REPLACE FUNCTION crm_purge._check_not_partition(action text, tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	root regclass;
BEGIN
	IF NOT coalesce((SELECT c.relispartition FROM pg_class c WHERE c.oid = tbl), false) THEN
		RETURN;
	END IF;
	root := pg_partition_root(tbl);
	IF EXISTS (SELECT FROM crm_purge.protected_tables p WHERE p.tbl = root)
	   OR EXISTS (SELECT FROM crm_purge.guards g WHERE g.tbl = root) THEN
		RAISE EXCEPTION '% cannot work on partition % of table %', action, tbl, root
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'Its trash, tombstones and legal holds are those of the partitioned table.',
				  HINT = format('Name %s, with a filter that picks the rows.', root);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._check_erase_args(action text, tbl regclass, filter text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin(action);
	IF tbl IS NULL OR filter IS NULL THEN
		RAISE EXCEPTION 'table and filter must not be NULL' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'To take every row, say so with the filter ''true''.';
	END IF;
	PERFORM crm_purge._check_not_partition(action, tbl);
	PERFORM crm_purge._check_filter(filter);
	PERFORM crm_purge._pk_cols(tbl);
END
$$;


CREATE OR REPLACE FUNCTION crm_purge._held_on(rels oid[]) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_held_on';

CREATE OR REPLACE FUNCTION crm_purge._held_tree(tbl regclass) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE tree(rel) AS (SELECT tbl::oid
		UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.rel)
	SELECT crm_purge._held_on(ARRAY(SELECT rel FROM tree))
$$;

CREATE OR REPLACE FUNCTION crm_purge._held_around(tbl regclass) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE up(rel) AS (SELECT tbl::oid
		UNION SELECT i.inhparent FROM pg_inherits i JOIN up u ON i.inhrelid = u.rel),
	down(rel) AS (SELECT tbl::oid
		UNION SELECT i.inhrelid FROM pg_inherits i JOIN down d ON i.inhparent = d.rel)
	SELECT crm_purge._held_on(ARRAY(SELECT rel FROM up UNION SELECT rel FROM down))
$$;

CREATE OR REPLACE FUNCTION crm_purge._fk_action_holds(verb text, top regclass, tbl regclass, cond text, keys text[], depth integer,
										   changed int2[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r record;
	refs text[];
	key_type oid;
	hold_id bigint;
BEGIN
	-- (without a hold anywhere, nothing to read; one being made waits)
	IF depth = 0 AND NOT crm_purge._any_hold() THEN
		RETURN;
	END IF;
	-- (a trigger of the owner's that fires while the cascade runs, on the
	-- table or one it reaches: a BEFORE DELETE one, or an AFTER DELETE row
	-- one (a row's AFTER triggers fire before the next row's cascade), could
	-- move a held row under a row the cascade removes next, past this
	-- check: refused when the cascade reaches a held table, review round
	-- 72, B72-2)
	IF depth = 0 AND changed IS NULL THEN
		WITH RECURSIVE reach(rel) AS (
			SELECT _fk_action_holds.tbl::oid UNION SELECT p.relid FROM pg_partition_tree(_fk_action_holds.tbl) p
			UNION
			SELECT c.conrelid FROM reach x JOIN pg_constraint c ON c.confrelid = x.rel
			WHERE c.contype = 'f' AND c.confdeltype IN ('c', 'n', 'd'))
		SELECT g.tgname, g.tgrelid::regclass AS rel INTO r
		FROM reach t
		JOIN pg_trigger g ON g.tgrelid = t.rel
		JOIN pg_proc f ON f.oid = g.tgfoid
		WHERE NOT g.tgisinternal AND g.tgenabled <> 'D' AND (g.tgtype::int & 8) <> 0
		  AND ((g.tgtype::int & 2) <> 0 OR (g.tgtype::int & 1) <> 0)
		  AND f.pronamespace <> 'crm_purge'::regnamespace
		  AND EXISTS (SELECT FROM reach x JOIN crm_purge.holds h ON h.tbl::oid = x.rel AND h.released_at IS NULL
					  WHERE x.rel <> _fk_action_holds.tbl::oid)
		ORDER BY 2, 1 LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'cannot % rows of table %: trigger % of table % fires while its foreign keys'' actions run, and they reach rows under a legal hold',
				verb, top, r.tgname, r.rel
				USING ERRCODE = 'object_in_use',
					  DETAIL = 'A BEFORE DELETE trigger, or an AFTER DELETE row trigger, could move a held row under a row the cascade removes next.',
					  HINT = 'Disable or drop the trigger (an AFTER DELETE statement trigger is fine), or release the hold first.';
		END IF;
	END IF;
	-- (foreign keys referencing a partition or inheritance child of tbl too,
	-- read there: its columns' numbers are its own, the changed columns
	-- matched by name; not the clones of tbl's)
	FOR r IN WITH RECURSIVE tree(rel) AS (SELECT tbl::oid
				 UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.rel)
			 SELECT t.rel::regclass AS src, c0.conrelid::regclass AS child, c0.conkey, c0.confkey, c0.conname,
					CASE WHEN changed IS NULL THEN c0.confdeltype ELSE 'u' END AS action
			 FROM tree t JOIN pg_constraint c0 ON c0.confrelid = t.rel
			 WHERE c0.contype = 'f' AND (t.rel = tbl OR c0.conparentid = 0)
			   AND CASE WHEN changed IS NULL THEN c0.confdeltype IN ('c', 'n', 'd')
						ELSE c0.confupdtype IN ('c', 'n', 'd')
							 AND EXISTS (SELECT FROM pg_attribute a JOIN pg_attribute b ON b.attrelid = tbl AND b.attname = a.attname
										 WHERE a.attrelid = t.rel AND a.attnum = ANY (c0.confkey) AND b.attnum = ANY (changed)) END
			 ORDER BY c0.conname, t.rel LOOP
		-- (a row being inserted there under a hold commits first, and is seen)
		PERFORM crm_purge._lock_held(r.child);
		SELECT x.a INTO refs FROM crm_purge._pick(r.src, format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
					   crm_purge._key_expr(r.src, r.confkey), r.src, cond, E'\n'), keys) AS x(a text[]);
		CONTINUE WHEN refs IS NULL;
		key_type := (SELECT at.atttypid FROM pg_attribute at WHERE at.attrelid = r.src AND at.attnum = r.confkey[1]);
		-- (keys are matched by their text: a column of another type than the
		-- key it references writes the same value otherwise, 1 and 1.0)
		-- (holds below it too: its rows are not found by text, nor what
		-- their own foreign keys reach; review round 49, B49-2)
		IF NOT crm_purge._keys_comparable(r.child, r.conkey, r.src, r.confkey) AND EXISTS (
				WITH RECURSIVE below(rel) AS (SELECT r.child::oid
					UNION SELECT x.rel FROM below b, LATERAL (
						SELECT c.conrelid FROM pg_constraint c
						WHERE c.contype = 'f' AND c.confrelid = b.rel
						  AND (c.confdeltype IN ('c', 'n', 'd') OR c.confupdtype IN ('c', 'n', 'd'))
						UNION ALL SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = b.rel) x(rel))
				SELECT FROM below WHERE crm_purge._has_holds(below.rel::regclass)) THEN
			RAISE EXCEPTION 'cannot % rows of table %: the legal holds on table % cannot be checked through its foreign key %', verb, top, r.child, r.conname
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'Its columns are of other types than the keys they reference.',
					  HINT = 'Nothing was changed. Release the holds on that table first, or give the columns the types of the keys.';
		END IF;
		hold_id := crm_purge._hold_keeping_cols(r.child, r.conkey, refs, key_type);
		IF hold_id IS NOT NULL AND r.action = 'u' THEN
			RAISE EXCEPTION 'cannot % rows of table %: legal hold % keeps rows of table % that its foreign key would change',
				verb, top, hold_id, r.child
				USING ERRCODE = 'object_in_use',
					  DETAIL = format('Its foreign key %s follows an update of table %s.', r.conname, r.src),
					  HINT = 'Nothing was changed. Release the hold with crm_purge_release, or narrow the filter.';
		ELSIF hold_id IS NOT NULL THEN
			RAISE EXCEPTION 'cannot % rows of table %: legal hold % keeps rows of table % that its foreign key would %',
				verb, top, hold_id, r.child, CASE r.action WHEN 'c' THEN 'delete' ELSE 'unlink' END
				USING ERRCODE = 'object_in_use',
					  HINT = format('Nothing was %s. Release the hold with crm_purge_release, or narrow the filter.',
									CASE verb WHEN 'erase' THEN 'erased' ELSE 'deleted' END);
		END IF;
		-- (a cycle of foreign keys is followed this far, then refused)
		IF depth >= 16 AND r.action = 'u' THEN
			RAISE EXCEPTION 'cannot % rows of table %: its foreign keys follow updates more than 16 tables deep', verb, top
				USING ERRCODE = 'program_limit_exceeded',
					  HINT = 'Nothing was changed. Release the legal holds first: without one the foreign keys are not checked.';
		ELSIF depth >= 16 AND r.action = 'c' THEN
			RAISE EXCEPTION 'cannot % rows of table %: its foreign keys cascade more than 16 tables deep', verb, top
				USING ERRCODE = 'program_limit_exceeded',
					  HINT = 'Nothing was erased. Release the legal holds first: without one the cascade is not checked.';
		END IF;
		-- the child's rows go with them, or their referencing columns change
		PERFORM crm_purge._fk_action_holds(verb, top, r.child, crm_purge._key_match(r.child, r.conkey, key_type),
										   refs, depth + 1, CASE WHEN r.action = 'c' THEN NULL ELSE r.conkey END);
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._erased_check(tbl regclass, keys text[], natural_keys text[], depth integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF crm_purge._live_now(tbl, keys) > 0 THEN
		RAISE EXCEPTION 'could not erase rows of table %: a row with an erased key is live', tbl
			USING ERRCODE = 'serialization_failure',
				  DETAIL = 'It was written concurrently, or a trigger or rule of the table kept it from being deleted.',
				  HINT = 'Nothing was erased. Run the erase again, in a new transaction; if it fails again, see what keeps the row.';
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._any_hold() RETURNS boolean
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_any_hold';

CREATE OR REPLACE FUNCTION crm_purge._kept_trash(tbl regclass) RETURNS regclass
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

CREATE OR REPLACE FUNCTION crm_purge._check_cascades(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_check_cascades';

CREATE OR REPLACE FUNCTION crm_purge._held_trash_using(typ oid) RETURNS regclass
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE uses(t) AS (SELECT typ
		UNION SELECT y.oid FROM pg_type y, uses u
			  WHERE y.typelem = u.t OR y.typbasetype = u.t
				 OR y.oid IN (SELECT r.rngtypid FROM pg_range r WHERE r.rngsubtype = u.t)
				 OR y.oid IN (SELECT r.rngmultitypid FROM pg_range r WHERE r.rngtypid = u.t)
				 OR y.typrelid IN (SELECT a.attrelid FROM pg_attribute a
								   WHERE a.atttypid = u.t AND a.attnum > 0 AND NOT a.attisdropped))
	SELECT p.tbl FROM crm_purge.protected_tables p
	WHERE EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = p.trash AND NOT a.attisdropped
				  AND a.atttypid IN (SELECT t FROM uses))
	  AND crm_purge._held_around(p.tbl) IS NOT NULL
	ORDER BY p.tbl LIMIT 1
$$;

CREATE OR REPLACE FUNCTION crm_purge._erase_cascade_trash(top regclass, tbl regclass, cond text, keys text[], depth integer)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r record;
	refs text[];
	kids text[];
	key_type oid;
BEGIN
	-- (foreign keys referencing a partition or inheritance child of tbl too)
	FOR r IN WITH RECURSIVE tree(rel) AS (SELECT tbl::oid
				 UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.rel)
			 SELECT t.rel::regclass AS src, c0.conrelid::regclass AS child, c0.conkey, c0.confkey, c0.conname
			 FROM tree t JOIN pg_constraint c0 ON c0.confrelid = t.rel
			 WHERE c0.contype = 'f' AND c0.confdeltype = 'c' AND (t.rel = tbl OR c0.conparentid = 0)
			 ORDER BY c0.conname, t.rel LOOP
		-- (a protected table's protected children are the erase's own)
		CONTINUE WHEN r.src = tbl AND crm_purge._trash(tbl) IS NOT NULL AND r.child <> tbl
			AND crm_purge._trash(r.child) IS NOT NULL;
		SELECT x.a INTO refs FROM crm_purge._pick(r.src, format('SELECT array_agg(DISTINCT %s) FROM %s WHERE (%s%s)',
					   crm_purge._key_expr(r.src, r.confkey), r.src, cond, E'\n'), keys) AS x(a text[]);
		CONTINUE WHEN refs IS NULL;
		-- (rows matched by the key's text: refused where a protected table
		-- lies below keys that text does not match)
		IF NOT crm_purge._keys_comparable(r.child, r.conkey, r.src, r.confkey)
		   AND EXISTS (WITH RECURSIVE below(rel) AS (SELECT r.child::oid
						   UNION SELECT c1.conrelid FROM pg_constraint c1 JOIN below b ON c1.confrelid = b.rel
						   WHERE c1.contype = 'f' AND c1.confdeltype = 'c')
					   SELECT FROM below b JOIN crm_purge.protected_tables p ON p.tbl = b.rel::regclass) THEN
			RAISE EXCEPTION 'cannot erase rows of table %: ON DELETE CASCADE reaches protected tables through foreign key % of table %, whose columns are of other types than the key', top, r.conname, r.child
				USING ERRCODE = 'feature_not_supported',
					  HINT = 'Nothing was erased. Give the columns the types of the key, or erase the rows below first.';
		END IF;
		key_type := (SELECT at.atttypid FROM pg_attribute at WHERE at.attrelid = r.src AND at.attnum = r.confkey[1]);
		IF crm_purge._trash(r.child) IS NOT NULL THEN
			SELECT x.a INTO kids FROM crm_purge._pick(r.child, format('SELECT array_agg(%s) FROM %s WHERE %s',
						   crm_purge._key_expr(r.child, crm_purge._pk_cols(r.child)), r.child,
						   crm_purge._key_match(r.child, r.conkey, key_type)), refs) AS x(a text[]);
			-- (a row referencing itself among the erased is erased with them)
			IF kids IS NOT NULL AND NOT (r.child = tbl AND depth = 0 AND r.confkey = crm_purge._pk_cols(tbl) AND kids <@ refs) THEN
				RAISE EXCEPTION 'cannot erase rows of table %: ON DELETE CASCADE would move % rows of table % into its trash', top, cardinality(kids), r.child
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  DETAIL = 'The erase would not reach them there: they would stay restorable.',
						  HINT = format('Nothing was erased. Erase those rows of %s first, or take them into the filter.', r.child);
			END IF;
		ELSIF depth < 16 THEN
			-- (an unprotected table's reference to itself too: the rows below)
			PERFORM crm_purge._erase_cascade_trash(top, r.child, crm_purge._key_match(r.child, r.conkey, key_type),
												   refs, depth + 1);
		END IF;
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._has_holds(tbl regclass) RETURNS boolean
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_has_holds_sql';

CREATE OR REPLACE FUNCTION crm_purge._keys_comparable(child regclass, ccols int2[], parent regclass, pcols int2[]) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH f(t) AS (VALUES ('int2'::regtype::oid), ('int4'::regtype), ('int8'::regtype)),
		 pairs AS (SELECT c.atttypid AS ct, c.atttypmod AS cm, p.atttypid AS pt, p.atttypmod AS pm,
						  c.attcollation AS cc, p.attcollation AS pc
				   FROM unnest(ccols, pcols) u(ck, pk)
				   JOIN pg_attribute c ON c.attrelid = child AND c.attnum = u.ck
				   JOIN pg_attribute p ON p.attrelid = parent AND p.attnum = u.pk)
	SELECT bool_and(
		(((ct, cm) = (pt, pm)
		  -- (one text per value: not citext, numeric without a scale...)
		  AND (ct IN (SELECT t FROM f UNION ALL VALUES ('text'::regtype), ('varchar'::regtype), ('bpchar'::regtype),
					  ('uuid'::regtype), ('date'::regtype), ('timestamp'::regtype), ('timestamptz'::regtype),
					  ('bool'::regtype), ('inet'::regtype), ('cidr'::regtype))
			   OR (SELECT y.typtype = 'e' FROM pg_type y WHERE y.oid = ct)))
		 OR (cardinality(ccols) = 1
			 AND ((ct IN (SELECT t FROM f) AND pt IN (SELECT t FROM f))
				  OR (ct IN ('text'::regtype, 'varchar'::regtype) AND pt IN ('text'::regtype, 'varchar'::regtype))
				  OR (ct = 'uuid'::regtype AND pt = 'uuid'::regtype))))
		-- (a collation that finds 'a' and 'A' equal matches rows the text does not)
		AND (cc = 0 OR coalesce((SELECT l.collisdeterministic FROM pg_collation l WHERE l.oid = cc), false))
		AND (pc = 0 OR coalesce((SELECT l.collisdeterministic FROM pg_collation l WHERE l.oid = pc), false)))
	FROM pairs
$$;

CREATE OR REPLACE FUNCTION crm_purge._cron_installed() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT count(*) = 2 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'pg_cron'
	  AND ((d.classid = 'pg_class'::regclass AND d.objid = to_regclass('cron.job'))
		   OR (d.classid = 'pg_proc'::regclass
			   AND d.objid = to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)')))
$$;

CREATE OR REPLACE FUNCTION crm_purge._require_cron() RETURNS void
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

CREATE OR REPLACE FUNCTION crm_purge._drop_cron_jobs() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF crm_purge._cron_installed() THEN
		DELETE FROM cron.job WHERE jobid IN (SELECT jobid FROM crm_purge.policies)
			OR (jobname LIKE 'crm_purge_policy_%' AND database = current_database());
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._raise_key_sequences(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_raise_key_sequences';


CREATE OR REPLACE FUNCTION crm_purge._lock_held(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_lock_held';

CREATE OR REPLACE FUNCTION crm_purge._kept_columns(tr regclass, col name) RETURNS TABLE (attname name)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT a.attname FROM pg_attribute a
	WHERE a.attrelid = tr AND a.attnum > 0 AND NOT a.attisdropped
	  AND col_description(tr, a.attnum) = 'crm_purge: set aside from column ' || col
$$;

CREATE OR REPLACE FUNCTION crm_purge._set_aside_from(tr regclass, kept name, col name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', tr, kept, 'crm_purge: set aside from column ' || col);
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._key_column(tbl regclass, key_column name) RETURNS int2
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
	-- (valid, and unique under the column's own collation: keys compare so)
	IF NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = tbl AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
				   AND i.indexprs IS NULL AND i.indnatts = 1 AND i.indkey[0] = att
				   AND i.indcollation[0] = (SELECT a.attcollation FROM pg_attribute a
											WHERE a.attrelid = tbl AND a.attnum = att)) THEN
		RAISE EXCEPTION 'column "%" of table % is not unique', key_column, tbl
			USING ERRCODE = 'invalid_column_reference',
				  HINT = 'A key must name one row: give a column with a unique index or constraint of its own.';
	END IF;
	RETURN att;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._unlogged_part(tbl regclass) RETURNS regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE t(r) AS (SELECT tbl::oid UNION SELECT i.inhrelid FROM pg_inherits i JOIN t ON i.inhparent = t.r)
	SELECT c.oid::regclass FROM t JOIN pg_class c ON c.oid = t.r WHERE c.relpersistence = 'u' ORDER BY c.oid LIMIT 1
$$;

CREATE OR REPLACE FUNCTION crm_purge._guard_trigger(tbl regclass, mode text, key_columns name[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'crm_purge_guard') THEN
		EXECUTE format('DROP TRIGGER crm_purge_guard ON %s', tbl);
	END IF;
	EXECUTE format('CREATE TRIGGER crm_purge_guard BEFORE INSERT OR UPDATE ON %s FOR EACH ROW '
				   'EXECUTE FUNCTION crm_purge.guard_trigger(%s)', tbl,
				   (SELECT string_agg(quote_literal(x), ', ' ORDER BY o)
					FROM unnest(ARRAY[mode::name] || coalesce(key_columns, '{}')) WITH ORDINALITY AS u(x, o)));
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._column_renamed(actor regrole, tbl regclass, old_name name, new_name name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tree oid[];
	g record;
BEGIN
	WITH RECURSIVE down(rel) AS (SELECT tbl::oid
		UNION SELECT i.inhrelid FROM pg_inherits i JOIN down d ON i.inhparent = d.rel)
	SELECT array_agg(rel) INTO tree FROM down;
	-- Citus: the guard's trigger changes on the shards as the extension
	-- owner, which Citus refuses beside another role's rename (a deadlock)
	SELECT x.tbl INTO g FROM crm_purge.guards x
		WHERE x.tbl::oid = ANY (tree) AND old_name = ANY (x.key_columns) AND crm_purge._citus_table(x.tbl)
		  AND actor::oid <> (SELECT e.extowner FROM pg_extension e WHERE e.extname = 'crm_purge');
	IF FOUND THEN
		RAISE EXCEPTION 'cannot rename column "%" of Citus table % as role %: its guard''s natural key names it', old_name, g.tbl, actor
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'The guard''s trigger on the shards changes with it, as the extension owner.',
				  HINT = 'Run the rename as the extension owner (a superuser), e.g. in the migration; nothing was changed.';
	END IF;
	UPDATE crm_purge.anonymize_rules r SET col = new_name
		WHERE r.tbl::oid = ANY (tree) AND r.col = old_name
		  AND NOT EXISTS (SELECT FROM crm_purge.anonymize_rules o WHERE o.tbl = r.tbl AND o.col = new_name);
	UPDATE crm_purge.relations r SET child_columns = array_replace(r.child_columns, old_name, new_name)
		WHERE r.child::oid = ANY (tree) AND old_name = ANY (r.child_columns);
	FOR g IN UPDATE crm_purge.guards x SET key_columns = array_replace(x.key_columns, old_name, new_name)
			 WHERE x.tbl::oid = ANY (tree) AND old_name = ANY (x.key_columns)
			 RETURNING x.tbl, x.mode, x.key_columns LOOP
		PERFORM crm_purge._guard_trigger(g.tbl, g.mode, g.key_columns);
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._text_array_expr(tbl regclass, cols int2[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT 'ARRAY[' || string_agg(format('pg_catalog.textin(%I.%I(%I::%s))', n.nspname, p.proname, a.attname,
										 format_type(b.oid, NULL)), ', ' ORDER BY k.ord) || ']::pg_catalog.text'
	FROM unnest(cols) WITH ORDINALITY k(attnum, ord)
	JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.attnum
	-- (a domain's base type, through every level)
	CROSS JOIN LATERAL (WITH RECURSIVE d(o, base) AS (SELECT y.oid, y.typbasetype FROM pg_type y WHERE y.oid = a.atttypid
		UNION ALL SELECT y.oid, y.typbasetype FROM d JOIN pg_type y ON y.oid = d.base WHERE d.base <> 0)
		SELECT o FROM d WHERE base = 0) bt
	JOIN pg_type b ON b.oid = bt.o
	JOIN pg_proc p ON p.oid = b.typoutput
	JOIN pg_namespace n ON n.oid = p.pronamespace
$$;

CREATE OR REPLACE FUNCTION crm_purge._unlinked_children(child regclass, con name, parent_refs text[]) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE OR REPLACE FUNCTION crm_purge._unlinked_children_impl(actor regrole, child regclass, con name, parent_refs text[])
RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT has_table_privilege(actor, child, 'SELECT') THEN
		RAISE EXCEPTION 'permission denied for table %', child USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN (SELECT array_agg(DISTINCT u.child_key::text) FROM crm_purge.unlinks u
			WHERE u.child = _unlinked_children_impl.child AND u.constraint_name = con
			  AND u.parent_ref::text = ANY (parent_refs));
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._equal_trash_keys(tbl regclass, tr regclass, cond text, keys text[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	pk int2[] := crm_purge._pk_cols(tbl);
	d record;
	k text[];
BEGIN
	IF crm_purge._keys_comparable(tbl, pk, tbl, pk) THEN
		RETURN NULL;
	END IF;
	SELECT string_agg(format('%I', a.attname), ', ' ORDER BY u.o) AS cols,
		   string_agg(format('crm_purge_copy.%1$I OPERATOR(%2$I.%3$s) crm_purge_key.%1$I', a.attname, ns.nspname, op.oprname),
					  ' AND ') AS equal
		INTO d
		FROM pg_index i
		CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[]) WITH ORDINALITY u(attnum, opc, o)
		JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = u.attnum
		JOIN pg_opclass oc ON oc.oid = u.opc
		JOIN pg_amop m ON m.amopfamily = oc.opcfamily AND m.amoplefttype = oc.opcintype
			AND m.amoprighttype = oc.opcintype AND m.amopstrategy = 3
		JOIN pg_operator op ON op.oid = m.amopopr
		JOIN pg_namespace ns ON ns.oid = op.oprnamespace
		WHERE i.indrelid = tbl AND i.indisprimary;
	SELECT x.a INTO k FROM crm_purge._pick(tbl,
		format('SELECT array_agg(DISTINCT %s) FROM (SELECT %s FROM %s UNION ALL SELECT %s FROM %s) crm_purge_copy'
			   ' WHERE EXISTS (SELECT FROM ('
			   'SELECT %s FROM %s WHERE (%s%s) UNION ALL SELECT %s FROM %s WHERE (%s%s)) crm_purge_key WHERE %s)',
			   crm_purge._key_expr(tbl, pk), d.cols, tr, d.cols, tbl,
			   d.cols, tbl, cond, E'\n', d.cols, tr, cond, E'\n', d.equal), keys)
		AS x(a text[]);
	RETURN k;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._check_rule_table(tbl regclass) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c record;
BEGIN
	SELECT k.relkind, k.relispartition, n.nspname,
		   EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = k.oid
				   AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') AS extension_member
		INTO c FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace WHERE k.oid = tbl;
	IF c.nspname IN ('crm_purge', 'crm_trash', 'pg_catalog', 'information_schema', 'pg_toast')
	   OR c.nspname LIKE 'pg\_temp\_%' OR c.nspname LIKE 'pg\_toast\_temp\_%' OR c.extension_member
	   OR c.relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION 'table % cannot be named in an erase rule', tbl
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'A rule names a table of the application: not a trash, a catalog, an extension''s table, a view or a temporary table.';
	END IF;
	IF c.relispartition THEN
		RAISE EXCEPTION 'table % cannot be named in an erase rule: it is a partition of table %', tbl, pg_partition_root(tbl)
			USING ERRCODE = 'wrong_object_type',
				  HINT = format('Name its partitioned table %s.', pg_partition_root(tbl));
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._citus_secret_everywhere(tbl regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- (on the coordinator only: a worker node's own secret would replace the
	-- coordinator's on every node; review round 56, C56-3)
	PERFORM crm_purge._check_admin('crm_purge_hold');
	IF crm_purge._citus_table(tbl) THEN
		PERFORM crm_purge._citus_tombstones(tbl, '{}', false);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION crm_purge._notify(event text, recipients name[], request_id bigint,
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

CREATE OR REPLACE FUNCTION crm_purge._trash_trigger_intact(tg oid, kind text) RETURNS boolean
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	SELECT EXISTS (SELECT FROM pg_trigger t WHERE t.oid = tg
		AND t.tgfoid = 'crm_purge.trash_trigger()'::regprocedure AND t.tgenabled IN ('O', 'A') AND t.tgnargs = 0
		AND t.tgtype = CASE kind WHEN 'row' THEN 9 WHEN 'flush' THEN 8 ELSE 34 END
		AND t.tgoldtable IS NOT DISTINCT FROM CASE kind WHEN 'flush' THEN 'crm_purge_deleted'::name END
		AND t.tgnewtable IS NULL
		AND CASE kind WHEN 'row' THEN pg_get_triggerdef(t.oid) LIKE '% WHEN (crm_purge._trash_row_mode()) EXECUTE FUNCTION crm_purge.trash_trigger()'
			ELSE t.tgqual IS NULL END
		AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'x'))
$$;

CREATE OR REPLACE FUNCTION crm_purge._trash_triggers_broken(tbl regclass) RETURNS regclass
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	-- (pg_partition_tree has nothing for a table outside a partition tree)
	SELECT pt.relid FROM (SELECT tbl::regclass AS relid, 0 AS level UNION SELECT t.relid, t.level FROM pg_partition_tree(tbl) t) pt
	CROSS JOIN (VALUES ('row'), ('flush'), ('no_truncate')) w(kind)
	WHERE NOT EXISTS (SELECT FROM pg_trigger tg WHERE tg.tgrelid = pt.relid AND crm_purge._trash_trigger_intact(tg.oid, w.kind))
	ORDER BY pt.level, pt.relid LIMIT 1
$$;

REVOKE ALL ON FUNCTION crm_purge._trash_trigger_intact(oid, text), crm_purge._trash_triggers_broken(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION crm_purge._dropped_owner(tbl oid) RETURNS oid
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_dropped_owner';

REVOKE ALL ON FUNCTION crm_purge._dropped_owner(oid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION crm_purge._segment_pinned(leaf regclass) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT EXISTS (SELECT FROM pg_depend d JOIN pg_class c ON c.oid = leaf
				   JOIN pg_type t ON t.oid = c.reltype
				   WHERE d.deptype = 'n'
					 AND ((d.refclassid = 'pg_type'::regclass AND d.refobjid IN (t.oid, t.typarray))
						  OR (d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
							  AND d.classid = 'pg_rewrite'::regclass)))
$$;

REVOKE ALL ON FUNCTION crm_purge._segment_pinned(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION crm_purge._temporary_dependency_from(cls oid, objs oid[]) RETURNS text
-- (jit off: the recursive CTE's estimates are large, the catalogs small; JIT took 0.6 s a call)
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp SET jit = off AS $$
	WITH RECURSIVE reach(classid, objid) AS (
		SELECT cls, o FROM unnest(objs) o
		UNION
		SELECT d.classid, d.objid FROM pg_depend d
		WHERE d.refclassid = cls AND d.refobjid = ANY (objs) AND d.deptype IN ('a', 'i')
		UNION
		-- (what a reached object depends on, and what is part of it: a
		-- standalone composite type's attributes are its pg_class entry's)
		SELECT x.classid, x.objid FROM reach r, LATERAL (
			SELECT d.refclassid, d.refobjid FROM pg_depend d WHERE d.classid = r.classid AND d.objid = r.objid
			UNION ALL
			SELECT d.classid, d.objid FROM pg_depend d
			WHERE d.refclassid = r.classid AND d.refobjid = r.objid AND d.deptype = 'i') x(classid, objid)
	)
	-- (every object in a schema depends on it: the temporary schema's are temporary)
	SELECT regexp_replace(pg_describe_object(r.classid, r.objid, 0), '(pg_toast_temp|pg_temp)_[0-9]+\.', '', 'g')
	FROM reach r JOIN pg_depend d ON d.classid = r.classid AND d.objid = r.objid
		AND d.refclassid = 'pg_namespace'::regclass
	JOIN pg_namespace n ON n.oid = d.refobjid
	WHERE n.nspname LIKE 'pg\_temp\_%' OR n.nspname LIKE 'pg\_toast\_temp\_%'
	ORDER BY 1 LIMIT 1
$$;

REVOKE ALL ON FUNCTION crm_purge._temporary_dependency_from(oid, oid[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION crm_purge._temporary_dependency(tbl regclass) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	SELECT crm_purge._temporary_dependency_from('pg_catalog.pg_class'::regclass,
		ARRAY(SELECT tbl::oid UNION SELECT p.relid FROM pg_partition_tree(tbl) p))
	FROM pg_class c WHERE c.oid = tbl AND c.relpersistence <> 't'
$$;

REVOKE ALL ON FUNCTION crm_purge._temporary_dependency(regclass) FROM PUBLIC;



CREATE OR REPLACE FUNCTION crm_purge._forget_orphan_unlinks(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_forget_orphan_unlinks';

CREATE OR REPLACE FUNCTION crm_purge._constraint_renamed(child regclass, old_name name, new_name name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tg name;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conrelid = child AND c.conname = new_name AND c.contype = 'f') THEN
		RETURN;
	END IF;
	UPDATE crm_purge.unlinks u SET constraint_name = new_name
		WHERE u.child = _constraint_renamed.child AND u.constraint_name = old_name;
	IF crm_purge._citus_table(child) THEN
		RETURN;
	END IF;
	FOR tg IN
		SELECT t.tgname FROM pg_trigger t
		WHERE t.tgrelid = child AND t.tgfoid = 'crm_purge.unlink_trigger()'::regprocedure
		  AND t.tgname IN (left('crm_purge_unlink_' || old_name, 63), left('crm_purge_appunlink_' || old_name, 63))
	LOOP
		EXECUTE format('DROP TRIGGER %I ON %s', tg, child);
	END LOOP;
END
$$;


CREATE OR REPLACE FUNCTION crm_purge._citus_held_watch(tbl regclass, before text[], own boolean DEFAULT true) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_citus_held_watch';

CREATE OR REPLACE FUNCTION crm_purge._citus_shard_batch(request_id bigint, shardid bigint, placementid bigint, work boolean,
											 known_parts integer, export boolean, modified_column name,
											 filter text, cutoff timestamptz, created_by name, keep text,
											 rows bigint, batch_rows integer, lock_timeout text, step_timeout integer,
											 round bigint) RETURNS text
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_citus_shard_batch';

CREATE OR REPLACE FUNCTION crm_purge._citus_raise_fence(floor bigint) RETURNS void
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_raise_fence';

CREATE OR REPLACE FUNCTION crm_purge._citus_fence_rounds() RETURNS void
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

-- (end of Citus)

REVOKE ALL ON FUNCTION crm_purge._held_on(oid[]), crm_purge._held_tree(regclass), crm_purge._held_around(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._fk_action_holds(text, regclass, regclass, text, text[], integer, int2[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._fk_action_holds(text, regclass, regclass, text, text[], integer, int2[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._hold_keeping_cols(regclass, int2[], text[], regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._forget_unlinks(regclass, bigint[], bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._forget_orphan_unlinks(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._constraint_renamed(regclass, name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._citus_held_watch(regclass, text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._base_type(oid), crm_purge._check_not_partition(text, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._check_not_partition(text, regclass) TO crm_purge_admin;
GRANT EXECUTE ON FUNCTION crm_purge._hold_keeping_cols(regclass, int2[], text[], regtype) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._pick(regclass, text, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._pick(regclass, text, text[], text[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._citus_delete(regclass, name, text[]),
	crm_purge._citus_delete_check(regclass, name, text[]),
	crm_purge._citus_delete_impl(regrole, regclass, name, text[]),
	crm_purge._citus_delete_rows_as_owner(regclass, name, text[]),
	crm_purge._citus_delete_rows(regclass, name, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._citus_delete(regclass, name, text[]),
	crm_purge._citus_delete_check(regclass, name, text[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._owner_write(regclass, oid[], tid[], int2[], boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._owner_write(regclass, oid[], tid[], int2[], boolean) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._citus_distribute_trash(regclass, regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._citus_trash_owner(regclass, regclass),
	crm_purge._citus_drop_trash_rows(regclass, bigint[], bigint[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._delete_row_keys(regclass, text[], boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._delete_row_keys(regclass, text[], boolean) TO crm_purge_admin;

ALTER FUNCTION crm_purge._protect_impl(regrole, regclass, interval) SET citus.enable_unsafe_triggers = on;
ALTER FUNCTION crm_purge._unprotect_impl(regrole, regclass, boolean) SET citus.enable_unsafe_triggers = on;
ALTER FUNCTION crm_purge._protect_partitions(regclass) SET citus.enable_unsafe_triggers = on;
ALTER FUNCTION crm_purge._create_unlink_triggers(regclass) SET citus.enable_unsafe_triggers = on;

REVOKE ALL ON FUNCTION crm_purge._citus_tombstones(regclass, bigint[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._citus_secret_everywhere(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._citus_secret_everywhere(regclass) TO crm_purge_admin;

ALTER FUNCTION crm_purge._guard_impl(regrole, regclass, text, name[]) SET citus.enable_unsafe_triggers = on;

-- Citus: the coordinator's worker runs these on the nodes, as the extension owner
REVOKE ALL ON FUNCTION crm_purge._citus_shard_batch(bigint, bigint, bigint, boolean, integer, boolean, name, text, timestamptz, name, text, bigint, integer, text, integer, bigint),
	crm_purge._citus_raise_fence(bigint), crm_purge._citus_fence_rounds(),
	crm_purge._citus_shard_part(bigint, bigint, integer), crm_purge._citus_shard_expire(bigint[]),
	crm_purge._citus_expire_exports(), crm_purge._citus_round(bigint, text, integer, timestamptz) FROM PUBLIC;

-- Citus erase: the gate and its check for admins; the extension owner's
-- part and the switch to the table's owner for no one else
REVOKE ALL ON FUNCTION crm_purge._citus_erase(regclass, text, text[]),
	crm_purge._citus_erase_check(regclass, text, text[]),
	crm_purge._citus_erase_impl(regrole, regclass, text, text[], jsonb),
	crm_purge._citus_erase_rows_as_owner(regclass, text[], jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._citus_erase(regclass, text, text[]),
	crm_purge._citus_erase_check(regclass, text, text[]) TO crm_purge_admin;

-- the overview's row count, as each table's owner (src/catalog.c)
REVOKE ALL ON FUNCTION crm_purge._live_rows(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._citus_owner_code_column(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._live_rows(regclass) TO crm_purge_admin;

-- The trash triggers of 1.0 (a row trigger for every row) become a
-- statement trigger reading its transition table, the row trigger kept for
-- bypassed deletes only (crm_purge._create_trash_triggers); partitions of
-- a protected partitioned table get the new statement trigger.
REVOKE ALL ON FUNCTION crm_purge._create_trash_triggers(regclass) FROM PUBLIC;
DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
	t record;
	part regclass;
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	-- (Citus refuses trigger changes on distributed tables unless told)
	PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
	FOR t IN SELECT p.tbl FROM crm_purge.protected_tables p ORDER BY p.tbl LOOP
		EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_trash ON %s', t.tbl);
		EXECUTE format('DROP TRIGGER IF EXISTS crm_purge_trash_flush ON %s', t.tbl);
		PERFORM crm_purge._create_trash_triggers(t.tbl);
		FOR part IN SELECT tg.tgrelid::regclass FROM pg_partition_tree(t.tbl) pt
					JOIN pg_trigger tg ON tg.tgrelid = pt.relid AND tg.tgname = 'crm_purge_trash_flush'
					WHERE pt.relid <> t.tbl::regclass LOOP
			EXECUTE format('DROP TRIGGER crm_purge_trash_flush ON %s', part);
		END LOOP;
		PERFORM crm_purge._protect_partitions(t.tbl);
	END LOOP;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;

-- No statistics on trash columns of a range type someone made (their
-- ANALYZE would run its subtype_diff as the extension owner): every trash,
-- those kept by crm_purge_unprotect too.
DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	PERFORM crm_purge._trash_stats_off(c.oid::regclass) FROM pg_class c
		WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'crm_trash') AND c.relkind IN ('r', 'p') AND NOT c.relispartition;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;
REVOKE ALL ON FUNCTION crm_purge._erased_check(regclass, text[], text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._erased_check(regclass, text[], text[], integer) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._any_hold() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._any_hold() TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._kept_trash(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._kept_trash(regclass) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._check_cascades(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._check_cascades(regclass) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._held_trash_using(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._erase_cascade_trash(regclass, regclass, text, text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._erase_cascade_trash(regclass, regclass, text, text[], integer) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._has_holds(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._has_holds(regclass) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._keys_comparable(regclass, int2[], regclass, int2[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._keys_comparable(regclass, int2[], regclass, int2[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._cron_installed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._cron_installed() TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._raise_key_sequences(regclass), crm_purge._free_trash_name(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._lock_held(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._lock_held(regclass) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._kept_columns(regclass, name), crm_purge._set_aside_from(regclass, name, name) FROM PUBLIC;

-- Only crm_purge writes its catalogs (as their owner, which row-level
-- security does not hold back): pg_write_all_data writes every table
-- whatever its grants, but not past row-level security. Admins read what
-- their grants name, whole; pg_read_all_data, which reads every table
-- whatever its grants, reads none of them.
ALTER TABLE crm_purge.protected_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.protected_tables FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.trash_segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.trash_segments FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.unlinks ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_purge.history ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.history FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.requests FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.request_batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.request_batches FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.request_shards ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.request_shards FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.shard_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.shard_requests FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.shard_parts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_purge.notifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.notifications FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.purges ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.purges FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.relations ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.relations FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.anonymize_rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.anonymize_rules FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.tombstones ENABLE ROW LEVEL SECURITY;
-- (only of tables the admin may read: with crm_purge._key_hash, the hashes
-- give back small or listed erased keys; review round 55, A55-5)
CREATE POLICY readable ON crm_purge.tombstones FOR SELECT TO crm_purge_admin USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));
ALTER TABLE crm_purge.key_floors ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.key_floors FOR SELECT TO crm_purge_admin USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));
ALTER TABLE crm_purge.dropped_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.dropped_tables FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.kept_trashes ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.kept_trashes FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_purge.guards ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.guards FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.holds FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.erasures ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.erasures FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.policies ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.policies FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.errors ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.errors FOR SELECT TO crm_purge_admin USING (true);
REVOKE ALL ON FUNCTION crm_purge._unlogged_part(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._guard_trigger(regclass, text, name[]),
	crm_purge._column_renamed(regrole, regclass, name, name) FROM PUBLIC;
ALTER FUNCTION crm_purge._guard_trigger(regclass, text, name[]) SET citus.enable_unsafe_triggers = on;
REVOKE ALL ON FUNCTION crm_purge._unlinked_children(regclass, name, text[]),
	crm_purge._unlinked_children_impl(regrole, regclass, name, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._unlinked_children(regclass, name, text[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._equal_trash_keys(regclass, regclass, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._equal_trash_keys(regclass, regclass, text, text[]) TO crm_purge_admin;
ALTER FUNCTION crm_purge._equal_trash_keys(regclass, regclass, text, text[])
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';
REVOKE ALL ON FUNCTION crm_purge._check_rule_table(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._check_rule_table(regclass) TO crm_purge_admin;

-- (review round 56, A56-4: names of dropped tables never follow the session's quoting)
ALTER FUNCTION crm_purge._sql_drop() SET quote_all_identifiers = off;
ALTER FUNCTION crm_purge._guard_impl(regrole, regclass, text, name[]) SET quote_all_identifiers = off;
