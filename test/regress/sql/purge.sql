-- the pending permanent purge: mark, activate, cancel, run when due
\set SHOW_CONTEXT never
CREATE TABLE pdeals (id int PRIMARY KEY, title text);
CREATE TABLE ptasks (id int PRIMARY KEY, title text);
INSERT INTO pdeals SELECT g, 'deal ' || g FROM generate_series(1, 10) g;
INSERT INTO ptasks SELECT g, 'task ' || g FROM generate_series(1, 5) g;
SELECT crm_purge_protect('pdeals');
SELECT crm_purge_protect('ptasks');
DELETE FROM pdeals WHERE id <= 6;
DELETE FROM ptasks WHERE id <= 2;

-- nothing marked yet
SELECT crm_purge_activate();
SELECT crm_purge_mark('pdeals', 'id <= 4');
SELECT crm_purge_mark('pdeals', 'id <= 4');
SELECT crm_purge_unmark('pdeals', 'id = 4');
SELECT crm_purge_mark('ptasks', NULL);
SELECT id, marked_at IS NOT NULL AS marked FROM crm_trash.public__pdeals ORDER BY id;
SELECT "table", live_rows, trashed_rows, marked_rows, pending_purge_id, live_bytes > 0 AS has_bytes,
       trashed_bytes > 0 AS trash_bytes
FROM crm_purge_overview WHERE "table" IN ('pdeals'::regclass, 'ptasks'::regclass);

-- not in an older snapshot: a mark made after an activation it did not see
-- joined the pending purge (review round 55, B55-2)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT crm_purge_mark('pdeals', 'id = 5');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT crm_purge_activate();
ROLLBACK;

-- activate: one purge, due after pending_period, all admins told
SET crm_purge.pending_period = '1h';
SELECT crm_purge_activate() AS p1 \gset
SELECT id, status, rows, due_at - activated_at AS pending_for FROM crm_purge.purges;
SELECT "table", marked_rows, pending_purge_id = :p1 AS this_purge,
       pending_due_at > now() AS in_future FROM crm_purge_overview
WHERE "table" IN ('pdeals'::regclass, 'ptasks'::regclass);
SELECT crm_purge_activate();
SELECT crm_purge_mark('pdeals', 'id = 5');
SELECT crm_purge_unmark('pdeals', 'id = 1');
SELECT event, recipient, payload->>'rows' FROM crm_purge.notifications WHERE purge_id = :p1 ORDER BY id;
-- not due yet: nothing happens
SELECT crm_purge_tick() ->> 'purge_batches';
SELECT count(*) FROM crm_trash.public__pdeals;

-- any admin may cancel while pending; the marks stay
CREATE ROLE regress_purge_admin LOGIN IN ROLE crm_purge_admin;
SET ROLE regress_purge_admin;
SELECT crm_purge_cancel(:p1);
RESET ROLE;
SELECT status, cancelled_by FROM crm_purge.purges WHERE id = :p1;
SELECT crm_purge_cancel(:p1);
SELECT sum(marked_rows) FROM crm_purge_overview;

-- a new activation includes the marks; a restored row leaves the purge
SET crm_purge.pending_period = 0;
SELECT crm_purge_activate() AS p2 \gset
SELECT crm_purge_restore('pdeals', 'id = 2');
SELECT crm_purge_tick() ->> 'purge_batches' AS batches;
SELECT status, rows, rows_done, finished_at IS NOT NULL AS finished FROM crm_purge.purges WHERE id = :p2;
SELECT id FROM crm_trash.public__pdeals ORDER BY id;
SELECT count(*) FROM crm_trash.public__ptasks;
SELECT id FROM pdeals ORDER BY id;
SELECT crm_purge_cancel(:p2);
SELECT event, count(*) FROM crm_purge.notifications WHERE purge_id = :p2 GROUP BY 1 ORDER BY 1;
SELECT action, "table", rows, actor, purge_id IS NOT NULL AS has_purge FROM crm_purge_history
WHERE action LIKE 'purge%' ORDER BY at, action;
SELECT "table", trashed_rows, marked_rows, pending_purge_id FROM crm_purge_overview
WHERE "table" IN ('pdeals'::regclass, 'ptasks'::regclass);
RESET crm_purge.pending_period;

-- in batches
DELETE FROM pdeals;
SELECT crm_purge_mark('pdeals', NULL);
SET crm_purge.pending_period = 0;
SET crm_purge.batch_size = 2;
SELECT crm_purge_activate() AS p3 \gset
SELECT crm_purge_tick() ->> 'purge_batches' AS batches;
SELECT status, rows, rows_done FROM crm_purge.purges WHERE id = :p3;
RESET crm_purge.batch_size;
RESET crm_purge.pending_period;

-- bad input and permissions
SELECT crm_purge_mark(NULL, 'true');
SELECT crm_purge_mark('pg_class', 'true');
SELECT crm_purge_mark('pdeals', 'id = ');
SELECT crm_purge_mark('pdeals', 'true; DELETE FROM pdeals');
SELECT crm_purge_cancel(NULL);
SELECT crm_purge_cancel(424242);
SELECT crm_purge_cancel(:p3);
CREATE ROLE regress_purge_user LOGIN;
SET ROLE regress_purge_user;
SELECT crm_purge_mark('pdeals', 'true');
SELECT crm_purge_unmark('pdeals', 'true');
SELECT crm_purge_activate();
SELECT crm_purge_cancel(:p3);
SELECT * FROM crm_purge_overview;
SELECT * FROM crm_purge_history;
RESET ROLE;
-- history holds no row contents or key values
SELECT count(*) FROM crm_purge.history h
WHERE h::text LIKE '%deal %' OR h::text LIKE '%task %';

-- a table unprotected while its purge waited: its marked rows stay in the
-- kept trash, and the purge says so (it ended done in silence)
CREATE TABLE pkept (id int PRIMARY KEY);
INSERT INTO pkept SELECT generate_series(1, 3);
SELECT crm_purge_protect('pkept');
DELETE FROM pkept;
SELECT crm_purge_mark('pkept', NULL);
SET crm_purge.pending_period = '1h';
SELECT crm_purge_activate() AS p4 \gset
SELECT crm_purge_unprotect('pkept');
UPDATE crm_purge.purges SET due_at = now() WHERE id = :p4;
SELECT crm_purge_tick() ->> 'purge_batches' AS batches;
SELECT status FROM crm_purge.purges WHERE id = :p4;
SELECT action, "table", rows FROM crm_purge_history WHERE purge_id = :p4 ORDER BY action;
SELECT count(*) AS still_marked FROM crm_trash.public__pkept WHERE marked_at IS NOT NULL;
DROP TABLE pkept, crm_trash.public__pkept;
RESET crm_purge.pending_period;
