-- 03_recycle_bin: the recycle bin: trash tables, the trash trigger, schema sync, protect, restore

CREATE FUNCTION crm_purge.trash_trigger() RETURNS trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_trash_trigger';

CREATE FUNCTION crm_purge.unlink_trigger() RETURNS trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_unlink_trigger';

-- _held_on: the first legal hold in force on one of rels, or NULL; their
-- holds' locks taken and read under the latest snapshot (src/erase/holds.c)
CREATE FUNCTION crm_purge._held_on(rels oid[]) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_held_on';

-- _held_tree: the first legal hold in force on tbl or on a partition or
-- inheritance child of it (a table held, then attached), or NULL
CREATE FUNCTION crm_purge._held_tree(tbl regclass) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE tree(rel) AS (SELECT tbl::oid
		UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.rel)
	SELECT crm_purge._held_on(ARRAY(SELECT rel FROM tree))
$$;

-- _held_around: the first legal hold in force on tbl, on a table it is a
-- partition or inheritance child of, or on one of its own; or NULL
CREATE FUNCTION crm_purge._held_around(tbl regclass) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE up(rel) AS (SELECT tbl::oid
		UNION SELECT i.inhparent FROM pg_inherits i JOIN up u ON i.inhrelid = u.rel),
	down(rel) AS (SELECT tbl::oid
		UNION SELECT i.inhrelid FROM pg_inherits i JOIN down d ON i.inhparent = d.rel)
	SELECT crm_purge._held_on(ARRAY(SELECT rel FROM up UNION SELECT rel FROM down))
$$;

-- _held_trash_using: a table under a legal hold whose trash has a column of
-- type typ, or of a type made of it (an array, a domain, a range, a
-- composite type or a table's row type with such an attribute, at any
-- depth); or NULL.  A change
-- to typ (an enum's label renamed, a composite's attribute dropped) would
-- change held trashed values.
CREATE FUNCTION crm_purge._held_trash_using(typ oid) RETURNS regclass
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

CREATE FUNCTION crm_purge.ddl_trigger() RETURNS event_trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_ddl_trigger';

-- A trash column has the base type of a domain (of a domain over a domain
-- too): no domain constraint (code of whoever made the domain) ever runs
-- when crm_purge writes or reads the trash.
CREATE FUNCTION crm_purge._column_ddl(tbl regclass, col name) RETURNS text
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

-- Brings the trash table's columns in line with the live table: adds new
-- columns, follows type changes.  Runs as the extension owner, restricted,
-- and evaluates none of the table owner's expressions: a new column's
-- fast default is copied as a value (built-in types), a type change is
-- applied only through built-in casts; when a column cannot follow (a
-- user-defined type, values that do not convert) the old column is kept
-- under another name with its values and a new one is added.  Dropped live
-- columns stay in the trash so that trashed values are not lost.
CREATE FUNCTION crm_purge._sync_trash(tbl regclass) RETURNS void
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

CREATE FUNCTION crm_purge._rename_trash_column(tbl regclass, old_name name, new_name name) RETURNS void
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

-- Trash columns that keep values of column col set aside by a type change
-- (_sync_trash), named in their comment.
CREATE FUNCTION crm_purge._kept_columns(tr regclass, col name) RETURNS TABLE (attname name)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT a.attname FROM pg_attribute a
	WHERE a.attrelid = tr AND a.attnum > 0 AND NOT a.attisdropped
	  AND col_description(tr, a.attnum) = 'crm_purge: set aside from column ' || col
$$;

