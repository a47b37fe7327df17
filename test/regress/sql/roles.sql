\set SHOW_CONTEXT never
-- roles: the whole role matrix.  Every function and view of the contract,
-- called by
--   regress_rm_owner  admin (non-superuser) who owns the tables
--   regress_rm_admin  admin who does not own them, with SELECT, INSERT,
--                     UPDATE, DELETE on them
--   regress_rm_user   no admin, with SELECT, INSERT, DELETE on them
--   regress_rm_blind  admin without any privilege on the tables
-- The superuser only sets up; every crm_purge call runs under SET ROLE.
-- in a database of its own, so that its roles and objects meet no other test
CREATE DATABASE crm_purge_roles;
\c crm_purge_roles
\set SHOW_CONTEXT never
CREATE EXTENSION crm_purge;

CREATE ROLE regress_rm_owner LOGIN IN ROLE crm_purge_admin;
CREATE ROLE regress_rm_admin LOGIN IN ROLE crm_purge_admin;
CREATE ROLE regress_rm_user LOGIN;
CREATE ROLE regress_rm_blind LOGIN IN ROLE crm_purge_admin;
CREATE SCHEMA rm;
GRANT USAGE ON SCHEMA rm TO PUBLIC;
-- parent and child (for relate and erase), a request table, a scratch table
CREATE TABLE rm.acct (id int PRIMARY KEY, name text, email text UNIQUE,
                      modified_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE rm.contact (id int PRIMARY KEY, acct_id int REFERENCES rm.acct ON DELETE CASCADE,
                         name text, email text, modified_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE rm.deal (id int PRIMARY KEY, title text, modified_at timestamptz NOT NULL);
CREATE TABLE rm.note (id int PRIMARY KEY, body text, modified_at timestamptz NOT NULL);
CREATE TABLE rm.scratch (id int PRIMARY KEY);
INSERT INTO rm.acct SELECT g, 'acct ' || g, 'a' || g || '@example.com' FROM generate_series(1, 30) g;
INSERT INTO rm.contact SELECT g, (g + 1) / 2, 'contact ' || g, 'c' || g || '@example.com' FROM generate_series(1, 60) g;
INSERT INTO rm.deal SELECT g, 'deal ' || g, now() - make_interval(days => g) FROM generate_series(1, 40) g;
INSERT INTO rm.note SELECT g, 'note ' || g, now() - make_interval(days => g) FROM generate_series(1, 20) g;
ALTER TABLE rm.acct OWNER TO regress_rm_owner;
ALTER TABLE rm.contact OWNER TO regress_rm_owner;
ALTER TABLE rm.deal OWNER TO regress_rm_owner;
ALTER TABLE rm.note OWNER TO regress_rm_owner;
ALTER TABLE rm.scratch OWNER TO regress_rm_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rm TO regress_rm_admin;
GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA rm TO regress_rm_user;
-- runs a statement as the caller and gives its SQLSTATE ('ok' if none)
CREATE FUNCTION rm.sqlstate(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

-- 1. protect / unprotect / guard: the owner only
SET ROLE regress_rm_user;
SELECT crm_purge_protect('rm.acct');
SELECT crm_purge_unprotect('rm.scratch');
SELECT crm_purge_guard('rm.acct');
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT crm_purge_protect('rm.acct');
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_protect('rm.acct');
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_protect('rm.acct');
SELECT crm_purge_protect('rm.contact');
SELECT crm_purge_protect('rm.deal');
SELECT crm_purge_protect('rm.note');
SELECT crm_purge_protect('rm.scratch', '30 days');
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT crm_purge_unprotect('rm.scratch');
SELECT crm_purge_guard('rm.acct');
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_unprotect('rm.scratch');
SELECT crm_purge_guard('rm.acct');
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_unprotect('rm.scratch', true);
SELECT crm_purge_guard('rm.acct');
RESET ROLE;
SELECT "table"::text FROM crm_purge_overview ORDER BY 1;

-- 2. delete into the trash and restore: everyone may, their own rows
SET ROLE regress_rm_user;
DELETE FROM rm.acct WHERE id = 1;
DELETE FROM rm.acct WHERE id = 2;
SELECT id, deleted_by FROM crm_trash.rm__acct ORDER BY id;
SELECT count(*) AS cascaded FROM crm_trash.rm__contact;
SELECT deletion_id AS user_del FROM crm_trash.rm__acct WHERE id = 2 \gset
SELECT crm_purge_restore('rm.acct', 'id = 1');
SELECT crm_purge_restore_deletion(:user_del);
SELECT count(*) FROM rm.contact WHERE acct_id IN (1, 2);
RESET ROLE;
SET ROLE regress_rm_owner;
DELETE FROM rm.acct WHERE id = 3;
SELECT deletion_id AS owner_del3 FROM crm_trash.rm__acct WHERE id = 3 \gset
DELETE FROM rm.acct WHERE id = 4;
SELECT deletion_id AS owner_del4 FROM crm_trash.rm__acct WHERE id = 4 \gset
RESET ROLE;
-- the user sees and restores nothing of the owner's
SET ROLE regress_rm_user;
SELECT count(*) FROM crm_trash.rm__acct;
SELECT crm_purge_restore('rm.acct', 'id = 3');
SELECT crm_purge_restore('rm.acct');
SELECT crm_purge_restore_deletion(:owner_del3);
RESET ROLE;
-- the blind admin sees nothing and restores nothing
SET ROLE regress_rm_blind;
SELECT count(*) FROM crm_trash.rm__acct;
SELECT count(*) FROM crm_trash.rm__contact;
SELECT crm_purge_restore('rm.acct', 'id = 3');
SELECT crm_purge_restore('rm.acct');
SELECT crm_purge_restore_deletion(:owner_del3);
RESET ROLE;
SELECT count(*) AS still_trashed FROM crm_trash.rm__acct WHERE id IN (3, 4);
-- the admin sees every row and restores them
SET ROLE regress_rm_admin;
SELECT id, deleted_by FROM crm_trash.rm__acct ORDER BY id;
SELECT count(*) FROM crm_trash.rm__contact;
SELECT crm_purge_restore('rm.acct', 'id = 3');
SELECT crm_purge_restore_deletion(:owner_del4);
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT count(*) FROM crm_trash.rm__acct;
SELECT count(*) FROM rm.contact WHERE acct_id IN (3, 4);
RESET ROLE;

-- 3. views: admins only; the blind admin sees no overview row of rm
SET ROLE regress_rm_user;
SELECT count(*) FROM crm_purge_overview;
SELECT count(*) FROM crm_purge_history;
SELECT count(*) FROM crm_purge_requests;
SELECT count(*) FROM crm_purge_progress;
SELECT count(*) FROM crm_purge_policies;
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT "table", live_rows, trashed_rows, marked_rows FROM crm_purge_overview ORDER BY 1;
SELECT action, "table", rows, actor FROM crm_purge_history ORDER BY at, action, "table";
SELECT count(*) FROM crm_purge_progress;
SELECT count(*) FROM crm_purge_policies;
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT "table", live_rows, trashed_rows, marked_rows FROM crm_purge_overview ORDER BY 1;
SELECT count(*) > 0 AS sees_history FROM crm_purge_history;
SELECT count(*) FROM crm_purge_progress;
SELECT count(*) FROM crm_purge_policies;
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT count(*) AS rm_rows FROM crm_purge_overview WHERE "table"::text LIKE 'rm.%';
SELECT count(*) FROM crm_purge_progress;
SELECT count(*) FROM crm_purge_policies;
-- nothing is due yet
SELECT crm_purge_tick() IS NOT NULL AS ticked;
RESET ROLE;

-- 4. requests, both modes
SET ROLE regress_rm_user;
SELECT crm_purge_request('rm.deal', '20 days');
SELECT crm_purge_request('rm.note', '10 days', 'delete_only');
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_request('rm.deal', '20 days');
SELECT crm_purge_request('rm.note', '10 days', 'delete_only');
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_request('rm.note', '10 days', 'delete_only') AS owner_req \gset
RESET ROLE;
-- revoke: not by a non-admin
SET ROLE regress_rm_user;
SELECT crm_purge_revoke(:owner_req);
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT crm_purge_revoke(:owner_req);
SELECT crm_purge_request('rm.deal', '20 days') AS exp_req \gset
SELECT crm_purge_request('rm.note', '10 days', 'delete_only') AS del_req \gset
SELECT "table", mode, created_by, rows, rows_done, status FROM crm_purge_requests ORDER BY id;
RESET ROLE;
SET ROLE regress_rm_blind;
-- (the contract hides trash rows, exports and overview rows; requests,
-- reports and history are not among them)
SELECT count(*) AS visible_requests FROM crm_purge_requests;
SELECT count(*) > 0 AS sees_history FROM crm_purge_history;
RESET ROLE;
-- the admin's tick runs them to success
SET ROLE regress_rm_admin;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
SELECT "table", mode, rows, rows_done, status, error FROM crm_purge_requests ORDER BY id;
SELECT count(*) FROM crm_purge_progress;
SELECT count(*) AS batches, sum(rows) AS rows, bool_and(outcome IS NOT NULL) AS all_have_outcome
FROM crm_purge_report(:exp_req);
SELECT count(*) AS parts, sum(rows) AS rows FROM crm_purge_export_files(:exp_req);
-- a delete_only request has no parts (DESIGN.md section 2)
SELECT count(*) AS parts FROM crm_purge_export_files(:del_req);
SELECT split_part(crm_purge_export_read(:exp_req, 1), E'\n', 1) AS header;
SELECT length(crm_purge_export_read(:exp_req, 1)) > 0 AS readable;
SELECT count(*) AS deal_left, min(id) FROM rm.deal;
SELECT count(*) AS note_left FROM rm.note;
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT count(*) AS parts FROM crm_purge_export_files(:exp_req);
SELECT length(crm_purge_export_read(:exp_req, 1)) > 0 AS readable;
SELECT count(*) AS batches FROM crm_purge_report(:exp_req);
RESET ROLE;
SET ROLE regress_rm_user;
SELECT crm_purge_report(:exp_req);
SELECT crm_purge_export_files(:exp_req);
SELECT crm_purge_export_read(:exp_req, 1);
SELECT crm_purge_tick();
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT count(*) AS batches FROM crm_purge_report(:exp_req);
SELECT count(*) AS parts FROM crm_purge_export_files(:exp_req);
SELECT crm_purge_export_read(:exp_req, 1);
SELECT crm_purge_revoke(:exp_req);
RESET ROLE;

-- 5. holds
SET ROLE regress_rm_user;
SELECT crm_purge_hold('rm.acct', 'id = 30', current_date + 30, 'audit');
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_hold('rm.acct', 'id = 30', current_date + 30, 'audit');
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT crm_purge_hold('rm.acct', 'id = 30', current_date + 30, 'audit') AS hold_a \gset
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_hold('rm.acct', 'id = 29', current_date + 30, 'audit') AS hold_o \gset
RESET ROLE;
SET ROLE regress_rm_user;
SELECT crm_purge_release(:hold_a);
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_release(:hold_a);
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_release(:hold_o);
RESET ROLE;
SELECT count(*) AS holds_left FROM crm_purge.holds WHERE released_at IS NULL;

-- 6. mark, unmark, activate, cancel, and a purge that runs when due
SET ROLE regress_rm_owner;
DELETE FROM rm.acct WHERE id IN (5, 6, 7, 8);
RESET ROLE;
SET ROLE regress_rm_user;
SELECT crm_purge_mark('rm.acct', 'id = 5');
SELECT crm_purge_unmark('rm.acct', 'id = 5');
SELECT crm_purge_activate();
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_mark('rm.acct', 'true');
SELECT crm_purge_unmark('rm.acct', 'true');
RESET ROLE;
SELECT count(*) FILTER (WHERE marked_at IS NOT NULL) AS marked FROM crm_trash.rm__acct;
SET ROLE regress_rm_admin;
SELECT crm_purge_mark('rm.acct', 'id IN (5, 6)');
SELECT crm_purge_unmark('rm.acct', 'id = 6');
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_mark('rm.acct', 'id IN (7, 8)');
SELECT crm_purge_unmark('rm.acct', 'id = 8');
SELECT crm_purge_mark('rm.contact', 'acct_id = 5');
SELECT "table", trashed_rows, marked_rows, pending_purge_id IS NULL AS none_pending
FROM crm_purge_overview ORDER BY 1;
RESET ROLE;
-- an admin without SELECT and DELETE on a table with marked rows cannot
-- activate the purge that would delete them (it may still cancel one)
SET ROLE regress_rm_blind;
SELECT crm_purge_activate();
RESET ROLE;
SELECT count(*) AS purges FROM crm_purge.purges;
SET ROLE regress_rm_admin;
SELECT crm_purge_activate() AS purge1 \gset
SELECT "table", marked_rows, pending_purge_id = :purge1 AS this_purge, pending_due_at > now() AS later
FROM crm_purge_overview ORDER BY 1;
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT count(*) AS rm_rows FROM crm_purge_overview WHERE "table"::text LIKE 'rm.%';
RESET ROLE;
SET ROLE regress_rm_user;
SELECT crm_purge_cancel(:purge1);
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_cancel(:purge1);
RESET ROLE;
SELECT status, cancelled_by FROM crm_purge.purges WHERE id = :purge1;
-- a purge the owner activates, due at once, runs at the next tick
SET crm_purge.pending_period = 0;
SET ROLE regress_rm_owner;
SELECT crm_purge_activate() AS purge2 \gset
SELECT crm_purge_tick() ->> 'purge_batches' IS NOT NULL AS purged;
SELECT count(*) AS left_in_trash FROM crm_trash.rm__acct WHERE id IN (5, 7);
SELECT count(*) AS left_in_trash FROM crm_trash.rm__acct WHERE id IN (6, 8);
SELECT count(*) AS contacts_in_trash FROM crm_trash.rm__contact WHERE acct_id = 5;
SELECT action, "table", rows, actor FROM crm_purge_history WHERE action LIKE 'purge%' ORDER BY at, action, "table";
RESET ROLE;
RESET crm_purge.pending_period;
SELECT status, rows, rows_done, activated_by, cancelled_by FROM crm_purge.purges ORDER BY id;

-- 7. relate, anonymize, erase_preview, erase, forget
SET ROLE regress_rm_user;
SELECT crm_purge_relate('rm.acct', 'rm.contact', 'delete');
SELECT crm_purge_anonymize('rm.contact', 'email', 'hash');
SELECT crm_purge_erase_preview('rm.acct', 'id = 10');
SELECT crm_purge_erase('rm.acct', 'id = 10', 'gdpr');
SELECT crm_purge_forget('rm.acct', '10');
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_relate('rm.acct', 'rm.contact', 'delete');
SELECT crm_purge_anonymize('rm.contact', 'email', 'hash');
SELECT * FROM crm_purge_erase_preview('rm.acct', 'id = 10');
SELECT crm_purge_erase('rm.acct', 'id = 10', 'gdpr');
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT crm_purge_relate('rm.acct', 'rm.contact', 'anonymize');
SELECT crm_purge_anonymize('rm.contact', 'email', 'hash');
SELECT crm_purge_anonymize('rm.contact', 'name', 'fixed:erased');
SELECT * FROM crm_purge_erase_preview('rm.acct', 'id = 10') ORDER BY 1, 2;
SELECT crm_purge_erase('rm.acct', 'id = 10', 'gdpr');
SELECT id, acct_id, name, email = 'c19@example.com' AS email_kept FROM rm.contact WHERE id IN (19, 20) ORDER BY id;
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_relate('rm.acct', 'rm.contact', 'delete');
SELECT * FROM crm_purge_erase_preview('rm.acct', 'id = 11') ORDER BY 1, 2;
SELECT crm_purge_erase('rm.acct', 'id = 11', 'gdpr');
SELECT count(*) AS contacts_left FROM rm.contact WHERE id IN (21, 22);
-- a held row is refused
SELECT crm_purge_erase('rm.acct', 'id = 30', 'gdpr');
RESET ROLE;
SELECT count(*) AS tombstones FROM crm_purge.tombstones;
-- the guard drops a re-import of an erased key, whoever inserts it
SET ROLE regress_rm_user;
INSERT INTO rm.acct (id, name) VALUES (10, 'back');
SELECT count(*) FROM rm.acct WHERE id = 10;
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_forget('rm.acct', '10');
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT crm_purge_forget('rm.acct', '10');
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_forget('rm.acct', '11');
RESET ROLE;
SET ROLE regress_rm_user;
INSERT INTO rm.acct (id, name) VALUES (10, 'back');
SELECT count(*) FROM rm.acct WHERE id = 10;
RESET ROLE;
SELECT count(*) AS tombstones FROM crm_purge.tombstones;

-- 8. deletion by list and by targeting
SET ROLE regress_rm_user;
SELECT crm_purge_delete_keys('rm.acct', ARRAY['12']);
SELECT crm_purge_delete_where('rm.acct', 'id = 12');
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT * FROM crm_purge_delete_keys('rm.acct', ARRAY['12']);
SELECT crm_purge_delete_where('rm.acct', 'id = 12');
SELECT crm_purge_delete_where('rm.acct', 'id = 12', dry_run => true);
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT * FROM crm_purge_delete_keys('rm.acct', ARRAY['12', '13', '13', '999']) ORDER BY 1, 2;
SELECT * FROM crm_purge_delete_keys('rm.acct', ARRAY['a14@example.com'], key_column => 'email');
SELECT crm_purge_delete_where('rm.acct', 'id BETWEEN 15 AND 17', dry_run => true);
SELECT crm_purge_delete_where('rm.acct', 'id BETWEEN 15 AND 17');
SELECT count(*) AS trashed FROM crm_trash.rm__acct WHERE id BETWEEN 12 AND 17;
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT * FROM crm_purge_delete_keys('rm.acct', ARRAY['18'], permanent => true);
SELECT crm_purge_delete_where('rm.acct', 'id = 19', permanent => true);
SELECT count(*) AS trashed FROM crm_trash.rm__acct WHERE id IN (18, 19);
SELECT count(*) AS live FROM rm.acct WHERE id IN (18, 19);
RESET ROLE;

-- 9. policies: pg_cron is not installed here, and says so
SET ROLE regress_rm_user;
SELECT crm_purge_schedule('rm.deal', '30 days');
SELECT crm_purge_unschedule(1);
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT crm_purge_schedule('rm.deal', '30 days');
SELECT crm_purge_unschedule(424242);
SELECT count(*) FROM crm_purge_policies;
RESET ROLE;
SET ROLE regress_rm_owner;
SELECT crm_purge_schedule('rm.note', '30 days', '0 3 * * *', 'delete_only');
SELECT crm_purge_unschedule(424242);
SELECT count(*) FROM crm_purge_policies;
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_schedule('rm.deal', '30 days');
SELECT crm_purge_unschedule(424242);
RESET ROLE;

-- 10. every refusal above is SQLSTATE 42501, and changes nothing
SET ROLE regress_rm_user;
SELECT what, rm.sqlstate(q) FROM (VALUES
	('protect', 'SELECT crm_purge_protect(''rm.acct'')'),
	('request', 'SELECT crm_purge_request(''rm.deal'', ''20 days'')'),
	('mark', 'SELECT crm_purge_mark(''rm.acct'', ''true'')'),
	('erase', 'SELECT crm_purge_erase(''rm.acct'', ''id = 20'', ''gdpr'')'),
	('tick', 'SELECT crm_purge_tick()'),
	('overview', 'SELECT * FROM crm_purge_overview'),
	('history', 'SELECT * FROM crm_purge_history')) v(what, q);
RESET ROLE;
SET ROLE regress_rm_admin;
SELECT what, rm.sqlstate(q) FROM (VALUES
	('protect', 'SELECT crm_purge_protect(''rm.acct'')'),
	('unprotect', 'SELECT crm_purge_unprotect(''rm.note'')'),
	('guard', 'SELECT crm_purge_guard(''rm.contact'')')) v(what, q);
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT what, rm.sqlstate(q) FROM (VALUES
	('protect', 'SELECT crm_purge_protect(''rm.acct'')'),
	('unprotect', 'SELECT crm_purge_unprotect(''rm.note'')'),
	('guard', 'SELECT crm_purge_guard(''rm.contact'')'),
	('restore', 'SELECT crm_purge_restore(''rm.acct'')'),
	('request', 'SELECT crm_purge_request(''rm.deal'', ''1 day'')'),
	('request delete_only', 'SELECT crm_purge_request(''rm.note'', ''1 day'', ''delete_only'')'),
	('export_files', 'SELECT crm_purge_export_files(' || :exp_req || ')'),
	('export_read', 'SELECT crm_purge_export_read(' || :exp_req || ', 1)'),
	('hold', 'SELECT crm_purge_hold(''rm.acct'', ''true'', current_date + 1, ''x'')'),
	('release', 'SELECT crm_purge_release(' || :hold_a || ')'),
	('mark', 'SELECT crm_purge_mark(''rm.acct'', ''true'')'),
	('unmark', 'SELECT crm_purge_unmark(''rm.acct'', ''true'')'),
	('relate', 'SELECT crm_purge_relate(''rm.acct'', ''rm.contact'', ''keep'')'),
	('anonymize', 'SELECT crm_purge_anonymize(''rm.contact'', ''name'', ''null'')'),
	('erase_preview', 'SELECT * FROM crm_purge_erase_preview(''rm.acct'', ''id = 20'')'),
	('erase', 'SELECT crm_purge_erase(''rm.acct'', ''id = 20'', ''gdpr'')'),
	('delete_keys', 'SELECT * FROM crm_purge_delete_keys(''rm.acct'', ARRAY[''20''])'),
	('delete_where', 'SELECT crm_purge_delete_where(''rm.acct'', ''id = 20'')'),
	('forget', 'SELECT crm_purge_forget(''rm.contact'', ''21'')'),
	('schedule', 'SELECT crm_purge_schedule(''rm.deal'', ''30 days'')')) v(what, q);
RESET ROLE;
SELECT count(*) AS acct_20_live FROM rm.acct WHERE id = 20;
SELECT count(*) AS protected FROM crm_purge_overview WHERE "table"::text LIKE 'rm.%';

-- 11. the rest of the matrix on the contract's views, at the end
SET ROLE regress_rm_owner;
SELECT action, "table", rows, actor FROM crm_purge_history ORDER BY at, action, "table";
RESET ROLE;
SET ROLE regress_rm_blind;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
RESET ROLE;
-- every role is still an ordinary role
SELECT rolname, rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname LIKE 'regress\_rm\_%' ORDER BY 1;

\c contrib_regression
DROP DATABASE crm_purge_roles;
DROP ROLE regress_rm_owner, regress_rm_admin, regress_rm_user, regress_rm_blind;
