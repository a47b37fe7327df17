-- every released version updates to the current one, the result is the same
-- as a fresh install, and the data made under the old version is intact
\set SHOW_CONTEXT never
CREATE DATABASE crm_purge_upgrade;
CREATE DATABASE crm_purge_fresh;
\c crm_purge_upgrade
SELECT source, target, path FROM pg_extension_update_paths('crm_purge')
WHERE path IS NOT NULL ORDER BY 1, 2;
SELECT name, version FROM pg_available_extension_versions WHERE name = 'crm_purge' ORDER BY 2;

-- 1.0 with data: protected tables, trash, a request, a hold, tombstones, a policy
CREATE EXTENSION crm_purge VERSION '1.0';
CREATE ROLE regress_up_app LOGIN;
CREATE ROLE regress_up_admin LOGIN IN ROLE crm_purge_admin;
CREATE DOMAIN up_email AS text CHECK (VALUE LIKE '%@%');
CREATE TABLE up_people (id int PRIMARY KEY, email up_email, modified_at timestamptz NOT NULL DEFAULT now());
INSERT INTO up_people SELECT g, 'p' || g || '@x.org', now() - interval '1 year' FROM generate_series(1, 20) g;
GRANT SELECT, INSERT, DELETE ON up_people TO regress_up_app, regress_up_admin;
SELECT crm_purge_protect('up_people');
SET ROLE regress_up_app;
DELETE FROM up_people WHERE id <= 3;
RESET ROLE;
SELECT crm_purge_request('up_people', '30 days', 'delete_only', filter => 'id > 15');
SELECT crm_purge_hold('up_people', 'id = 20', NULL, 'litigation');
SELECT crm_purge_guard('up_people', 'error');
-- the 1.1 library refuses 1.0's trash bypass until the update: no erase now
SELECT crm_purge_erase('up_people', 'id = 10', 'GDPR 1');
-- a tombstone as 1.0 wrote it
SELECT crm_purge._ensure_secret();
DELETE FROM up_people WHERE id = 10;
DELETE FROM crm_trash.public__up_people WHERE id = 10;
INSERT INTO crm_purge.tombstones (tbl, key_hash) VALUES ('up_people', crm_purge._key_hash('10'));
INSERT INTO crm_purge.policies (tbl, older_than, schedule, mode, modified_column)
	VALUES ('up_people', '90 days', '0 3 * * *', 'delete_only', 'modified_at');