CREATE FUNCTION crm_purge._set_aside_from(tr regclass, kept name, col name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', tr, kept, 'crm_purge: set aside from column ' || col);
END
$$;

-- Unlink triggers on the children whose key points at tbl: made at
-- protect, and again whenever such a key is added later.  An ON DELETE SET
-- NULL key cleared by the parent's DELETE is recorded at once
-- (crm_purge_unlink_*); a nullable key the application clears itself, as
-- ORMs do before deleting the parent, is checked at commit
-- (crm_purge_appunlink_*, a deferred constraint trigger).
CREATE FUNCTION crm_purge._create_unlink_triggers(tbl regclass) RETURNS void
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

-- A child's foreign key to a protected table renamed: its unlink records
-- follow it (an erase found them by the key's name and left the erased
-- parent's e-mail: review round 71, A71-2), and its unlink triggers, which
-- name the key, are made again (_create_unlink_triggers, after this).
CREATE FUNCTION crm_purge._constraint_renamed(child regclass, old_name name, new_name name) RETURNS void
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

-- The first unlogged table among tbl, its partitions and children, at any
-- depth: a crash empties it, past trash and holds.
CREATE FUNCTION crm_purge._unlogged_part(tbl regclass) RETURNS regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE t(r) AS (SELECT tbl::oid UNION SELECT i.inhrelid FROM pg_inherits i JOIN t ON i.inhparent = t.r)
	SELECT c.oid::regclass FROM t JOIN pg_class c ON c.oid = t.r WHERE c.relpersistence = 'u' ORDER BY c.oid LIMIT 1
$$;

-- the owner of a table this backend dropped lately, or NULL
CREATE FUNCTION crm_purge._dropped_owner(tbl oid) RETURNS oid
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_dropped_owner';

-- Drops of protected tables: forget them; the trash table stays for recovery.
CREATE FUNCTION crm_purge._sql_drop() RETURNS event_trigger
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

-- (every drop: a trash's column goes with a collation, a function, an
-- extension... dropped with CASCADE too)
ALTER FUNCTION crm_purge._sql_drop() SET quote_all_identifiers = off;

CREATE EVENT TRIGGER crm_purge_sql_drop ON sql_drop
	EXECUTE FUNCTION crm_purge._sql_drop();

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
	RETURN crm_purge._protect(tbl, retention);
END
$$;

CREATE FUNCTION crm_purge_unprotect(tbl regclass, drop_trash boolean DEFAULT false)
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

CREATE FUNCTION crm_purge_restore(tbl regclass, filter text DEFAULT NULL, on_conflict text DEFAULT 'error')
RETURNS bigint
LANGUAGE C CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'crm_purge_restore';

CREATE FUNCTION crm_purge_restore_deletion(deletion_id bigint)
RETURNS bigint
LANGUAGE C CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'crm_purge_restore_deletion';

CREATE FUNCTION crm_purge._trash_row_visible(trash oid, deleted_by regrole) RETURNS boolean
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'crm_purge_trash_row_visible_oid';

CREATE FUNCTION crm_purge._delete_permanently(tbl regclass, cond text, keys text[]) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_delete_permanently';

-- The type a trash column has for a live column: domains by their base type.
CREATE FUNCTION crm_purge._trash_type(typ oid, typmod int, OUT t oid, OUT m int)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE d(dt, dm, depth) AS (
		SELECT typ, typmod, 0
		UNION ALL
		SELECT y.typbasetype, y.typtypmod, d.depth + 1 FROM d JOIN pg_type y ON y.oid = d.dt WHERE y.typtype = 'd'
	)
	SELECT d.dt, d.dm FROM d ORDER BY d.depth DESC LIMIT 1
$$;

-- A value of a trash column whose type changed, when it converts.
CREATE FUNCTION crm_purge._converts(value text, typ oid, typmod integer) RETURNS text
	LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'crm_purge_converts';

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

-- No statistics on a trash column of a range type someone made (or a
-- multirange of one, or a domain over either, at any depth: a domain takes
-- its base's typanalyze): ANALYZE of a range calls its subtype_diff, its
-- maker's code, and the trash's ANALYZE (by the worker or autovacuum) runs
-- as the extension owner.  On tr and, for a partitioned trash, every
-- segment.
CREATE FUNCTION crm_purge._trash_stats_off(tr regclass) RETURNS void
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

-- A new segment of a trash, which takes its writes from now on (the
-- trigger writes the highest).  LIKE, then ATTACH: CREATE TABLE ...
-- PARTITION OF would lock the whole trash against its readers.  Only the
-- owner reads a segment directly; everyone else reads the trash, under its
-- policy.
-- A name for a new table in crm_trash: base || suffix, or with _1, _2...
-- when taken (a trash of a table whose name ends so), within 63 bytes.
CREATE FUNCTION crm_purge._free_trash_name(base text, suffix text) RETURNS text
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

CREATE FUNCTION crm_purge._add_trash_segment(tr regclass, seg integer) RETURNS regclass
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

-- The indexes of a sealed segment, each in one sorted build: what restores
-- (the key), restore_deletion (the deletion) and erasures (foreign keys, the
-- key's text) look up; BRIN on deleted_at for expiry.  Then its statistics.
CREATE FUNCTION crm_purge._index_trash_segment(tbl regclass, leaf regclass) RETURNS void
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

-- The worker's upkeep of one trash, as the extension owner.  Seals the
-- newest segment once it is crm_purge.trash_segment_size big or its rows
-- crm_purge.trash_segment_age old; indexes one sealed segment in a later
-- transaction (no writer from before the seal is left; one that is waits
-- for the next time) with one sorted build per index; drops the sealed
-- segments whose every row is older than cutoff, unless a legal hold is
-- active on the table (its rows then expire one by one, held ones kept).
-- Returns the rows dropped.
-- _segment_pinned: does an object outside crm_purge depend on a trash
-- segment (its row type, or a view reading it)?  Any role may make one: the
-- segment cannot be dropped while it stays.
CREATE FUNCTION crm_purge._segment_pinned(leaf regclass) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT EXISTS (SELECT FROM pg_depend d JOIN pg_class c ON c.oid = leaf
				   JOIN pg_type t ON t.oid = c.reltype
				   WHERE d.deptype = 'n'
					 AND ((d.refclassid = 'pg_type'::regclass AND d.refobjid IN (t.oid, t.typarray))
						  OR (d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
							  AND d.classid = 'pg_rewrite'::regclass)))
$$;

CREATE FUNCTION crm_purge._trash_upkeep(tbl regclass, cutoff timestamptz) RETURNS bigint
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

-- Citus: the erase's removal of trash rows, as the extension owner (src/citus.c)
CREATE FUNCTION crm_purge._citus_drop_trash_rows(trash regclass, ids bigint[], nums bigint[]) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_drop_trash_rows';

-- Citus: a restore or erase runs as the extension owner, and its worker
-- nodes run its statements as the table's owner (crm_purge.citus_run_as),
-- except the removal of trash rows: the owner reads its trash (a policy
-- shows it every row) and never deletes from it.  After ALTER TABLE ...
-- OWNER TO (the worker checks at each upkeep) the right and the policy move
-- to the new owner.
CREATE FUNCTION crm_purge._citus_trash_owner(tbl regclass, tr regclass) RETURNS void
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

-- Citus: the trash of a distributed table is distributed with it,
-- colocated (each trash shard beside its table's shard, moved with it),
-- under the name crm_trash."<schema>__<table>" (the name a shard's trigger
-- derives on a worker node, which has no catalog).  Reference tables and
-- Citus local tables are refused.  Returns whether tbl is distributed.
-- Runs as the extension owner, on the coordinator.
CREATE FUNCTION crm_purge._citus_owner_code_column(tbl regclass) RETURNS name
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_citus_owner_code_column';

CREATE FUNCTION crm_purge._citus_distribute_trash(tbl regclass, tr regclass) RETURNS boolean
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

CREATE FUNCTION crm_purge._protect(tbl regclass, retention interval) RETURNS regclass
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._protect_impl(actor regrole, tbl regclass, retention interval) RETURNS regclass
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

-- The trash triggers: the statement trigger writes the rows of its
-- transition table (each deleted row read once); the row trigger runs only
-- while crm_purge deletes rows that skip the trash (a request's batch, an
-- erase), where it tells them apart by tid, and in a MERGE, where it tells
-- rows moved to another partition from deleted ones.
CREATE FUNCTION crm_purge._trash_row_mode() RETURNS boolean
	LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'crm_purge_trash_row_mode';

CREATE FUNCTION crm_purge._create_trash_triggers(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format('CREATE TRIGGER crm_purge_trash AFTER DELETE ON %s FOR EACH ROW '
				   'WHEN (crm_purge._trash_row_mode()) EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
	EXECUTE format('CREATE TRIGGER crm_purge_trash_flush AFTER DELETE ON %s REFERENCING OLD TABLE AS crm_purge_deleted '
				   'FOR EACH STATEMENT EXECUTE FUNCTION crm_purge.trash_trigger()', tbl);
END
$$;

CREATE FUNCTION crm_purge._unprotect(tbl regclass, drop_trash boolean) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

-- The partitions of a protected partitioned table get the row trigger from
-- PostgreSQL (it clones row triggers), and their statement triggers here:
-- a DELETE or TRUNCATE naming a partition fires only that partition's.
-- Made at protect, and when a partition is created or attached; a table
-- detached since loses them.
CREATE FUNCTION crm_purge._protect_partitions(tbl regclass) RETURNS void
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

-- Is trigger tg crm_purge's trash trigger of kind (row, flush or
-- no_truncate) as crm_purge makes it: its function, timing, events and
-- transition table, no WHEN but the row trigger's own, enabled, and tied to
-- no extension (whose DROP would take it)?  Known by all that, not by name.
CREATE FUNCTION crm_purge._trash_trigger_intact(tg oid, kind text) RETURNS boolean
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

-- The first table of tbl's partition tree that lacks one of crm_purge's
-- trash triggers as crm_purge made it, or NULL.
CREATE FUNCTION crm_purge._trash_triggers_broken(tbl regclass) RETURNS regclass
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	-- (pg_partition_tree has nothing for a table outside a partition tree)
	SELECT pt.relid FROM (SELECT tbl::regclass AS relid, 0 AS level UNION SELECT t.relid, t.level FROM pg_partition_tree(tbl) t) pt
	CROSS JOIN (VALUES ('row'), ('flush'), ('no_truncate')) w(kind)
	WHERE NOT EXISTS (SELECT FROM pg_trigger tg WHERE tg.tgrelid = pt.relid AND crm_purge._trash_trigger_intact(tg.oid, w.kind))
	ORDER BY pt.level, pt.relid LIMIT 1
$$;

-- _temporary_dependency_from: a temporary object that the objects objs of
-- catalog cls, or what belongs to them (columns, defaults, constraints,
-- indexes, triggers: their auto and internal dependents), depend on at any
-- depth through pg_depend, or NULL.  The session's end (or DISCARD TEMP)
-- drops it with CASCADE, and everything that depends on it: a table's
-- column, through a domain's default, a generated column's function, a
-- range's collation or subtype_diff, a function's BEGIN ATOMIC body, out
-- of reach of every check (review rounds 62 to 64: B62-1, B63-1, B64-1..3).
CREATE FUNCTION crm_purge._temporary_dependency_from(cls oid, objs oid[]) RETURNS text
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

-- _temporary_dependency: _temporary_dependency_from tbl and its partitions
-- (a temporary table itself is refused with words of its own).
CREATE FUNCTION crm_purge._temporary_dependency(tbl regclass) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	SELECT crm_purge._temporary_dependency_from('pg_catalog.pg_class'::regclass,
		ARRAY(SELECT tbl::oid UNION SELECT p.relid FROM pg_partition_tree(tbl) p))
	FROM pg_class c WHERE c.oid = tbl AND c.relpersistence <> 't'
$$;


-- Unprotect removes every unlink trigger it made for the table, and any
-- whose foreign key is gone.
CREATE FUNCTION crm_purge._unprotect_impl(actor regrole, tbl regclass, drop_trash boolean) RETURNS void
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

-- A dropped live column's trash values stay, under another name, so that a
-- column added later under the old name starts empty.
CREATE FUNCTION crm_purge._trash_column_dropped(tbl regclass, col name) RETURNS void
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

CREATE EVENT TRIGGER crm_purge_ddl ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE FOREIGN TABLE', 'CREATE SCHEMA',
				 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER FOREIGN TABLE')
	EXECUTE FUNCTION crm_purge.ddl_trigger();

COMMENT ON FUNCTION crm_purge.trash_trigger() IS 'moves deleted rows of a protected table into its trash (the statement trigger, from its transition table; the row trigger while a bypass is on); refuses TRUNCATE';

COMMENT ON FUNCTION crm_purge._protect_partitions(regclass) IS 'statement triggers on the partitions of a protected partitioned table; removed from tables detached since';

COMMENT ON FUNCTION crm_purge.unlink_trigger() IS 'remembers child rows an ON DELETE SET NULL key unlinked from a protected table';

COMMENT ON FUNCTION crm_purge_protect(regclass, interval) IS 'from now on, DELETE on the table moves rows into crm_trash';

COMMENT ON FUNCTION crm_purge_unprotect(regclass, boolean) IS 'DELETE on the table is permanent again; the trash is kept unless drop_trash';

COMMENT ON FUNCTION crm_purge_restore(regclass, text, text) IS 'moves trashed rows matching the filter back into the table';

COMMENT ON FUNCTION crm_purge_restore_deletion(bigint) IS 'restores everything one deleting statement trashed, parents first';

COMMENT ON FUNCTION crm_purge._trash_row_visible(oid, regrole) IS 'row-level security of trash tables: the deleter or an admin, either with SELECT on the table';

COMMENT ON FUNCTION crm_purge._delete_permanently(regclass, text, text[]) IS 'DELETE as the caller (an admin) whose rows of this table, in this statement only, skip the trash';

-- Citus refuses triggers on distributed tables unless told they are safe:
-- crm_purge's write only the colocated trash shard, on the shard's node.
-- (Without Citus the setting is a placeholder that nothing reads.)
ALTER FUNCTION crm_purge._protect_impl(regrole, regclass, interval) SET citus.enable_unsafe_triggers = on;
ALTER FUNCTION crm_purge._unprotect_impl(regrole, regclass, boolean) SET citus.enable_unsafe_triggers = on;
ALTER FUNCTION crm_purge._protect_partitions(regclass) SET citus.enable_unsafe_triggers = on;
ALTER FUNCTION crm_purge._create_trash_triggers(regclass) SET citus.enable_unsafe_triggers = on;
ALTER FUNCTION crm_purge._create_unlink_triggers(regclass) SET citus.enable_unsafe_triggers = on;
