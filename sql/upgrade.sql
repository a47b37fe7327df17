-- every released version updates to the current one, and the result is the
-- same as a fresh install (later versions add their scripts here)
\set SHOW_CONTEXT never
CREATE DATABASE crm_purge_upgrade;
\c crm_purge_upgrade
SELECT source, target, path FROM pg_extension_update_paths('crm_purge')
WHERE path IS NOT NULL ORDER BY 1, 2;
SELECT name, version FROM pg_available_extension_versions WHERE name = 'crm_purge' ORDER BY 2;
-- a fresh install at each version, then ALTER EXTENSION ... UPDATE
CREATE EXTENSION crm_purge VERSION '1.0';
ALTER EXTENSION crm_purge UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'crm_purge';
-- what the extension owns is the same as after a fresh install
CREATE TEMP TABLE objs_updated AS
	SELECT pg_describe_object(classid, objid, objsubid) AS obj FROM pg_depend
	WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'crm_purge');
DROP EXTENSION crm_purge;
CREATE EXTENSION crm_purge;
SELECT count(*) AS differences FROM (
	(SELECT obj FROM objs_updated EXCEPT
	 SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
	 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'crm_purge'))
	UNION ALL
	(SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
	 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'crm_purge')
	 EXCEPT SELECT obj FROM objs_updated)) d;
SELECT count(*) > 100 AS many_objects FROM objs_updated;
-- DROP EXTENSION keeps the trash: it is user data
CREATE TABLE kept (id int PRIMARY KEY);
INSERT INTO kept VALUES (1), (2);
SELECT crm_purge_protect('kept');
DELETE FROM kept WHERE id = 1;
DROP EXTENSION crm_purge;
DROP EXTENSION crm_purge CASCADE;
SELECT id FROM crm_trash.public__kept;
\c contrib_regression
DROP DATABASE crm_purge_upgrade;
