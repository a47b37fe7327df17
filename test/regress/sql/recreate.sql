-- DROP EXTENSION and CREATE EXTENSION in one session: no cache of the old
-- extension (trash maps, tombstones and their secret, request plans) acts
-- on the new one
\set SHOW_CONTEXT never
CREATE DATABASE crm_purge_recreate;
\c crm_purge_recreate
\set SHOW_CONTEXT never
CREATE EXTENSION crm_purge;
CREATE TABLE a (id int PRIMARY KEY, modified_at timestamptz NOT NULL DEFAULT now() - interval '1 year');
CREATE TABLE b (id int PRIMARY KEY, note text, modified_at timestamptz NOT NULL DEFAULT now() - interval '1 year');
INSERT INTO a SELECT g FROM generate_series(1, 10) g;
INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 10) g;

-- every feature once
SELECT crm_purge_protect('a');
DELETE FROM a WHERE id = 1;
SELECT crm_purge_restore('a', 'id = 1');
SELECT crm_purge_guard('a', 'error');
SELECT crm_purge_erase('a', 'id = 2', 'GDPR');
INSERT INTO a VALUES (2);
SELECT crm_purge_request('a', '30 days', 'delete_only', filter => 'id > 8');
SELECT crm_purge_tick() ->> 'request_rows' AS request_rows;

-- and again, on a new extension, in the same session
DROP EXTENSION crm_purge CASCADE;
CREATE EXTENSION crm_purge;
-- request 1 is now on table b: the plan of a's request 1 must not run
SELECT crm_purge_request('b', '30 days', 'delete_only', filter => 'id > 8');
SELECT crm_purge_tick() ->> 'request_rows' AS request_rows;
SELECT (SELECT count(*) FROM a) AS a_rows, (SELECT count(*) FROM b) AS b_rows;
-- a's trash is kept by DROP EXTENSION and protected again
SELECT crm_purge_protect('a');
DELETE FROM a WHERE id = 3;
SELECT id FROM crm_trash.public__a ORDER BY id;
SELECT crm_purge_restore('a', 'id = 3');
-- the old tombstones (and their secret) went with the old extension: key 2
-- may come back; a new erase tombstones under the new secret
INSERT INTO a VALUES (2);
SELECT crm_purge_guard('a', 'error');
SELECT crm_purge_erase('a', 'id = 4', 'GDPR');
INSERT INTO a VALUES (4);
SELECT count(*) AS tombstones FROM crm_purge.tombstones;
\c contrib_regression
DROP DATABASE crm_purge_recreate;
