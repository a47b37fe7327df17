\set SHOW_CONTEXT never
-- apps: what ORMs and application users send.  Tables like Django's: keys
-- DEFERRABLE INITIALLY DEFERRED with no ON DELETE action (the ORM cascades
-- itself), serial ids.  The application connects as regress_app_web (no
-- admin, SELECT/INSERT/UPDATE/DELETE); regress_app_admin (admin, not the
-- owner) restores.
CREATE DATABASE crm_purge_apps;
\c crm_purge_apps
\set SHOW_CONTEXT never
CREATE EXTENSION crm_purge;
CREATE ROLE regress_app_owner LOGIN IN ROLE crm_purge_admin;
CREATE ROLE regress_app_admin LOGIN IN ROLE crm_purge_admin;
CREATE ROLE regress_app_web LOGIN;
CREATE SCHEMA app AUTHORIZATION regress_app_owner;
GRANT USAGE ON SCHEMA app TO PUBLIC;
SET ROLE regress_app_owner;
CREATE TABLE app.account (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE app.contact (id serial PRIMARY KEY, name text NOT NULL,
    account_id int NOT NULL REFERENCES app.account DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE app.activity (id serial PRIMARY KEY, body text,
    contact_id int NOT NULL REFERENCES app.contact DEFERRABLE INITIALLY DEFERRED);
-- on_delete=SET_NULL in the ORM: the database key has no action
CREATE TABLE app.deal (id serial PRIMARY KEY, title text,
    account_id int REFERENCES app.account DEFERRABLE INITIALLY DEFERRED);
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO regress_app_web, regress_app_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO regress_app_web, regress_app_admin;
SELECT crm_purge_protect('app.account'), crm_purge_protect('app.contact'),
       crm_purge_protect('app.activity'), crm_purge_protect('app.deal');
RESET ROLE;
-- the app unlink trigger is deferred to commit
SELECT tgname, tgdeferrable, tginitdeferred FROM pg_trigger
WHERE tgrelid = 'app.deal'::regclass AND NOT tgisinternal ORDER BY tgname;

SET ROLE regress_app_web;
INSERT INTO app.account (name) SELECT 'acct ' || g FROM generate_series(1, 3) g;
INSERT INTO app.contact (name, account_id) SELECT 'contact ' || g, 1 + g % 3 FROM generate_series(1, 6) g;
INSERT INTO app.activity (body, contact_id) SELECT 'call ' || g, 1 + g % 6 FROM generate_series(1, 12) g;
INSERT INTO app.deal (title, account_id) VALUES ('deal a', 1), ('deal b', 1), ('deal c', 2);

-- 1. Django's account.delete() with deletion_scope = transaction: SET_NULL
-- first, then the children (in batches of ids), then the parent, each its
-- own statement; the application's user and reason with SET LOCAL.
BEGIN;
SET LOCAL crm_purge.deletion_scope = transaction;
SET LOCAL crm_purge.actor = 'jane@example.com';
SET LOCAL crm_purge.reason = 'customer asked';
UPDATE app.deal SET account_id = NULL WHERE account_id IN (1);
DELETE FROM app.activity WHERE contact_id IN (3);
DELETE FROM app.activity WHERE contact_id IN (6);
DELETE FROM app.contact WHERE id IN (3, 6);
DELETE FROM app.account WHERE id IN (1);
COMMIT;
RESET ROLE;
-- one deletion across the three tables, with the application's user and reason
SELECT 'account' AS t, count(*), count(DISTINCT deletion_id), min(deletion_actor) AS actor, min(deletion_reason) AS reason,
       min(deleted_by::text) AS deleted_by FROM crm_trash.app__account
UNION ALL SELECT 'contact', count(*), count(DISTINCT deletion_id), min(deletion_actor), min(deletion_reason), min(deleted_by::text) FROM crm_trash.app__contact
UNION ALL SELECT 'activity', count(*), count(DISTINCT deletion_id), min(deletion_actor), min(deletion_reason), min(deleted_by::text) FROM crm_trash.app__activity;
SELECT count(DISTINCT deletion_id) AS deletions FROM (
    SELECT deletion_id FROM crm_trash.app__account UNION ALL SELECT deletion_id FROM crm_trash.app__contact
    UNION ALL SELECT deletion_id FROM crm_trash.app__activity) d;
-- the deals the application unlinked are remembered under that deletion
SELECT child, constraint_name, child_key, parent_ref,
       deletion_id = (SELECT deletion_id FROM crm_trash.app__account) AS same_deletion
FROM crm_purge.unlinks ORDER BY child_key;
-- one restore brings everything back, parents first, deals linked again
SET ROLE regress_app_admin;
SET crm_purge.actor = 'admin@example.com';
SET crm_purge.reason = 'undo';
SELECT crm_purge_restore_deletion((SELECT deletion_id FROM crm_trash.app__account));
RESET crm_purge.actor;
RESET crm_purge.reason;
RESET ROLE;
SELECT id, title, account_id FROM app.deal ORDER BY id;
SELECT (SELECT count(*) FROM app.account) AS accounts, (SELECT count(*) FROM app.contact) AS contacts,
       (SELECT count(*) FROM app.activity) AS activities,
       (SELECT count(*) FROM crm_trash.app__account) + (SELECT count(*) FROM crm_trash.app__contact)
       + (SELECT count(*) FROM crm_trash.app__activity) AS trashed,
       (SELECT count(*) FROM crm_purge.unlinks) AS unlinks;
-- history has the application's user and reason
SELECT action, "table", rows, actor, app_actor, reason FROM crm_purge_history WHERE action = 'restore' ORDER BY "table";

-- 1b. A row the application unlinks from two parents (a deal of the
-- deleted account and of its contact): both links come back
SET ROLE regress_app_owner;
CREATE TABLE app.deal2 (id int PRIMARY KEY, account_id int REFERENCES app.account DEFERRABLE INITIALLY DEFERRED,
    contact_id int REFERENCES app.contact DEFERRABLE INITIALLY DEFERRED);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.deal2 TO regress_app_web, regress_app_admin;
SELECT crm_purge_protect('app.deal2');
RESET ROLE;
SET ROLE regress_app_web;
INSERT INTO app.account (id, name) VALUES (50, 'acct 50');
INSERT INTO app.contact (id, name, account_id) VALUES (500, 'contact 500', 50);
INSERT INTO app.deal2 VALUES (5000, 50, 500);
BEGIN;
SET LOCAL crm_purge.deletion_scope = transaction;
UPDATE app.deal2 SET account_id = NULL WHERE id IN (5000);
UPDATE app.deal2 SET contact_id = NULL WHERE id IN (5000);
DELETE FROM app.contact WHERE id IN (500);
DELETE FROM app.account WHERE id IN (50);
COMMIT;
RESET ROLE;
SET ROLE regress_app_admin;
SELECT crm_purge_restore_deletion((SELECT deletion_id FROM crm_trash.app__account WHERE id = 50));
RESET ROLE;
SELECT * FROM app.deal2;
DELETE FROM app.deal2;
DELETE FROM app.contact WHERE id = 500;
DELETE FROM app.account WHERE id = 50;
DELETE FROM crm_trash.app__deal2;
DELETE FROM crm_trash.app__contact;
DELETE FROM crm_trash.app__account;

-- 1c. The same, but the first key (by name) is dropped before the restore:
-- the other link still comes back, its deferred check run at once
SET ROLE regress_app_web;
INSERT INTO app.account (id, name) VALUES (51, 'acct 51');
INSERT INTO app.contact (id, name, account_id) VALUES (510, 'contact 510', 51);
INSERT INTO app.deal2 VALUES (5100, 51, 510);
BEGIN;
SET LOCAL crm_purge.deletion_scope = transaction;
UPDATE app.deal2 SET account_id = NULL WHERE id IN (5100);
UPDATE app.deal2 SET contact_id = NULL WHERE id IN (5100);
DELETE FROM app.contact WHERE id IN (510);
DELETE FROM app.account WHERE id IN (51);
COMMIT;
RESET ROLE;
SET ROLE regress_app_owner;
ALTER TABLE app.deal2 DROP CONSTRAINT deal2_account_id_fkey;
RESET ROLE;
SET ROLE regress_app_admin;
SELECT crm_purge_restore_deletion((SELECT deletion_id FROM crm_trash.app__account WHERE id = 51));
RESET ROLE;
SELECT * FROM app.deal2;
DELETE FROM app.deal2;
DELETE FROM app.contact WHERE id = 510;
DELETE FROM app.account WHERE id = 51;
DELETE FROM crm_trash.app__deal2;
DELETE FROM crm_trash.app__contact;
DELETE FROM crm_trash.app__account;

-- 2. The same with deletion_scope = statement (the default): each
-- statement is its own deletion; the unlink goes with the parent's.
SET ROLE regress_app_web;
BEGIN;
UPDATE app.deal SET account_id = NULL WHERE account_id IN (2);
DELETE FROM app.activity WHERE contact_id IN (1, 4);
DELETE FROM app.contact WHERE id IN (1, 4);
DELETE FROM app.account WHERE id IN (2);
COMMIT;
RESET ROLE;
SELECT (SELECT count(DISTINCT deletion_id) FROM crm_trash.app__activity) + (SELECT count(DISTINCT deletion_id) FROM crm_trash.app__contact)
       + (SELECT count(DISTINCT deletion_id) FROM crm_trash.app__account) AS deletions,
       (SELECT deletion_actor FROM crm_trash.app__account) AS no_actor;
SELECT u.deletion_id = a.deletion_id AS with_the_parent FROM crm_purge.unlinks u, crm_trash.app__account a;
SET ROLE regress_app_admin;
-- restoring the children alone fails on their (deferred) keys at commit
SELECT crm_purge_restore_deletion((SELECT max(deletion_id) FROM crm_trash.app__contact));
SELECT crm_purge_restore_deletion((SELECT deletion_id FROM crm_trash.app__account));
SELECT crm_purge_restore_deletion((SELECT max(deletion_id) FROM crm_trash.app__contact));
SELECT crm_purge_restore_deletion((SELECT max(deletion_id) FROM crm_trash.app__activity));
RESET ROLE;
SELECT id, title, account_id FROM app.deal ORDER BY id;
SELECT count(*) AS activities FROM app.activity;

-- 3. Deleting the parent first (deferred keys allow it): restore still
-- puts parents before children.
SET ROLE regress_app_web;
BEGIN;
SET LOCAL crm_purge.deletion_scope = transaction;
DELETE FROM app.account WHERE id = 3;
DELETE FROM app.contact WHERE account_id = 3;
DELETE FROM app.activity WHERE contact_id IN (2, 5);
COMMIT;
RESET ROLE;
SET ROLE regress_app_admin;
SELECT crm_purge_restore_deletion((SELECT deletion_id FROM crm_trash.app__account));
RESET ROLE;
SELECT (SELECT count(*) FROM app.account) AS accounts, (SELECT count(*) FROM app.contact) AS contacts,
       (SELECT count(*) FROM app.activity) AS activities;

-- 4. An unlink that deletes no parent is not remembered; one rolled back
-- leaves nothing.
SET ROLE regress_app_web;
UPDATE app.deal SET account_id = NULL WHERE id = 3;
BEGIN;
UPDATE app.deal SET account_id = NULL WHERE id = 1;
DELETE FROM app.account WHERE id = 1;
ROLLBACK;
RESET ROLE;
SELECT count(*) AS unlinks FROM crm_purge.unlinks;

-- 5. deletion_scope per role and database; a bad value is refused
ALTER ROLE regress_app_web SET crm_purge.deletion_scope = transaction;
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'regress_app_web'::regrole;
ALTER ROLE regress_app_web RESET crm_purge.deletion_scope;
SET crm_purge.deletion_scope = 'request';

-- 6. A guard on a natural key: a sync re-imports an erased contact under a
-- new serial id, or moves the erased email onto another row
SET ROLE regress_app_owner;
CREATE TABLE app.person (id serial PRIMARY KEY, email text UNIQUE, name text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.person TO regress_app_web, regress_app_admin;
GRANT USAGE ON SEQUENCE app.person_id_seq TO regress_app_web;
INSERT INTO app.person (email, name) VALUES ('jane@example.com', 'Jane'), ('joe@example.com', 'Joe'),
    ('ann@example.com', 'Ann');
SELECT crm_purge_protect('app.person');
SELECT crm_purge_guard('app.person', 'error', ARRAY['nope']);
SELECT crm_purge_guard('app.person', 'error', ARRAY['email', 'email']);
SELECT crm_purge_guard('app.person', 'error', '{}');
SELECT crm_purge_guard('app.person', 'error', ARRAY['email']);
SELECT key_columns FROM crm_purge.guards WHERE tbl = 'app.person'::regclass;
RESET ROLE;
SET ROLE regress_app_admin;
SELECT crm_purge_erase('app.person', $$email = 'jane@example.com'$$, 'GDPR request 7');
RESET ROLE;
SELECT count(*) AS tombstones FROM crm_purge.tombstones WHERE tbl = 'app.person'::regclass;
SET ROLE regress_app_web;
INSERT INTO app.person (email, name) VALUES ('jane@example.com', 'Jane again');
INSERT INTO app.person (id, email, name) VALUES (1, 'new@example.com', 'same id');
UPDATE app.person SET email = 'jane@example.com' WHERE email = 'joe@example.com';
UPDATE app.person SET name = 'Joe B.' WHERE email = 'joe@example.com';
INSERT INTO app.person (email, name) VALUES ('jim@example.com', 'Jim') RETURNING email;
RESET ROLE;
-- skip mode drops the row and tells the client
SET ROLE regress_app_owner;
SELECT crm_purge_guard('app.person', 'skip', ARRAY['email']);
RESET ROLE;
SET ROLE regress_app_web;
INSERT INTO app.person (email, name) VALUES ('jane@example.com', 'Jane again'), ('kim@example.com', 'Kim')
    RETURNING email;
RESET ROLE;
-- the guard counts what it skipped
SELECT "table", mode, key_columns, skipped_rows FROM crm_purge_guards;
-- lifting the tombstone by the natural key's value lets it back
SET ROLE regress_app_admin;
SELECT crm_purge_forget('app.person', 'jane@example.com');
RESET ROLE;
SET ROLE regress_app_web;
INSERT INTO app.person (email, name) VALUES ('jane@example.com', 'Jane, who came back') RETURNING email;
RESET ROLE;
SELECT email, name FROM app.person ORDER BY email;
-- a renamed key column: the guard follows it
ALTER TABLE app.person RENAME COLUMN email TO mail;
SELECT key_columns FROM crm_purge.guards WHERE tbl = 'app.person'::regclass;
SET ROLE regress_app_web;
INSERT INTO app.person (mail, name) VALUES ('zed@example.com', 'Zed');
RESET ROLE;

-- 6b. COPY FROM into a guarded table keeps COPY's multi-insert (guard_copy.c):
-- the same skips, errors, defaults, constraints and foreign keys as the trigger
SET ROLE regress_app_owner;
CREATE TABLE app.importee (id int PRIMARY KEY, email text, score int CHECK (score >= 0),
    account_id int REFERENCES app.account, created text DEFAULT 'default',
    doubled int GENERATED ALWAYS AS (score * 2) STORED);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.importee TO regress_app_web, regress_app_admin;
INSERT INTO app.importee (id, email, score) VALUES (1, 'gone1@example.com', 1), (2, 'gone2@example.com', 2);
SELECT crm_purge_protect('app.importee');
SELECT crm_purge_guard('app.importee', 'skip', ARRAY['email']);
RESET ROLE;
SET ROLE regress_app_admin;
SELECT crm_purge_erase('app.importee', 'id IN (1, 2)', 'GDPR');
RESET ROLE;
SET ROLE regress_app_web;
-- id 1 and the email of 2 were erased: both skipped, with a NOTICE
COPY app.importee (id, email, score, account_id) FROM STDIN (FORMAT csv);
1,new@example.com,5,1
3,gone2@example.com,5,
4,ok4@example.com,6,2
5,ok5@example.com,7,
\.
SELECT id, email, score, account_id, created, doubled FROM app.importee ORDER BY id;
-- constraints, foreign keys and unique indexes still refuse
COPY app.importee (id, email, score) FROM STDIN (FORMAT csv);
6,ok6@example.com,1
7,ok7@example.com,-1
\.
COPY app.importee (id, email, score, account_id) FROM STDIN (FORMAT csv);
8,ok8@example.com,1,999
\.
COPY app.importee (id, email, score) FROM STDIN (FORMAT csv);
4,dup@example.com,1
\.
RESET ROLE;
-- error mode refuses the whole COPY, without the row in the error
SET ROLE regress_app_owner;
SELECT crm_purge_guard('app.importee', 'error', ARRAY['email']);
RESET ROLE;
SET ROLE regress_app_web;
COPY app.importee (id, email, score) FROM STDIN (FORMAT csv);
9,ok9@example.com,1
10,gone1@example.com,1
\.
RESET ROLE;
SELECT count(*) AS rows FROM app.importee;
-- a user without INSERT is refused as by COPY
CREATE ROLE regress_app_reader;
GRANT USAGE ON SCHEMA app TO regress_app_reader;
SET ROLE regress_app_reader;
COPY app.importee (id, email, score) FROM STDIN (FORMAT csv);
11,x@example.com,1
\.
RESET ROLE;
REVOKE USAGE ON SCHEMA app FROM regress_app_reader;
DROP ROLE regress_app_reader;
SELECT "table", mode, skipped_rows FROM crm_purge_guards WHERE "table" = 'app.importee'::regclass;
-- COPY ... WHERE takes PostgreSQL's own path, through the trigger
SET ROLE regress_app_owner;
SELECT crm_purge_guard('app.importee', 'skip', ARRAY['email']);
COPY app.importee (id, email, score) FROM STDIN (FORMAT csv) WHERE score > 0;
12,gone1@example.com,1
13,ok13@example.com,0
14,ok14@example.com,1
\.
RESET ROLE;
SELECT id, email FROM app.importee ORDER BY id;

-- 7. Sequence floors: what Django's loaddata, sqlsequencereset and flush
-- send never hands out a trashed or erased id again
SET ROLE regress_app_owner;
CREATE TABLE app.ticket (id serial PRIMARY KEY, subject text);
CREATE TABLE app.call (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.ticket TO regress_app_admin;
SELECT crm_purge_protect('app.ticket'), crm_purge_protect('app.call');
INSERT INTO app.ticket (subject) SELECT 'ticket ' || g FROM generate_series(1, 10) g;
INSERT INTO app.call (note) SELECT 'call ' || g FROM generate_series(1, 5) g;
DELETE FROM app.ticket WHERE id IN (8, 9);
DELETE FROM app.call WHERE id IN (4, 5);
RESET ROLE;
SET ROLE regress_app_admin;
SELECT crm_purge_erase('app.ticket', 'id = 10', 'GDPR');
RESET ROLE;
SELECT tbl, floor FROM crm_purge.key_floors ORDER BY tbl;
SET ROLE regress_app_owner;
-- below the floor: raised, with a NOTICE
SELECT setval('app.ticket_id_seq', 1);
SELECT nextval('app.ticket_id_seq');
-- Django's sqlsequencereset
SELECT setval(pg_get_serial_sequence('"app"."ticket"', 'id'), coalesce(max("id"), 1), max("id") IS NOT null) FROM "app"."ticket";
INSERT INTO app.ticket (subject) VALUES ('new') RETURNING id;
-- the sequence from a column: every floored sequence is checked
SELECT setval(s::regclass, 2) FROM (VALUES ('app.ticket_id_seq')) v(s);
-- above the floor: untouched
SELECT setval('app.ticket_id_seq', 100);
ALTER SEQUENCE app.ticket_id_seq RESTART;
SELECT nextval('app.ticket_id_seq');
-- identity columns
ALTER TABLE app.call ALTER COLUMN id RESTART WITH 1;
INSERT INTO app.call (note) VALUES ('new') RETURNING id;
-- TRUNCATE ... RESTART IDENTITY in a test database: the trash stays, and so does the floor
SET crm_purge.allow_truncate = on;
TRUNCATE app.ticket RESTART IDENTITY;
RESET crm_purge.allow_truncate;
INSERT INTO app.ticket (subject) VALUES ('after flush') RETURNING id;
-- the trash still restores without conflict
SELECT crm_purge_restore('app.ticket', 'id IN (8, 9)');
RESET ROLE;
SELECT id, subject FROM app.ticket ORDER BY id;

-- 8. Relations without a foreign key: a note points at a lead through
-- (content_type_id, object_id), as Django's GenericForeignKey does
SET ROLE regress_app_owner;
CREATE TABLE app.lead (id serial PRIMARY KEY, email text);
CREATE TABLE app.note (id serial PRIMARY KEY, content_type_id int NOT NULL, object_id int, body text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.lead, app.note TO regress_app_admin, regress_app_web;
GRANT USAGE ON SEQUENCE app.note_id_seq TO regress_app_web;
SELECT crm_purge_protect('app.lead'), crm_purge_protect('app.note');
INSERT INTO app.lead (email) VALUES ('lead1@example.com'), ('lead2@example.com');
-- content type 12 is a lead, 13 something else with the same ids
INSERT INTO app.note (content_type_id, object_id, body) VALUES
    (12, 1, 'lead 1 a'), (12, 1, 'lead 1 b'), (12, 1, 'lead 1 trashed'), (13, 1, 'not a lead'),
    (12, 2, 'lead 2'), (12, 2, 'lead 2 trashed');
DELETE FROM app.note WHERE body LIKE '%trashed';
RESET ROLE;
SET ROLE regress_app_admin;
SELECT crm_purge_relate('app.lead', 'app.note', 'delete', condition => 'content_type_id = 12');
SELECT crm_purge_relate('app.lead', 'app.note', 'delete', ARRAY['object_id'], 'content_type_id = pg_sleep(1)::int');
SELECT crm_purge_relate('app.lead', 'app.note', 'delete', ARRAY['object_id'], 'content_type_id = (SELECT 12)');
SELECT crm_purge_relate('app.lead', 'app.note', 'delete', ARRAY['object_id'], 'content_type_id = 12; DROP TABLE app.note');
SELECT crm_purge_relate('app.lead', 'app.note', 'delete', ARRAY['object_id', 'id'], 'content_type_id = 12');
SELECT crm_purge_relate('app.lead', 'app.note', 'delete', ARRAY['objectid'], 'content_type_id = 12');
SELECT crm_purge_relate('app.lead', 'app.note', 'unlink', ARRAY['content_type_id'], NULL);
SELECT crm_purge_relate('app.lead', 'app.note', 'delete', ARRAY['object_id'], 'content_type_id = 12');
SELECT * FROM crm_purge_erase_preview('app.lead', 'id = 1');
SELECT crm_purge_erase('app.lead', 'id = 1', 'GDPR');
RESET ROLE;
SELECT content_type_id, object_id, body FROM app.note ORDER BY id;
SELECT content_type_id, object_id, body FROM crm_trash.app__note ORDER BY id;
-- unlink: the reference is cleared, live and in the trash
SET ROLE regress_app_admin;
SELECT crm_purge_relate('app.lead', 'app.note', 'unlink', ARRAY['object_id'], 'content_type_id IN (12)');
SELECT * FROM crm_purge_erase_preview('app.lead', 'id = 2');
SELECT crm_purge_erase('app.lead', 'id = 2', 'GDPR');
RESET ROLE;
SELECT content_type_id, object_id, body FROM app.note ORDER BY id;
SELECT content_type_id, object_id, body FROM crm_trash.app__note ORDER BY id;
-- grouped with its notes in one deletion, a lead comes back with them
SET ROLE regress_app_web;
INSERT INTO app.lead (id, email) VALUES (3, 'lead3@example.com');
INSERT INTO app.note (content_type_id, object_id, body) VALUES (12, 3, 'lead 3');
BEGIN;
SET LOCAL crm_purge.deletion_scope = transaction;
DELETE FROM app.note WHERE content_type_id = 12 AND object_id = 3;
DELETE FROM app.lead WHERE id = 3;
COMMIT;
RESET ROLE;
SET ROLE regress_app_admin;
SELECT crm_purge_restore_deletion((SELECT deletion_id FROM crm_trash.app__lead WHERE id = 3));
RESET ROLE;
SELECT (SELECT count(*) FROM app.lead WHERE id = 3) AS lead, (SELECT count(*) FROM app.note WHERE object_id = 3) AS notes;

\c postgres
DROP DATABASE crm_purge_apps;
DROP ROLE regress_app_owner, regress_app_admin, regress_app_web;
