\set SHOW_CONTEXT never
-- partitions: a partitioned table protected as a whole.  The owner is a
-- non-superuser admin; the application (no admin) deletes.
CREATE DATABASE crm_purge_parts;
\c crm_purge_parts
\set SHOW_CONTEXT never
CREATE EXTENSION crm_purge;
CREATE ROLE regress_pt_owner LOGIN IN ROLE crm_purge_admin;
CREATE ROLE regress_pt_app LOGIN;
CREATE SCHEMA pt AUTHORIZATION regress_pt_owner;
GRANT USAGE ON SCHEMA pt TO PUBLIC;
SET ROLE regress_pt_owner;
CREATE TABLE pt.events (id int, month date, body text, PRIMARY KEY (id, month)) PARTITION BY RANGE (month);
CREATE TABLE pt.events_2026_01 PARTITION OF pt.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE pt.events_2026_02 PARTITION OF pt.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
GRANT SELECT, INSERT, DELETE ON pt.events TO regress_pt_app;
INSERT INTO pt.events SELECT g, date '2026-01-01' + (g % 2) * 31, 'event ' || g FROM generate_series(1, 8) g;

-- a partition cannot be protected on its own; the partitioned table can
SELECT crm_purge_protect('pt.events_2026_01');
SELECT crm_purge_protect('pt.events');
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname LIKE 'crm_purge%' ORDER BY 1::text, 2;
RESET ROLE;

-- DELETE through the partitioned table and through a partition: into the one trash
SET ROLE regress_pt_app;
DELETE FROM pt.events WHERE id IN (1, 2);
RESET ROLE;
SET ROLE regress_pt_owner;
DELETE FROM pt.events_2026_01 WHERE id = 4;
RESET ROLE;
SELECT id, month, body, deleted_by::text, deletion_id - min(deletion_id) OVER () AS deletion
FROM crm_trash.pt__events ORDER BY id;

-- a partition created or attached later is covered; a detached one leaves
SET ROLE regress_pt_owner;
CREATE TABLE pt.events_2026_03 PARTITION OF pt.events FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
CREATE TABLE pt.events_2026_04 (id int, month date, body text, PRIMARY KEY (id, month));
ALTER TABLE pt.events ATTACH PARTITION pt.events_2026_04 FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');
INSERT INTO pt.events VALUES (30, '2026-03-05', 'march'), (40, '2026-04-05', 'april');
DELETE FROM pt.events_2026_03;
DELETE FROM pt.events WHERE id = 40;
SELECT id, month FROM crm_trash.pt__events WHERE id >= 30 ORDER BY id;
ALTER TABLE pt.events DETACH PARTITION pt.events_2026_04;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'pt.events_2026_04'::regclass;
INSERT INTO pt.events_2026_04 VALUES (41, '2026-04-06', 'detached');
DELETE FROM pt.events_2026_04;
TRUNCATE pt.events_2026_04;
SELECT count(*) AS not_trashed FROM crm_trash.pt__events WHERE id = 41;
-- TRUNCATE of a partition is refused as of the table
TRUNCATE pt.events_2026_02;
RESET ROLE;

-- restore routes the rows through the partitioned table
SET ROLE regress_pt_app;
SELECT crm_purge_restore('pt.events', 'id IN (1, 2, 30)');
RESET ROLE;
SET ROLE regress_pt_owner;
SELECT crm_purge_restore('pt.events', 'id = 30');
-- its partition was detached: no partition takes it, nothing is restored
SELECT crm_purge_restore('pt.events', 'id = 40');
RESET ROLE;
SELECT tableoid::regclass, id, month FROM pt.events ORDER BY id;

-- one deletion across partitions comes back with one restore_deletion
SET ROLE regress_pt_app;
DELETE FROM pt.events WHERE id IN (5, 6);
RESET ROLE;
SET ROLE regress_pt_owner;
SELECT crm_purge_restore_deletion((SELECT max(deletion_id) FROM crm_trash.pt__events));
RESET ROLE;
SELECT count(*) AS live FROM pt.events;

-- erase and permanent deletes pick rows per partition: a row of another
-- partition at the same ctid stays (it was deleted too before 1.1)
SET ROLE regress_pt_owner;
SELECT tableoid::regclass, ctid, id FROM pt.events WHERE ctid = '(0,1)' ORDER BY id;
SELECT crm_purge_erase('pt.events', 'id = 2', 'GDPR');
SELECT crm_purge_delete_where('pt.events', 'id = 3', permanent => true);
SELECT tableoid::regclass, id FROM pt.events ORDER BY id;
SELECT count(*) AS trashed_2_or_3 FROM crm_trash.pt__events WHERE id IN (2, 3);
-- a hold on one partition's row keeps the whole erase from running
SELECT crm_purge_hold('pt.events', 'id = 5', NULL, 'litigation') AS hold \gset
SELECT crm_purge_erase('pt.events', 'id IN (5, 6)', 'GDPR');
SELECT count(*) AS still_live FROM pt.events WHERE id IN (5, 6);
SELECT crm_purge_release(:hold);
-- the same on an unprotected partitioned table
CREATE TABLE pt.plain (id int, k int, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
CREATE TABLE pt.plain_1 PARTITION OF pt.plain FOR VALUES IN (1);
CREATE TABLE pt.plain_2 PARTITION OF pt.plain FOR VALUES IN (2);
INSERT INTO pt.plain VALUES (1, 1), (2, 2);
SELECT crm_purge_erase('pt.plain', 'id = 1', 'GDPR');
SELECT * FROM pt.plain;

-- unprotect takes every trigger off the partitions too
SELECT crm_purge_unprotect('pt.events');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'crm_purge%';
RESET ROLE;

\c postgres
DROP DATABASE crm_purge_parts;
DROP ROLE regress_pt_owner, regress_pt_app;
