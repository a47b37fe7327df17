-- 06_erase: erasure, cascade rules, lists, tombstones, the guard, legal holds

CREATE FUNCTION crm_purge._new_secret() RETURNS bytea
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_new_secret';

CREATE FUNCTION crm_purge._key_hash(key text) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_key_hash_sql';

CREATE FUNCTION crm_purge._tombstones_changed() RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_tombstones_changed';

CREATE FUNCTION crm_purge._parts_with_keys(tbl regclass, keys text[], key_columns text[])
	RETURNS TABLE (request_id bigint, part integer)
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_parts_with_keys';

CREATE FUNCTION crm_purge.guard_trigger() RETURNS trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_guard_trigger';

CREATE FUNCTION crm_purge._ensure_secret() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO crm_purge.secret (secret) VALUES (crm_purge._new_secret()) ON CONFLICT DO NOTHING
$$;

-- Key columns as an SQL expression giving the key's text: col::text, or
-- ROW(a, b)::text for several.  Tombstones hash this text.
CREATE FUNCTION crm_purge._key_expr(tbl regclass, cols int2[]) RETURNS text
	LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'crm_purge_key_expr_sql';

-- "the key text of cols is one of $1", also on the column itself (which
-- its index serves) for one column of an integer, text or uuid type; the
-- keys are texts of values of src_type
CREATE FUNCTION crm_purge._key_match(tbl regclass, cols int2[], src_type regtype) RETURNS text
	LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'crm_purge_key_match_sql';

CREATE FUNCTION crm_purge._pk_cols(tbl regclass) RETURNS int2[]
	LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'crm_purge_pk_cols_sql';

CREATE FUNCTION crm_purge._col_names(tbl regclass, cols int2[]) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT array_agg(a.attname::text ORDER BY k.ord)
	FROM unnest(cols) WITH ORDINALITY k(attnum, ord)
	JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.attnum
$$;

