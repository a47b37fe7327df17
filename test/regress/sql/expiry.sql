-- trash older than its retention is removed for good, in batches
\set SHOW_CONTEXT never
CREATE TABLE calls (id int PRIMARY KEY, note text);
CREATE TABLE tasks (id int PRIMARY KEY, note text);
INSERT INTO calls SELECT g, 'call ' || g FROM generate_series(1, 7) g;
INSERT INTO tasks SELECT g, 'task ' || g FROM generate_series(1, 3) g;
SELECT crm_purge_protect('calls', '1 day');
SELECT crm_purge_protect('tasks');
DELETE FROM calls;
DELETE FROM tasks;
-- five calls are two days old, the rest fresh; tasks use the default retention
UPDATE crm_trash.public__calls SET deleted_at = now() - interval '2 days' WHERE id <= 5;
UPDATE crm_trash.public__tasks SET deleted_at = now() - interval '2 hours';
-- the newest segment is not read while younger than the retention (a long
-- statement's rows in it expire once it is older)
SELECT crm_purge_tick() ->> 'trash_expired' AS expired_while_young;
-- age it too
UPDATE crm_purge.trash_segments SET created_at = now() - interval '2 days';
SET crm_purge.batch_size = 2;
SET crm_purge.trash_segment_age = '1h';
SELECT crm_purge_tick();
SELECT id FROM crm_trash.public__calls ORDER BY id;
SELECT count(*) FROM crm_trash.public__tasks;
-- a segment made over crm_purge.trash_segment_age ago is sealed once its
-- first row is that old too (tasks), not before (calls: rows 6, 7 came first)
SELECT trash, segment, sealed_at IS NOT NULL AS sealed FROM crm_purge.trash_segments
WHERE trash IN ('crm_trash.public__calls'::regclass, 'crm_trash.public__tasks'::regclass) ORDER BY 1, 2;
RESET crm_purge.trash_segment_age;
SET crm_purge.trash_retention = '1h';
SELECT crm_purge_tick();
SELECT count(*) FROM crm_trash.public__tasks;
SELECT action, table_name, sum(rows) FROM crm_purge.history
WHERE action = 'trash expiry' GROUP BY 1, 2 ORDER BY 2;
RESET crm_purge.trash_retention;
RESET crm_purge.batch_size;
SELECT crm_purge_tick();
-- a batch full of rows a legal hold keeps does not stop expiry: the next
-- batches read on past them, in key order
CREATE TABLE hx (id int PRIMARY KEY);
INSERT INTO hx SELECT generate_series(1, 9);
SELECT crm_purge_protect('hx', '1 day');
DELETE FROM hx;
UPDATE crm_trash.public__hx SET deleted_at = now() - interval '2 days';
UPDATE crm_purge.trash_segments SET created_at = now() - interval '2 days'
WHERE trash = 'crm_trash.public__hx'::regclass;
SELECT crm_purge_hold('hx', 'id <= 3', NULL, 'litigation') AS hx_hold \gset
SET crm_purge.batch_size = 3;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
SELECT id FROM crm_trash.public__hx ORDER BY id;
RESET crm_purge.batch_size;
SELECT crm_purge_release(:hx_hold);
SELECT crm_purge_tick() IS NOT NULL AS ticked;
SELECT count(*) AS left_after_release FROM crm_trash.public__hx;
