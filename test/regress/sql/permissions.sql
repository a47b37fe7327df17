-- who may do what: any role that may DELETE goes through the trash;
\set SHOW_CONTEXT never
-- users restore only what they deleted; admins everything
CREATE ROLE regress_app LOGIN;
CREATE ROLE regress_other LOGIN;
CREATE ROLE regress_admin LOGIN IN ROLE crm_purge_admin;
CREATE TABLE leads (id int PRIMARY KEY, name text);
INSERT INTO leads SELECT g, 'lead ' || g FROM generate_series(1, 6) g;
GRANT SELECT, INSERT, DELETE ON leads TO regress_app, regress_other;
CREATE TABLE secrets (id int PRIMARY KEY);
INSERT INTO secrets VALUES (1), (2);
SELECT crm_purge_protect('leads');

SET ROLE regress_app;
DELETE FROM leads WHERE id IN (1, 2);
-- users see their own trashed rows
SELECT id, name, deleted_by FROM crm_trash.public__leads ORDER BY id;
-- and cannot change the trash
DELETE FROM crm_trash.public__leads;
UPDATE crm_trash.public__leads SET name = 'x';
INSERT INTO crm_trash.public__leads VALUES (9, 'x', now(), 'regress_app', 1);
RESET ROLE;

SELECT min(deletion_id) AS app_deletion FROM crm_trash.public__leads \gset
SET ROLE regress_other;
DELETE FROM leads WHERE id = 3;
SELECT id, deleted_by FROM crm_trash.public__leads ORDER BY id;
-- not someone else's rows
SELECT crm_purge_restore('leads', 'id = 1');
SELECT crm_purge_restore_deletion(:app_deletion);
-- a filter runs with the caller's privileges
SELECT crm_purge_restore('leads', 'id IN (SELECT id FROM public.secrets)');
-- admin-only actions
SELECT crm_purge_unprotect('leads');
SELECT crm_purge_protect('secrets');
SELECT crm_purge_tick();
-- own rows come back
SELECT crm_purge_restore('leads');
RESET ROLE;
SELECT id FROM leads ORDER BY id;

-- a user who may not read the table does not see its trash
CREATE ROLE regress_blind LOGIN;
GRANT DELETE ON leads TO regress_blind;
SET ROLE regress_blind;
DELETE FROM leads;
SELECT count(*) FROM crm_trash.public__leads;
RESET ROLE;
SELECT count(*) FROM leads;

-- an admin restores anyone's rows, but needs privileges on the table
SET ROLE regress_admin;
SELECT crm_purge_restore('leads', 'id = 1');
RESET ROLE;
GRANT SELECT, INSERT ON leads TO regress_admin;
SET ROLE regress_admin;
SELECT crm_purge_restore('leads', 'id IN (1, 4)');
SELECT crm_purge_restore('leads', 'deleted_by = ''regress_app''::regrole');
SELECT crm_purge_restore('leads', 'deleted_by = ''regress_blind''::regrole');
-- an admin who does not own the table cannot protect or unprotect it
SELECT crm_purge_unprotect('leads');
RESET ROLE;
SELECT id FROM leads ORDER BY id;
SELECT action, rows, actor FROM crm_purge.history WHERE table_name = 'public.leads' ORDER BY id;