-- a trash column of a domain over a domain: the update gave it the inner
-- domain, and rewriting the trash ran that domain's CHECK, the owner's
-- code, as the superuser updating (review round 56, A56-1)
CREATE SCHEMA up_own AUTHORIZATION regress_up_app;
SET ROLE regress_up_app;
CREATE FUNCTION up_own.watch(v text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		RAISE WARNING 'the owner''s domain check ran as a superuser';
	END IF;
	RETURN true;
END $$;
CREATE DOMAIN up_own.d1 AS text CHECK (up_own.watch(VALUE));
CREATE DOMAIN up_own.d2 AS up_own.d1;
CREATE TABLE up_own.nested (id int PRIMARY KEY, v up_own.d2);
INSERT INTO up_own.nested VALUES (1, 'a'), (2, 'b');
-- and a domain over a domain over the owner's range: the trash column kept
-- its statistics, and ANALYZE of the trash ran the range's subtype_diff as
-- the worker's superuser (A56-1, second path)
CREATE FUNCTION up_own.rdiff(a float8, b float8) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		RAISE WARNING 'the owner''s subtype_diff ran as a superuser';
	END IF;
	RETURN a - b;
END $$;
CREATE TYPE up_own.frange AS RANGE (subtype = float8, subtype_diff = up_own.rdiff);
CREATE DOMAIN up_own.r1 AS up_own.frange;
CREATE DOMAIN up_own.r2 AS up_own.r1;
CREATE TABLE up_own.spans (id int PRIMARY KEY, span up_own.r2);
INSERT INTO up_own.spans SELECT g, up_own.frange(g, g + 1) FROM generate_series(1, 200) g;
RESET ROLE;
SELECT crm_purge_protect('up_own.nested') IS NOT NULL AS protected;
SELECT crm_purge_protect('up_own.spans') IS NOT NULL AS protected;
SET ROLE regress_up_app;
DELETE FROM up_own.nested WHERE id = 1;
DELETE FROM up_own.spans WHERE id <= 150;
RESET ROLE;

ALTER EXTENSION crm_purge UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'crm_purge';
SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = 'crm_trash.up_own__nested_s0'::regclass AND a.attname = 'v';
SELECT a.attrelid::regclass, format_type(a.atttypid, a.atttypmod), a.attstattarget FROM pg_attribute a
WHERE a.attrelid IN ('crm_trash.up_own__spans'::regclass, 'crm_trash.up_own__spans_s0'::regclass) AND a.attname = 'span'
ORDER BY 1;
ANALYZE crm_trash.up_own__spans;

-- the data is intact, and identities are role OIDs now
SELECT id, email, deleted_by, pg_typeof(deleted_by) FROM crm_trash.public__up_people ORDER BY id;
-- the trash is in segments now: the old table, sealed, and a new one for writes
SELECT c.relkind, pg_get_partkeydef(c.oid) FROM pg_class c WHERE c.oid = 'crm_trash.public__up_people'::regclass;
SELECT leaf, segment, sealed_at IS NOT NULL AS sealed, pg_describe_object(classid, objid, 0) AS member
FROM crm_purge.trash_segments g LEFT JOIN pg_depend d ON d.objid = g.leaf AND d.deptype = 'e' ORDER BY segment;
SELECT tableoid::regclass, id FROM crm_trash.public__up_people ORDER BY id;
-- every segment has row-level security on, the old trash too: named
-- directly, it takes no pg_write_all_data role's writes (review round 56, A56-3)
SELECT c.relname, c.relrowsecurity FROM pg_class c
WHERE c.relnamespace = 'crm_trash'::regnamespace AND c.relkind = 'r' ORDER BY 1;
SELECT count(*) FROM up_people;
SELECT tbl, rows, status, created_by FROM crm_purge.requests;
SELECT filter, reason, created_by FROM crm_purge.holds;
SELECT count(*) AS tombstones FROM crm_purge.tombstones;
SELECT tbl, older_than, created_by FROM crm_purge.policies;
SELECT action, table_name, rows FROM crm_purge.history ORDER BY id;
-- and it all still works: the updated trash, restore by the deleter, the
-- request (the hold keeps id 20), the guard
SET ROLE regress_up_app;
SELECT crm_purge_restore('up_people', 'id = 1');
RESET ROLE;
SET ROLE regress_up_admin;
SELECT crm_purge_tick() ->> 'request_rows' AS request_rows;
RESET ROLE;
SELECT id FROM up_people WHERE id > 15 ORDER BY id;
INSERT INTO up_people (id, email) VALUES (10, 'back@x.org');

-- what the extension owns, how each function is defined and who may run
-- it, and the catalogs' columns: the same as a fresh install
CREATE TEMP VIEW ext_shape AS
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS item FROM pg_depend
	WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'crm_purge')
	UNION ALL
	SELECT format('function %s %s %s %s', p.oid::regprocedure, p.prosecdef, p.proacl,
				  md5(pg_get_functiondef(p.oid)))
	FROM pg_proc p WHERE p.pronamespace = 'crm_purge'::regnamespace OR p.proname LIKE 'crm\_purge\_%'
	UNION ALL
	SELECT format('column %s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
				  a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
	WHERE c.relnamespace = 'crm_purge'::regnamespace AND c.relkind = 'r'
	UNION ALL
	SELECT format('acl %s %s %s', c.relname, c.relacl, c.relrowsecurity)
	FROM pg_class c WHERE c.relnamespace = 'crm_purge'::regnamespace;
\copy (SELECT item FROM ext_shape ORDER BY 1) TO '/tmp/crm_purge_upgrade_shape.txt'
\c crm_purge_fresh
CREATE EXTENSION crm_purge;
CREATE TEMP TABLE updated (item text);
\copy updated FROM '/tmp/crm_purge_upgrade_shape.txt'
CREATE TEMP VIEW ext_shape AS
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS item FROM pg_depend
	WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'crm_purge')
	UNION ALL
	SELECT format('function %s %s %s %s', p.oid::regprocedure, p.prosecdef, p.proacl,
				  md5(pg_get_functiondef(p.oid)))
	FROM pg_proc p WHERE p.pronamespace = 'crm_purge'::regnamespace OR p.proname LIKE 'crm\_purge\_%'
	UNION ALL
	SELECT format('column %s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
				  a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
	WHERE c.relnamespace = 'crm_purge'::regnamespace AND c.relkind = 'r'
	UNION ALL
	SELECT format('acl %s %s %s', c.relname, c.relacl, c.relrowsecurity)
	FROM pg_class c WHERE c.relnamespace = 'crm_purge'::regnamespace;
SELECT 'only after update' AS side, item FROM (SELECT item FROM updated EXCEPT SELECT item FROM ext_shape) d
UNION ALL
SELECT 'only in fresh', item FROM (SELECT item FROM ext_shape EXCEPT SELECT item FROM updated) d
ORDER BY 1, 2;
SELECT count(*) > 150 AS many_items FROM updated;
DROP VIEW ext_shape;
-- DROP EXTENSION keeps the trash: it is user data
CREATE TABLE kept (id int PRIMARY KEY);
INSERT INTO kept VALUES (1), (2);
SELECT crm_purge_protect('kept');
DELETE FROM kept WHERE id = 1;
DROP EXTENSION crm_purge;
DROP EXTENSION crm_purge CASCADE;
SELECT id FROM crm_trash.public__kept;
-- 1.0 where no table was ever protected (no crm_trash schema yet): the
-- update went through only with one
\c contrib_regression
CREATE DATABASE crm_purge_upgrade_empty;
\c crm_purge_upgrade_empty
CREATE EXTENSION crm_purge VERSION '1.0';
ALTER EXTENSION crm_purge UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'crm_purge';
\c contrib_regression
DROP DATABASE crm_purge_upgrade_empty;
DROP DATABASE crm_purge_upgrade;
DROP DATABASE crm_purge_fresh;
DROP ROLE regress_up_app, regress_up_admin;
