\set SHOW_CONTEXT never
-- partitions: a partitioned table protected as a whole.  The owner is a
-- non-superuser admin; the application (no admin) deletes.
CREATE DATABASE crm_purge_parts;
\c crm_purge_parts
\set SHOW_CONTEXT never
CREATE EXTENSION crm_purge;
CREATE ROLE regress_pt_owner LOGIN IN ROLE crm_purge_admin;
CREATE ROLE regress_pt_app LOGIN;
CREATE ROLE regress_pt_admin LOGIN IN ROLE crm_purge_admin;
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
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname LIKE 'crm_purge%' ORDER BY tgrelid::regclass::text, 2;
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
-- and an erase or permanent delete that names the partition; a hold names
-- no partition
SELECT tableoid::regclass AS part5 FROM pt.events WHERE id = 5 \gset
SELECT crm_purge_erase(:'part5', 'id = 5', 'GDPR');
SELECT crm_purge_delete_where(:'part5', 'id = 5', permanent => true);
SELECT crm_purge_hold(:'part5', 'id = 6', NULL, 'litigation');
SELECT count(*) AS still_live FROM pt.events WHERE id IN (5, 6);
SELECT crm_purge_release(:hold);
-- a hold made on a table that becomes a partition later keeps its rows
-- when the partitioned table is worked on
CREATE TABLE pt.ev_old (id int, month date, body text, PRIMARY KEY (id, month));
INSERT INTO pt.ev_old VALUES (900, '2025-06-01', 'held'), (901, '2025-06-02', 'free');
SELECT crm_purge_hold('pt.ev_old', 'id = 900', NULL, 'litigation') AS hold_old \gset
ALTER TABLE pt.events ATTACH PARTITION pt.ev_old FOR VALUES FROM ('2025-06-01') TO ('2025-07-01');
SELECT crm_purge_erase('pt.events', 'id IN (900, 901)', 'GDPR');
SELECT count(*) AS still_live FROM pt.events WHERE id IN (900, 901);
-- nor is the trash dropped under it
DELETE FROM pt.events WHERE id = 900;
SELECT crm_purge_unprotect('pt.events', drop_trash => true);
SELECT crm_purge_restore('pt.events', 'id = 900') AS restored;
-- nor is the held partition dropped or detached (CONCURRENTLY too), nor
-- the table it belongs to dropped; nor a held table by DROP SCHEMA
ALTER TABLE pt.events DETACH PARTITION pt.ev_old;
ALTER TABLE pt.events DETACH PARTITION pt.ev_old CONCURRENTLY;
DROP TABLE pt.ev_old;
DROP TABLE pt.events;
RESET ROLE;
CREATE SCHEMA pt_gone;
CREATE TABLE pt_gone.t (id int PRIMARY KEY);
INSERT INTO pt_gone.t VALUES (1);
SELECT crm_purge_hold('pt_gone.t', 'id = 1', NULL, 'litigation') AS hold_gone \gset
DROP SCHEMA pt_gone CASCADE;
SELECT crm_purge_release(:hold_gone);
DROP SCHEMA pt_gone CASCADE;
-- nor by DROP TYPE ... CASCADE: a held typed table, or a held trash's column
CREATE TYPE pt.rowtype AS (id int, body text);
CREATE TABLE pt.typed OF pt.rowtype (PRIMARY KEY (id));
INSERT INTO pt.typed VALUES (1, 'held');
SELECT crm_purge_hold('pt.typed', 'id = 1', NULL, 'litigation') AS hold_typed \gset
DROP TYPE pt.rowtype CASCADE;
CREATE TYPE pt.mood AS ENUM ('calm', 'cross');
CREATE TABLE pt.moody (id int PRIMARY KEY, m pt.mood);
SELECT crm_purge_protect('pt.moody');
INSERT INTO pt.moody VALUES (1, 'cross');
DELETE FROM pt.moody;
SELECT crm_purge_hold('pt.moody', 'id = 1', NULL, 'litigation') AS hold_moody \gset
DROP TYPE pt.mood CASCADE;
SELECT (SELECT count(*) FROM pt.typed) AS typed_rows, (SELECT m FROM crm_trash.pt__moody) AS trashed_mood;
SELECT crm_purge_release(:hold_typed);
SELECT crm_purge_release(:hold_moody);
SET ROLE regress_pt_owner;
SELECT crm_purge_release(:hold_old);
-- a protected or guarded table is not attached under a table that is not:
-- a DELETE there removed its rows past its trash, and an erase there filed
-- tombstones its guard never read (the erased key came back)
CREATE TABLE pt.up (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE pt.up_prot (id int PRIMARY KEY);
CREATE TABLE pt.up_guard (id int PRIMARY KEY);
SELECT crm_purge_protect('pt.up_prot');
SELECT crm_purge_guard('pt.up_guard', 'error');
ALTER TABLE pt.up ATTACH PARTITION pt.up_prot FOR VALUES FROM (0) TO (100);
ALTER TABLE pt.up ATTACH PARTITION pt.up_guard FOR VALUES FROM (100) TO (200);
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'pt.up'::regclass;
-- the same on an unprotected partitioned table
CREATE TABLE pt.plain (id int, k int, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
CREATE TABLE pt.plain_1 PARTITION OF pt.plain FOR VALUES IN (1);
CREATE TABLE pt.plain_2 PARTITION OF pt.plain FOR VALUES IN (2);
INSERT INTO pt.plain VALUES (1, 1), (2, 2);
SELECT crm_purge_erase('pt.plain', 'id = 1', 'GDPR');
SELECT * FROM pt.plain;

-- requests on a partitioned table, partition by partition: a partition
-- whose rows are all old goes whole (exported, detached, dropped), the
-- others row by row; a held row turns its partition back into row work
SET crm_purge.batch_size = 7;
SET ROLE regress_pt_owner;
CREATE TABLE pt.acts (id int, modified_at timestamptz NOT NULL, note text, PRIMARY KEY (id, modified_at))
    PARTITION BY RANGE (modified_at);
CREATE TABLE pt.acts_1 PARTITION OF pt.acts FOR VALUES FROM ('2020-01-01') TO ('2020-02-01');
CREATE TABLE pt.acts_2 PARTITION OF pt.acts FOR VALUES FROM ('2020-02-01') TO ('2020-03-01');
CREATE TABLE pt.acts_3 PARTITION OF pt.acts FOR VALUES FROM ('2020-03-01') TO ('2020-04-01');
CREATE TABLE pt.acts_4 PARTITION OF pt.acts FOR VALUES FROM ('2020-04-01') TO ('2100-01-01');
INSERT INTO pt.acts SELECT g, timestamptz '2020-01-01' + make_interval(days => g), 'act ' || g FROM generate_series(0, 99) g;
UPDATE pt.acts SET modified_at = now() WHERE id IN (70, 71);   -- moves them to acts_4
-- a dropped partition's rows are counted from its pages: all-visible ones
-- (acts_2, vacuumed) by their line pointers, the others (acts_1: a dead row,
-- an aborted insert) row by row
VACUUM pt.acts_1, pt.acts_2;
DELETE FROM pt.acts WHERE id = 5;
BEGIN;
INSERT INTO pt.acts VALUES (1000, '2020-01-20', 'rolled back');
ROLLBACK;
SELECT crm_purge_protect('pt.acts');
-- everything before 2020-03-15: acts_1 and acts_2 whole, acts_3 half
SELECT crm_purge_request('pt.acts', now() - timestamptz '2020-03-15', 'delete_only') AS r1 \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT status, rows, rows_done FROM crm_purge_requests WHERE id = :r1;
SELECT batch, rows, outcome FROM crm_purge_report(:r1) WHERE outcome <> 'ok' OR rows > 0 ORDER BY batch;
SELECT relname FROM pg_class WHERE relname LIKE 'acts\__' ORDER BY 1;
SELECT min(modified_at)::date, count(*) FROM pt.acts;
SELECT count(*) AS trashed FROM crm_trash.pt__acts;
SELECT action, "table", rows FROM crm_purge_history WHERE request_id = :r1 ORDER BY action;

-- export_and_delete with a held row in acts_3: acts_3 goes row by row, the
-- held row stays; acts_4 has rows too new
SELECT crm_purge_hold('pt.acts', 'id = 80', NULL, 'audit') AS hold \gset
SELECT crm_purge_request('pt.acts', now() - timestamptz '2020-04-01') AS r2 \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT status, rows, rows_done FROM crm_purge_requests WHERE id = :r2;
SELECT relname FROM pg_class WHERE relname LIKE 'acts\__' ORDER BY 1;
SELECT id FROM pt.acts WHERE modified_at < '2020-04-01' ORDER BY id;
SELECT sum(rows) AS exported FROM crm_purge_export_files(:r2);
SELECT crm_purge_release(:hold);
-- without the hold, acts_3 (now only the formerly held row) goes whole
SELECT crm_purge_request('pt.acts', now() - timestamptz '2020-04-01') AS r3 \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT batch, rows, outcome FROM crm_purge_report(:r3) WHERE rows > 0 ORDER BY batch;
SELECT sum(rows) AS exported FROM crm_purge_export_files(:r3);
SELECT split_part(crm_purge_export_read(:r3, 1), E'\n', 1) AS header;
SELECT relname FROM pg_class WHERE relname LIKE 'acts\__' ORDER BY 1;
SELECT id FROM pt.acts ORDER BY id;

-- a partition something depends on (a view) is kept and emptied row by
-- row; an admin who does not own the table never drops partitions
SET ROLE regress_pt_owner;
CREATE TABLE pt.logs (id int, modified_at timestamptz NOT NULL, PRIMARY KEY (id, modified_at)) PARTITION BY RANGE (modified_at);
CREATE TABLE pt.logs_1 PARTITION OF pt.logs FOR VALUES FROM ('2020-01-01') TO ('2020-02-01');
CREATE TABLE pt.logs_2 PARTITION OF pt.logs FOR VALUES FROM ('2020-02-01') TO ('2020-03-01');
CREATE TABLE pt.logs_3 PARTITION OF pt.logs FOR VALUES FROM ('2020-03-01') TO ('2020-04-01');
INSERT INTO pt.logs SELECT g, timestamptz '2020-01-01' + make_interval(days => g) FROM generate_series(0, 59) g;
CREATE VIEW pt.logs_2_view AS SELECT * FROM pt.logs_2;
GRANT SELECT, DELETE ON pt.logs TO regress_pt_admin;
SELECT crm_purge_request('pt.logs', now() - timestamptz '2020-03-01', 'delete_only') AS r4 \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT batch, rows, regexp_replace(outcome, '\(.*\)', '(...)') AS outcome FROM crm_purge_report(:r4)
WHERE rows > 0 OR outcome <> 'ok' ORDER BY batch;
SELECT relname FROM pg_class WHERE relname LIKE 'logs\__' ORDER BY 1;
SELECT count(*) AS left_in_2 FROM pt.logs_2;
INSERT INTO pt.logs SELECT g, timestamptz '2020-03-01' + make_interval(days => g % 28) FROM generate_series(100, 119) g;
RESET ROLE;
SET ROLE regress_pt_admin;
SELECT crm_purge_request('pt.logs', now() - timestamptz '2020-04-01', 'delete_only') AS r5 \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT count(*) AS batches, sum(rows) AS rows, bool_or(outcome LIKE '%dropped%') AS dropped FROM crm_purge_report(:r5);
RESET ROLE;
SELECT relname FROM pg_class WHERE relname LIKE 'logs\__' ORDER BY 1;
SELECT count(*) AS logs_left FROM pt.logs;

-- a review's findings, each as it was found
SET ROLE regress_pt_owner;
-- (1) a partition key that is an expression (the owner's code would run as
-- the creator): refused up front
CREATE FUNCTION pt.k(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 % 2';
CREATE TABLE pt.ex (id int, modified_at timestamptz NOT NULL) PARTITION BY LIST (pt.k(id));
CREATE TABLE pt.ex_0 PARTITION OF pt.ex FOR VALUES IN (0);
SELECT crm_purge_request('pt.ex', '1 day', 'delete_only');
-- (2) an UPDATE that moves a row to another partition of a protected table
-- is no deletion
UPDATE pt.acts SET modified_at = now() - interval '1 hour' WHERE id = 70;
SELECT count(*) AS trashed_by_the_move FROM crm_trash.pt__acts WHERE id = 70;
-- (3) a key referencing a partition ON DELETE CASCADE: refused up front
CREATE TABLE pt.acts_ref (id int PRIMARY KEY, a_id int, a_at timestamptz,
    FOREIGN KEY (a_id, a_at) REFERENCES pt.acts_4 ON DELETE CASCADE);
SELECT crm_purge_request('pt.acts', '1 day', 'delete_only');
DROP TABLE pt.acts_ref;
-- (5) hash and list partitions, and a default one, never go whole (dropping
-- them would change what the table accepts): row work
CREATE TABLE pt.h (id int, modified_at timestamptz NOT NULL, PRIMARY KEY (id)) PARTITION BY HASH (id);
CREATE TABLE pt.h_0 PARTITION OF pt.h FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE pt.h_1 PARTITION OF pt.h FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE pt.d (id int, modified_at timestamptz NOT NULL) PARTITION BY LIST (id);
CREATE TABLE pt.d_def PARTITION OF pt.d DEFAULT;
INSERT INTO pt.h SELECT g, '2020-01-01' FROM generate_series(1, 10) g;
INSERT INTO pt.d SELECT g, '2020-01-01' FROM generate_series(1, 10) g;
SELECT crm_purge_request('pt.h', '1 day', 'delete_only') AS rh \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT crm_purge_request('pt.d', '1 day', 'delete_only') AS rd \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT id, status, rows_done, (SELECT bool_or(outcome LIKE '%dropped%') FROM crm_purge_report(id)) AS dropped
FROM crm_purge_requests WHERE id IN (:rh, :rd) ORDER BY id;
SELECT relname FROM pg_class WHERE relname IN ('h_0', 'h_1', 'd_def') ORDER BY 1;
INSERT INTO pt.h VALUES (11, now());
-- (9) a leaf two levels down goes whole, detached from its own parent
CREATE TABLE pt.m (id int, region text, modified_at timestamptz NOT NULL) PARTITION BY LIST (region);
CREATE TABLE pt.m_eu PARTITION OF pt.m FOR VALUES IN ('eu') PARTITION BY RANGE (modified_at);
CREATE TABLE pt.m_eu_2020 PARTITION OF pt.m_eu FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE pt.m_eu_now PARTITION OF pt.m_eu FOR VALUES FROM ('2021-01-01') TO (MAXVALUE);
INSERT INTO pt.m VALUES (1, 'eu', '2020-05-01'), (2, 'eu', now());
SELECT crm_purge_request('pt.m', '1 day', 'delete_only') AS rm \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT status, rows_done FROM crm_purge_requests WHERE id = :rm;
SELECT relname FROM pg_class WHERE relname LIKE 'm\_eu%' ORDER BY 1;
RESET ROLE;
-- (8) the trash trigger attached by a plain user to a table of their own
-- makes no unlink triggers and records nothing
CREATE SCHEMA pt_u AUTHORIZATION regress_pt_app;
SET ROLE regress_pt_app;
CREATE TABLE pt_u.p (id int PRIMARY KEY);
CREATE TRIGGER crm_purge_trash AFTER DELETE ON pt_u.p FOR EACH ROW EXECUTE FUNCTION crm_purge.trash_trigger();
CREATE TABLE pt_u.c (id int PRIMARY KEY, pid int REFERENCES pt_u.p ON DELETE SET NULL);
ALTER TABLE pt_u.p DISABLE TRIGGER crm_purge_trash;
INSERT INTO pt_u.p VALUES (1);
INSERT INTO pt_u.c VALUES (1, 1);
DELETE FROM pt_u.p;
RESET ROLE;
SELECT count(*) AS unlink_triggers FROM pg_trigger WHERE tgrelid = 'pt_u.c'::regclass AND tgname LIKE 'crm_purge%';
SELECT count(*) AS unlinks FROM crm_purge.unlinks WHERE child = 'pt_u.c'::regclass;

-- a partitioned table that others reference ON DELETE CASCADE is refused up front
CREATE TABLE pt.acc (id int, k int, modified_at timestamptz, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
CREATE TABLE pt.acc_1 PARTITION OF pt.acc FOR VALUES IN (1);
CREATE TABLE pt.acc_child (id int PRIMARY KEY, acc_id int, acc_k int, FOREIGN KEY (acc_id, acc_k) REFERENCES pt.acc ON DELETE CASCADE);
SELECT crm_purge_request('pt.acc', '1 day', 'delete_only');
RESET ROLE;
RESET crm_purge.batch_size;

-- the guard of a partitioned table checks its tombstones in every
-- partition, on every level
RESET ROLE;
CREATE TABLE pt.gq (id int, region int, email text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE pt.gq1 PARTITION OF pt.gq FOR VALUES IN (1);
CREATE TABLE pt.gq2 PARTITION OF pt.gq FOR VALUES IN (2) PARTITION BY LIST (id);
CREATE TABLE pt.gq2a PARTITION OF pt.gq2 DEFAULT;
SELECT crm_purge_protect('pt.gq');
INSERT INTO pt.gq VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 1, 'c');
SELECT crm_purge_guard('pt.gq', 'error', ARRAY['email']);
SELECT crm_purge_erase('pt.gq', 'id IN (1, 2)', 'GDPR');
INSERT INTO pt.gq VALUES (1, 1, 'new');
INSERT INTO pt.gq VALUES (2, 2, 'new');
INSERT INTO pt.gq VALUES (9, 1, 'a');
INSERT INTO pt.gq VALUES (9, 2, 'b');
INSERT INTO pt.gq VALUES (4, 2, 'd');
SELECT * FROM pt.gq ORDER BY id;
DELETE FROM crm_purge.tombstones WHERE tbl = 'pt.gq'::regclass;
SELECT crm_purge_unprotect('pt.gq', true);
DROP TABLE pt.gq;

-- unprotect takes every trigger off the partitions too
SELECT crm_purge_unprotect('pt.events');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'crm_purge%' AND tgrelid::regclass::text LIKE 'pt.events%';
RESET ROLE;

-- nor a held table's partition or inheritance child in another schema, by
-- DROP SCHEMA or DROP OWNED (once dropped, nothing tied it to the hold)
CREATE ROLE regress_pt_far;
CREATE SCHEMA pt_far AUTHORIZATION regress_pt_far;
CREATE SCHEMA pt_near AUTHORIZATION regress_pt_far;
SET ROLE regress_pt_far;
CREATE TABLE pt_near.hp (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE pt_far.hp1 PARTITION OF pt_near.hp FOR VALUES FROM (0) TO (100);
CREATE TABLE pt_near.kp (id int PRIMARY KEY);
CREATE TABLE pt_far.kc (id int PRIMARY KEY) INHERITS (pt_near.kp);
INSERT INTO pt_near.hp VALUES (1);
INSERT INTO pt_far.kc VALUES (1);
RESET ROLE;
SELECT crm_purge_hold('pt_near.hp', 'true', NULL, 'litigation') AS hold_hp \gset
SELECT crm_purge_hold('pt_near.kp', 'true', NULL, 'litigation') AS hold_kp \gset
-- (either held table may be named first)
SET ROLE regress_pt_far;
DO $$BEGIN DROP SCHEMA pt_far CASCADE;
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', regexp_replace(SQLERRM, 'pt_far[.](hp1|kc): legal hold [0-9]+', 'pt_far.<table>: legal hold <id>'); END$$;
RESET ROLE;
DO $$BEGIN DROP OWNED BY regress_pt_far;
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', regexp_replace(SQLERRM, 'pt_far[.](hp1|kc): legal hold [0-9]+', 'pt_far.<table>: legal hold <id>'); END$$;
SELECT (SELECT count(*) FROM pt_near.hp) AS hp, (SELECT count(*) FROM pt_near.kp) AS kp;
SELECT crm_purge_release(:hold_hp), crm_purge_release(:hold_kp);
-- nor emptied by TRUNCATE, directly or by CASCADE (unprotected tables too)
CREATE TABLE pt_near.tp (id int PRIMARY KEY);
CREATE TABLE pt_near.tc (id int PRIMARY KEY, pid int REFERENCES pt_near.tp);
INSERT INTO pt_near.tp VALUES (1);
INSERT INTO pt_near.tc VALUES (10, 1);
SELECT crm_purge_hold('pt_near.tc', 'true', NULL, 'litigation') AS hold_tc \gset
TRUNCATE pt_near.tc;
TRUNCATE pt_near.tp CASCADE;
SELECT count(*) AS held_rows FROM pt_near.tc;
SELECT crm_purge_release(:hold_tc);
DROP TABLE pt_near.tc, pt_near.tp;
DROP OWNED BY regress_pt_far;
DROP ROLE regress_pt_far;
-- nor may a protected or guarded table inherit from another (a DELETE on
-- that one would reach its rows past its trash)
CREATE TABLE pt.inh_parent (id int PRIMARY KEY);
CREATE TABLE pt.inh_kid (id int PRIMARY KEY);
SELECT crm_purge_protect('pt.inh_kid');
ALTER TABLE pt.inh_kid INHERIT pt.inh_parent;
SELECT crm_purge_unprotect('pt.inh_kid', drop_trash => true);
SELECT crm_purge_guard('pt.inh_kid');
ALTER TABLE pt.inh_kid INHERIT pt.inh_parent;
DROP TABLE pt.inh_parent, pt.inh_kid;

-- a request on a partitioned table keeps the parents of held rows that a
-- key referencing one of its partitions ON DELETE SET NULL would unlink
SET ROLE regress_pt_owner;
CREATE TABLE pt.pp (id int, modified_at timestamptz NOT NULL, PRIMARY KEY (id, modified_at)) PARTITION BY RANGE (modified_at);
CREATE TABLE pt.pp_old PARTITION OF pt.pp FOR VALUES FROM ('2000-01-01') TO ('2021-01-01');
CREATE TABLE pt.pp_new PARTITION OF pt.pp FOR VALUES FROM ('2021-01-01') TO ('2030-01-01');
INSERT INTO pt.pp SELECT g, timestamptz '2020-06-01' + g * interval '1 hour' FROM generate_series(1, 10) g;
CREATE TABLE pt.pch (id int PRIMARY KEY, pp_id int, pp_mod timestamptz,
	FOREIGN KEY (pp_id, pp_mod) REFERENCES pt.pp_old ON DELETE SET NULL);
INSERT INTO pt.pch SELECT g, g, timestamptz '2020-06-01' + g * interval '1 hour' FROM generate_series(1, 10) g;
GRANT SELECT, DELETE ON pt.pp, pt.pch TO regress_pt_admin;
RESET ROLE;
SET ROLE regress_pt_admin;
SELECT crm_purge_hold('pt.pch', 'id <= 5', NULL, 'litigation') IS NOT NULL AS held;
SELECT crm_purge_request('pt.pp', '1 year', 'delete_only') AS rpp \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT status, rows, rows_done FROM crm_purge_requests WHERE id = :rpp;
RESET ROLE;
SELECT count(*) FILTER (WHERE pp_id IS NOT NULL) AS still_linked, count(*) FILTER (WHERE id <= 5 AND pp_id IS NULL) AS held_unlinked
FROM pt.pch;

-- a partition attached or made while a request works the default
-- partition changes the default's bound: the batches keep to the default
-- partition's own rows (review round 39, B39-2): no held row of the new
-- partition, no row the filter did not pick, is deleted
SET ROLE regress_pt_owner;
CREATE TABLE pt.pz (id int, kind text, modified_at timestamptz NOT NULL, PRIMARY KEY (id, modified_at))
	PARTITION BY RANGE (modified_at);
CREATE TABLE pt.pz_d PARTITION OF pt.pz DEFAULT;
INSERT INTO pt.pz SELECT g, CASE WHEN g % 2 = 0 THEN 'junk' ELSE 'keep' END, '2024-01-01' FROM generate_series(1, 3000) g;
CREATE TABLE pt.pz_x (id int, kind text, modified_at timestamptz NOT NULL, PRIMARY KEY (id, modified_at));
INSERT INTO pt.pz_x SELECT 100000 + g, 'junk', '2020-06-01' FROM generate_series(1, 3000) g;
GRANT SELECT, DELETE ON pt.pz TO regress_pt_admin;
RESET ROLE;
SET ROLE regress_pt_admin;
SELECT crm_purge_request('pt.pz', '30 days', 'delete_only', 'modified_at', $$kind = 'junk'$$) AS rpz \gset
RESET ROLE;
SET crm_purge.batch_size = 100;
SET crm_purge.idle_batch_size = 100;
SELECT crm_purge._tick_step(true) IS NOT NULL AS stepped;
SELECT crm_purge._tick_step(false) IS NOT NULL AS stepped;
SELECT status, rows_done < 1500 AS partly FROM crm_purge_requests WHERE id = :rpz;
SET ROLE regress_pt_owner;
ALTER TABLE pt.pz ATTACH PARTITION pt.pz_x FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
RESET ROLE;
SET ROLE regress_pt_admin;
SELECT crm_purge_hold('pt.pz', 'id > 100000', NULL, 'litigation') AS pz_hold \gset
RESET ROLE;
CALL crm_purge_run();
RESET crm_purge.batch_size;
RESET crm_purge.idle_batch_size;
SELECT status, rows, rows_done FROM crm_purge_requests WHERE id = :rpz;
SELECT tableoid::regclass, kind, count(*) FROM pt.pz GROUP BY 1, 2 ORDER BY 1, 2;
SELECT crm_purge_release(:pz_hold);
DROP TABLE pt.pz;

-- ALTER INDEX ... ATTACH PARTITION, as pg_dump writes a partitioned
-- primary key, failed with "is an index" (review round 53, B53-1)
CREATE TABLE pt.pidx (id int NOT NULL, v text) PARTITION BY RANGE (id);
CREATE TABLE pt.pidx_1 PARTITION OF pt.pidx FOR VALUES FROM (0) TO (100);
ALTER TABLE ONLY pt.pidx ADD CONSTRAINT pidx_pkey PRIMARY KEY (id);
ALTER TABLE ONLY pt.pidx_1 ADD CONSTRAINT pidx_1_pkey PRIMARY KEY (id);
ALTER INDEX pt.pidx_pkey ATTACH PARTITION pt.pidx_1_pkey;
SELECT indisvalid FROM pg_index WHERE indexrelid = 'pt.pidx_pkey'::regclass;
DROP TABLE pt.pidx;

-- a published table's partition is not dropped whole: logical replicas
-- see DELETEs, not a dropped partition (review round 70, B70-4)
CREATE TABLE pt.pubd (id int, modified_at timestamptz NOT NULL, PRIMARY KEY (id, modified_at)) PARTITION BY RANGE (modified_at);
CREATE TABLE pt.pubd_1 PARTITION OF pt.pubd FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE pt.pubd_2 PARTITION OF pt.pubd FOR VALUES FROM ('2021-01-01') TO ('2100-01-01');
INSERT INTO pt.pubd SELECT g, timestamptz '2020-01-01' + make_interval(days => g) FROM generate_series(0, 9) g;
SET client_min_messages = error;
CREATE PUBLICATION pubd_pub FOR TABLE pt.pubd;
RESET client_min_messages;
SELECT crm_purge_request('pt.pubd', now() - timestamptz '2020-06-01', 'delete_only') AS rp \gset
SELECT crm_purge_tick() ->> 'requests_finished' AS finished;
SELECT status, rows, rows_done FROM crm_purge_requests WHERE id = :rp;
SELECT relname FROM pg_class WHERE relname LIKE 'pubd\__' ORDER BY 1;
SELECT count(*) AS left_rows FROM pt.pubd;
DROP PUBLICATION pubd_pub;
DROP TABLE pt.pubd;

\c postgres
DROP DATABASE crm_purge_parts;
DROP ROLE regress_pt_owner, regress_pt_app, regress_pt_admin;