CREATE FUNCTION crm_purge_relate(parent regclass, child regclass, on_erase text,
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

-- The condition as evaluated: checked, with pg_catalog's operators.
CREATE FUNCTION crm_purge._check_condition(child regclass, condition text) RETURNS text
	LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'crm_purge_check_condition_sql';

-- The child's columns of a relation without a foreign key, as numbers.
CREATE FUNCTION crm_purge._attnums(tbl regclass, cols name[]) RETURNS int2[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT array_agg(a.attnum ORDER BY c.o)::int2[]
	FROM unnest(cols) WITH ORDINALITY AS c(n, o)
	JOIN pg_attribute a ON a.attrelid = tbl AND a.attname = c.n AND a.attnum > 0 AND NOT a.attisdropped
$$;

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

-- SET list that unlinks (and with anonymize, anonymizes) rows of child
-- referencing their parent through the columns cols.  With hashes (a
-- parameter, in a table owner's write), a 'hash' rule's value is read from
-- it: its values in attnum order per row ordinal crm_purge_u.crm_purge_ord.
-- With checks (and hashes), instead, the condition that a written row
-- crm_purge_t carries those values: a child's trigger may have kept them.
CREATE FUNCTION crm_purge._child_assignments(child regclass, cols int2[], anonymize boolean, hashes text DEFAULT NULL,
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

CREATE FUNCTION crm_purge._erase_top(tbl regclass, cond text, keys text[], reason text) RETURNS bigint
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

-- Citus: the guard of a distributed table runs on the worker nodes, which
-- have neither the coordinator's tombstones nor its secret.  Both are
-- copied into reference tables (on every node, changed in the same
-- distributed transaction): crm_trash.crm_purge_tombstones by the table's
-- smallest shard id, crm_trash.crm_purge_secret.  hashes: those to add (or with forget,
-- remove); NULL: all of the table's again.  As the extension owner.
CREATE FUNCTION crm_purge._citus_tombstones(tbl regclass, hashes bigint[], forget boolean) RETURNS void
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

-- Citus: the secret on every node before a hold is made (the coordinator
-- tags a role's column changes with it, which a worker node then lets
-- through: src/citus.c); before the hold's filter is tried, as no schema
-- is made after a distributed read.  As the extension owner.
CREATE FUNCTION crm_purge._citus_secret_everywhere(tbl regclass) RETURNS void
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

-- A partition of a protected or guarded table is worked on through that
-- table: its trash, tombstones and holds are the table's.
CREATE FUNCTION crm_purge._check_not_partition(action text, tbl regclass) RETURNS void
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

CREATE FUNCTION crm_purge._check_erase_args(action text, tbl regclass, filter text) RETURNS void
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

CREATE FUNCTION crm_purge_erase(tbl regclass, filter text, reason text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM crm_purge._mark_foreign_work();
	PERFORM crm_purge._check_erase_args('crm_purge_erase', tbl, filter);
	RETURN crm_purge._erase_top(tbl, filter, NULL, reason);
END
$$;

CREATE FUNCTION crm_purge._erase_preview(tbl regclass, filter text)
RETURNS TABLE (t regclass, a text, n bigint)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM crm_purge._mark_foreign_work();
	PERFORM crm_purge._check_erase_args('crm_purge_erase_preview', tbl, filter);
	RETURN QUERY SELECT e.t, e.a, sum(e.n)::bigint FROM crm_purge._erase(tbl, filter, NULL, true, 0) e
		GROUP BY e.t, e.a ORDER BY bool_or(e.a = 'erase') DESC, e.t::text, e.a;
END
$$;

CREATE FUNCTION crm_purge_erase_preview(tbl regclass, filter text)
RETURNS TABLE (tbl regclass, action text, rows bigint)
LANGUAGE sql AS $$ SELECT * FROM crm_purge._erase_preview($1, $2) $$;

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

-- crm_purge_delete_keys for a primary key of several columns.  The rows
-- are picked by their key text, then deleted by their typed key columns (a
-- DELETE on Citus may compare no key text, a STABLE function of columns).
CREATE FUNCTION crm_purge._delete_row_keys(tbl regclass, keys text[], permanent boolean)
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

CREATE FUNCTION crm_purge_delete_where(tbl regclass, filter text, permanent boolean DEFAULT false,
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

CREATE FUNCTION crm_purge_guard(tbl regclass, mode text DEFAULT 'skip', key_columns name[] DEFAULT NULL) RETURNS void
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

-- key_columns: NULL, or distinct columns of the table (at most 32).
CREATE FUNCTION crm_purge._check_key_columns(tbl regclass, key_columns name[]) RETURNS void
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

-- A hold's filter, tried as its checks will run it: as the caller (a
-- superuser's as the table's owner), with the search_path and settings
-- they run under (crm_purge_as_filter_creator).
CREATE FUNCTION crm_purge._try_hold_filter_query(tbl regclass, filter text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- the filter must work on the table (and so on its trash)
	EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s WHERE (%s%s) LIMIT 1) s', tbl, filter, E'\n');
END
$$;

CREATE FUNCTION crm_purge._try_hold_filter(tbl regclass, filter text) RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_as_filter_creator';

CREATE FUNCTION crm_purge_hold(tbl regclass, filter text, until date, reason text) RETURNS bigint
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

CREATE FUNCTION crm_purge_release(hold_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM crm_purge._check_admin('crm_purge_release');
	IF hold_id IS NULL THEN
		RAISE EXCEPTION 'hold_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm_purge._release(hold_id);
END
$$;

CREATE FUNCTION crm_purge._hold_keeping(tbl regclass, keys text[]) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_hold_keeping';

CREATE FUNCTION crm_purge._forget_unlinks(tbl regclass, ids bigint[], nums bigint[]) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_forget_unlinks';

CREATE FUNCTION crm_purge._forget_orphan_unlinks(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_forget_orphan_unlinks';

CREATE FUNCTION crm_purge._hold_keeping_cols(tbl regclass, cols int2[], keys text[], key_type regtype) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_hold_keeping_cols';

CREATE FUNCTION crm_purge._live_now(tbl regclass, keys text[]) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_live_now';

-- A table a rule may name (crm_purge_relate, crm_purge_anonymize): a
-- user's table, not a partition (its tombstones and trash are its
-- partitioned table's), not a trash, a catalog of crm_purge's or of the
-- server, nor an extension's (an erase, run by a superuser too, writes it;
-- review round 47, B47-5 to B47-8).  Checked again by the erase.
CREATE FUNCTION crm_purge._check_rule_table(tbl regclass) RETURNS void
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

CREATE FUNCTION crm_purge._set_relation(parent regclass, child regclass, on_erase text,
										child_columns name[], condition text) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._set_relation_impl(actor regrole, parent regclass, child regclass, on_erase text,
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

CREATE FUNCTION crm_purge._set_anonymize(tbl regclass, col name, strategy text) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._set_anonymize_impl(actor regrole, tbl regclass, col name, strategy text) RETURNS void
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

CREATE FUNCTION crm_purge._trash_apply(tbl regclass, cols int2[], keys text[], action text, con oid, parent regclass,
										unlinked text[] DEFAULT NULL)
	RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

-- Child rows in the trash: through foreign key con, or (con NULL) through
-- the relation of parent without a foreign key, whose condition applies.
CREATE FUNCTION crm_purge._trash_apply_impl(actor regrole, tbl regclass, cols int2[], keys text[], action text,
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

CREATE FUNCTION crm_purge._erased(tbl regclass, keys text[], natural_keys text[], depth integer) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

-- What a natural key's tombstone hashes: never equal to a primary key's text.
CREATE FUNCTION crm_purge._natural_key_text(k text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	SELECT 'natural key' || chr(31) || k
$$;

-- As the caller, before the tombstones: no row with one of the keys is
-- live, under the newest snapshot (the erase's last check: a row its
-- REPEATABLE READ snapshot could not see; called by itself, _erased would
-- record the erasure of a live row).
CREATE FUNCTION crm_purge._erased_check(tbl regclass, keys text[], natural_keys text[], depth integer) RETURNS void
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

-- The sequences of a table's columns raised past its erased keys (as the
-- extension owner, in the erase's transaction).
CREATE FUNCTION crm_purge._raise_key_sequences(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_raise_key_sequences';

-- Returns the export parts of the table that still hold the keys.
CREATE FUNCTION crm_purge._erased_impl(actor regrole, tbl regclass, keys text[], natural_keys text[], depth integer) RETURNS text[]
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

CREATE FUNCTION crm_purge._lock_trash_rows(tbl regclass, ids bigint[], nums bigint[]) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._lock_trash_rows_impl(actor regrole, tbl regclass, ids bigint[], nums bigint[]) RETURNS void
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
CREATE FUNCTION crm_purge._record_erasure(tbl regclass, keys text[], reason text, parts text[]) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._record_erasure_impl(actor regrole, tbl regclass, keys text[], reason text, parts text[])
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

-- _fk_action_holds: an error when a foreign key's own action (ON DELETE
-- CASCADE, SET NULL, SET DEFAULT) on the rows of tbl matching cond ($1 =
-- keys), or on the rows that cascade from them at any depth (through tables
-- crm_purge knows nothing of, and back through tbl itself: a tree), would
-- delete or change a row a legal hold keeps.  verb ('erase', 'delete') and
-- top, the table named, are for the message.
-- _erase_cascade_trash: an error when ON DELETE CASCADE from the rows of
-- tbl matching cond ($1 = keys) would move rows of a protected table into
-- its trash, where the erase does not reach them: through a table that is
-- not protected, at any depth, or a protected table's reference to itself
-- (rows that are not erased with them).  A protected table's protected
-- children are the erase's own (_erase).
CREATE FUNCTION crm_purge._erase_cascade_trash(top regclass, tbl regclass, cond text, keys text[], depth integer)
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

-- A table with holds that a foreign key's action reaches, kept from writers
-- to the transaction's end (a row inserted there under a hold commits first).
CREATE FUNCTION crm_purge._lock_held(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_lock_held';

-- The rows of tbl matching cond ($1 = keys) go (changed NULL), or have
-- their columns changed (changed: a SET NULL's, an erase's unlink): the
-- rows of other tables that foreign keys' own actions reach from them, at
-- any depth, ON DELETE CASCADE, SET NULL or SET DEFAULT, and past a change
-- ON UPDATE CASCADE, SET NULL or SET DEFAULT of the changed columns.  A
-- held one refuses, naming its hold.
CREATE FUNCTION crm_purge._fk_action_holds(verb text, top regclass, tbl regclass, cond text, keys text[], depth integer,
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

-- The text of a key's columns as an array, each by its type's output
-- function: as crm_purge.unlinks records a child's key and its reference.
CREATE FUNCTION crm_purge._text_array_expr(tbl regclass, cols int2[]) RETURNS text
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

-- The keys (as _text_array_expr writes them) of child rows that foreign
-- key con unlinked from parent rows, now trashed, that referenced one of
-- parent_refs: an erase of those parents reaches them by their rule
-- (review round 43, B43-4).  crm_purge.unlinks is the extension's.
CREATE FUNCTION crm_purge._unlinked_children(child regclass, con name, parent_refs text[]) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._unlinked_children_impl(actor regrole, child regclass, con name, parent_refs text[])
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

CREATE FUNCTION crm_purge._erase(tbl regclass, cond text, keys text[], dry_run boolean, depth integer)
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

-- The keys, as text, of tbl's rows and trashed copies (trash tr) equal to
-- those of the rows the filter selects, live or trashed, but written
-- otherwise (numeric 1 and 1.0, float 0 and -0, 'a' and 'A' under a
-- case-insensitive collation): the same record for its primary key, whose
-- equality finds them (a live one is then refused as an erased key's, as
-- an integer's is: review round 46, B46-6).  NULL for keys of one text
-- per value.
CREATE FUNCTION crm_purge._equal_trash_keys(tbl regclass, tr regclass, cond text, keys text[]) RETURNS text[]
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

-- Citus: Citus refuses two roles changing the shards of one colocated group
-- in one transaction, and the table owner's code (triggers, constraints)
-- must not run as the superuser.  So every change is the extension
-- owner's, and the worker nodes run the changes to the tables as their
-- owner (crm_purge.citus_run_as), as a restore's.  First, as the caller and
-- before any change (_check): a dry run (rules, legal holds), the keys the
-- filter selects, live and trashed, and those of the children; then, as the
-- extension owner (_impl): the caller's rights again, tombstones (holds
-- checked again) in the catalogs and the reference tables; then
-- (_citus_erase_rows): the rows, which the cascade and the shards' triggers
-- move into the trash, and every trash copy of the keys no hold keeps.
-- Erase rules on Citus: keep, or delete by ON DELETE CASCADE on the primary
-- key for children of the same owner.  Returns the erase's rows as jsonb.
CREATE FUNCTION crm_purge._citus_erase(tbl regclass, cond text, keys text[]) RETURNS jsonb
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._citus_erase_check(tbl regclass, cond text, keys text[]) RETURNS jsonb
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

-- The columns of tbl's guard's natural key, or NULL.
CREATE FUNCTION crm_purge._natural_attnums(tbl regclass) RETURNS int2[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT ARRAY(SELECT a.attnum FROM crm_purge.guards g
				 CROSS JOIN LATERAL unnest(g.key_columns) WITH ORDINALITY AS c(n, o)
				 JOIN pg_attribute a ON a.attrelid = g.tbl AND a.attname = c.n
				 WHERE g.tbl = _natural_attnums.tbl ORDER BY c.o)::int2[]
	WHERE EXISTS (SELECT FROM crm_purge.guards g WHERE g.tbl = _natural_attnums.tbl AND g.key_columns IS NOT NULL)
$$;

-- Citus: the key text of cols (NULL: none, '{}') of the rows of tbl and of
-- its trash tr whose primary keys are keys.
CREATE FUNCTION crm_purge._citus_keys_of(tbl regclass, tr regclass, cols int2[], keys text[]) RETURNS text[]
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

-- Citus: the primary keys of the rows of child (and of its trash ctr) that
-- reference the rows of tbl (and of its trash tr) with primary keys keys,
-- through every foreign key of child to tbl ON DELETE CASCADE, as _erase
-- follows them.  Run as the caller in the check and as the owner before
-- the deletes: the same answer, or the erase stops.
CREATE FUNCTION crm_purge._citus_child_keys(tbl regclass, tr regclass, child regclass, ctr regclass, keys text[])
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

CREATE FUNCTION crm_purge._citus_erase_impl(actor regrole, tbl regclass, cond text, keys text[], plan jsonb)
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

-- Citus: an admin's delete into the trash of rows of a distributed table
-- (crm_purge_delete_keys, crm_purge_delete_where): by key, as the
-- extension owner, the worker nodes running it as the table's owner, as a
-- restore's inserts run: the owner's code (shard triggers, expressions)
-- never runs with the admin's rights there.  Returns the keys deleted
-- (key_column's text, or the primary key's, crm_purge._key_expr).
CREATE FUNCTION crm_purge._citus_delete(tbl regclass, key_column name, keys text[]) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._citus_delete_check(tbl regclass, key_column name, keys text[]) RETURNS void
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

CREATE FUNCTION crm_purge._citus_delete_impl(actor regrole, tbl regclass, key_column name, keys text[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN crm_purge._citus_delete_rows_as_owner(tbl, key_column, keys);
END
$$;

CREATE FUNCTION crm_purge._citus_delete_rows_as_owner(tbl regclass, key_column name, keys text[]) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_as_table_owner';

CREATE FUNCTION crm_purge._citus_delete_rows(tbl regclass, key_column name, keys text[]) RETURNS text[]
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

CREATE FUNCTION crm_purge._citus_held_watch(tbl regclass, before text[], own boolean DEFAULT true) RETURNS text[]
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_citus_held_watch';

CREATE FUNCTION crm_purge._citus_erase_rows_as_owner(tbl regclass, subject text[], plan jsonb) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_as_table_owner';

-- As the extension owner, the worker nodes running it as the table's owner
-- but the removal of trash rows: the table and its children locked; the
-- children's keys found again (a row written since the check stops the
-- erase); the rows of these keys deleted (the cascade and the shards'
-- triggers move them and their children into the trash), then every copy
-- of them and of the children's keys in the trash that no legal hold keeps;
-- last, no row of an erased key, natural key included, may be left.
-- Returns the live rows deleted.
CREATE FUNCTION crm_purge._citus_erase_rows(tbl regclass, subject text[], plan jsonb) RETURNS bigint
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

-- The rows of tbl (or, with tr, of its trash) with these keys, deleted, or
-- counted: picked by their key text, deleted by their typed key columns
-- (Citus compares no key text, a STABLE function of columns, in a DELETE),
-- trash rows by their names.
CREATE FUNCTION crm_purge._citus_drop_keys(tbl regclass, tr regclass, keys text[], count_only boolean DEFAULT false)
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

CREATE FUNCTION crm_purge._guard(tbl regclass, mode text, key_columns name[]) RETURNS void
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

-- The trigger's arguments: the mode, then the natural key's columns.
-- a domain's base type, through every level
CREATE FUNCTION crm_purge._base_type(t oid) RETURNS oid
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE d(o, base) AS (SELECT y.oid, y.typbasetype FROM pg_type y WHERE y.oid = t
		UNION ALL SELECT y.oid, y.typbasetype FROM d JOIN pg_type y ON y.oid = d.base WHERE d.base <> 0)
	SELECT o FROM d WHERE base = 0
$$;

-- The guard's trigger: its arguments are the mode, then the natural key's
-- columns, by name.
CREATE FUNCTION crm_purge._guard_trigger(tbl regclass, mode text, key_columns name[]) RETURNS void
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

-- A column renamed (ddl_trigger, as the extension owner): the rules that
-- name it (a guard's natural key, an anonymize rule, a relation's child
-- columns) follow it, on the table and the tables below it, which the
-- rename reached too.  Kept by name, they would match nothing (review
-- round 37, B37-2, B37-3).
CREATE FUNCTION crm_purge._column_renamed(actor regrole, tbl regclass, old_name name, new_name name) RETURNS void
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

CREATE FUNCTION crm_purge._guard_impl(actor regrole, tbl regclass, mode text, key_columns name[]) RETURNS void
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

CREATE FUNCTION crm_purge._guard_skipped(tbl regclass) RETURNS bigint
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_guard_skipped';

-- Guarded tables and the rows each guard dropped (mode skip) since the server started.
-- (as the caller: a plain view of one table is updatable, and
-- pg_write_all_data deleted guards through its owner's rights)
CREATE VIEW crm_purge_guards WITH (security_invoker = true) AS
	SELECT g.tbl AS "table", g.mode, g.key_columns, crm_purge._guard_skipped(g.tbl) AS skipped_rows
	FROM crm_purge.guards g
	WHERE pg_catalog.has_table_privilege(g.tbl, 'SELECT');

CREATE FUNCTION crm_purge._forget(tbl regclass, key text) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._forget_impl(actor regrole, tbl regclass, key text) RETURNS bigint
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

CREATE FUNCTION crm_purge._hold(tbl regclass, filter text, until date, reason text) RETURNS bigint
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_privileged';

CREATE FUNCTION crm_purge._hold_impl(actor regrole, tbl regclass, filter text, until date, reason text) RETURNS bigint
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

-- The exclusive lock on a table's holds, for a hold being made (holds.c).
-- Does crm_purge._key_match find the rows of child whose columns ccols
-- hold the keys of parent's columns pcols given as text?  Yes for columns
-- of one type and typmod; for one column, also within the families it
-- compares typed (integers, text and varchar, uuid); not otherwise (1 and
-- 1.0, 'ab' and 'ab  ' are one value written two ways).
CREATE FUNCTION crm_purge._keys_comparable(child regclass, ccols int2[], parent regclass, pcols int2[]) RETURNS boolean
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

CREATE FUNCTION crm_purge._has_holds(tbl regclass) RETURNS boolean
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_has_holds_sql';

CREATE FUNCTION crm_purge._any_hold() RETURNS boolean
	LANGUAGE C AS 'MODULE_PATHNAME', 'crm_purge_any_hold';

CREATE FUNCTION crm_purge._lock_holds(tbl regclass) RETURNS void
	LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'crm_purge_lock_holds_sql';

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

-- Key text (what tombstones hash and export parts hold) never depends on
-- the session's settings: the guard pins the same ones in C.
ALTER FUNCTION crm_purge._citus_erase_check(regclass, text, text[])
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';
ALTER FUNCTION crm_purge._erase(regclass, text, text[], boolean, integer)
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';
ALTER FUNCTION crm_purge._equal_trash_keys(regclass, regclass, text, text[])
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';

ALTER FUNCTION crm_purge._erase_top(regclass, text, text[], text)
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';

ALTER FUNCTION crm_purge_delete_keys(regclass, text[], boolean, name)
	SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 3 SET bytea_output = 'hex' SET TimeZone = 'UTC' SET lc_monetary = 'C';

-- Filters, and the erase's own SQL around them, resolve names with
-- search_path = pg_catalog, pg_temp, as every filter does: no schema on the
-- caller's path picks an operator or function in them.
ALTER FUNCTION crm_purge._erase(regclass, text, text[], boolean, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge._citus_erase_check(regclass, text, text[]) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge._erase_top(regclass, text, text[], text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge._erase_preview(regclass, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge_erase(regclass, text, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge_erase_preview(regclass, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge_delete_keys(regclass, text[], boolean, name) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge_delete_where(regclass, text, boolean, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION crm_purge._mark(text, regclass, text, boolean) SET search_path = pg_catalog, pg_temp;

COMMENT ON VIEW crm_purge_guards IS 'guarded tables, their key columns, and the rows each guard skipped since the server started';

COMMENT ON FUNCTION crm_purge.guard_trigger() IS 'drops or refuses INSERTs of erased keys';

COMMENT ON FUNCTION crm_purge_relate(regclass, regclass, text, name[], text) IS 'what an erase of a parent does to its child rows';

COMMENT ON FUNCTION crm_purge_anonymize(regclass, name, text) IS 'how a column is anonymized when an erase cascades with anonymize';

COMMENT ON FUNCTION crm_purge_erase(regclass, text, text) IS 'permanent erasure (GDPR): live rows, trash copies, cascade rules, tombstones';

COMMENT ON FUNCTION crm_purge_erase_preview(regclass, text) IS 'what crm_purge_erase would do to each table, without doing it';

COMMENT ON FUNCTION crm_purge_delete_keys(regclass, text[], boolean, name) IS 'deletion by list: deleted, not_found or duplicate_in_list per key';

COMMENT ON FUNCTION crm_purge_delete_where(regclass, text, boolean, boolean) IS 'deletion by targeting; dry_run counts only';

COMMENT ON FUNCTION crm_purge_guard(regclass, text, name[]) IS 'INSERTs and UPDATEs to erased keys (primary, and a natural key when given) are dropped (skip) or refused (error)';

COMMENT ON FUNCTION crm_purge_forget(regclass, text) IS 'lifts the tombstone of one erased key';

COMMENT ON FUNCTION crm_purge_hold(regclass, text, date, text) IS 'legal hold: matching rows survive requests, policies, trash expiry and erasure';

COMMENT ON FUNCTION crm_purge_release(bigint) IS 'ends a legal hold';

COMMENT ON FUNCTION crm_purge._hold_keeping(regclass, text[]) IS 'the first legal hold that keeps a row with one of these keys; each hold''s filter runs as its creator';

COMMENT ON FUNCTION crm_purge._fk_action_holds(text, regclass, regclass, text, text[], integer, int2[]) IS 'an error when a foreign key''s own action, at any depth, would delete or change a held row (erase)';
COMMENT ON FUNCTION crm_purge._live_now(regclass, text[]) IS 'live rows with these keys under the newest snapshot (erase''s last check)';

-- Citus: the guard trigger reaches every shard (see 03_recycle_bin.sql)
ALTER FUNCTION crm_purge._guard_impl(regrole, regclass, text, name[]) SET citus.enable_unsafe_triggers = on;
ALTER FUNCTION crm_purge._guard_impl(regrole, regclass, text, name[]) SET quote_all_identifiers = off;
ALTER FUNCTION crm_purge._guard_trigger(regclass, text, name[]) SET citus.enable_unsafe_triggers = on;
