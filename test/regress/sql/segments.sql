-- the trash in segments: the newest takes the writes unindexed; the worker
-- seals it when it grows, indexes sealed ones, drops wholly expired ones;
-- rows picked by ctid are picked per segment (a ctid names a row of one)
\set SHOW_CONTEXT never
CREATE ROLE regress_seg_admin LOGIN IN ROLE crm_purge_admin;
CREATE ROLE regress_seg_app LOGIN;
CREATE ROLE regress_seg_other LOGIN;
CREATE TABLE seg_accounts (id int PRIMARY KEY);
CREATE TABLE seg_contacts (id int PRIMARY KEY, account int REFERENCES seg_accounts, email text);
INSERT INTO seg_accounts SELECT g FROM generate_series(1, 10) g;
INSERT INTO seg_contacts SELECT g, g % 10 + 1, 'c' || g || '@x.org' FROM generate_series(1, 3000) g;
GRANT SELECT, INSERT, DELETE ON seg_accounts, seg_contacts TO regress_seg_admin, regress_seg_app, regress_seg_other;
SELECT crm_purge_protect('seg_contacts');
SELECT c.relkind, pg_get_partkeydef(c.oid) FROM pg_class c WHERE c.oid = 'crm_trash.public__seg_contacts'::regclass;
SELECT leaf, segment, sealed_at IS NULL AS newest FROM crm_purge.trash_segments WHERE trash = 'crm_trash.public__seg_contacts'::regclass ORDER BY segment;

-- the first deletion: ids 1..1000, two rows on each key's first page
SET ROLE regress_seg_app;
DELETE FROM seg_contacts WHERE id <= 1000;
RESET ROLE;
-- a tiny segment size: the next tick seals segment 0
SET crm_purge.trash_segment_size = '64kB';
SET ROLE regress_seg_admin;
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;
RESET ROLE;
SELECT leaf, segment, sealed_at IS NOT NULL AS sealed, indexed_at IS NOT NULL AS indexed
FROM crm_purge.trash_segments WHERE trash = 'crm_trash.public__seg_contacts'::regclass ORDER BY segment;
-- the second deletion lands in segment 1, at the same ctids as the first
SET ROLE regress_seg_other;
DELETE FROM seg_contacts WHERE id BETWEEN 1001 AND 2000;
RESET ROLE;
SELECT tableoid::regclass AS segment, count(*), min(ctid) FROM crm_trash.public__seg_contacts GROUP BY 1 ORDER BY 1;
-- a later tick indexes the sealed segment (and seals segment 1)
SET ROLE regress_seg_admin;
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;
RESET ROLE;
SELECT leaf, segment, sealed_at IS NOT NULL AS sealed, indexed_at IS NOT NULL AS indexed
FROM crm_purge.trash_segments WHERE trash = 'crm_trash.public__seg_contacts'::regclass ORDER BY segment;
SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
WHERE i.indrelid = 'crm_trash.public__seg_contacts_s0'::regclass ORDER BY 1;
-- lookups by key use the sealed segments' indexes
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM crm_trash.public__seg_contacts WHERE id = 42;
RESET enable_seqscan;

-- each deleter sees their own rows through the trash; a segment is the owner's
SET ROLE regress_seg_app;
SELECT count(*) FROM crm_trash.public__seg_contacts;
SELECT count(*) FROM crm_trash.public__seg_contacts_s1;
RESET ROLE;
-- a trash row is named by (deletion_id, trash_row), the same across segments
SELECT count(*) = count(DISTINCT (deletion_id, trash_row)) AS unique_names, min(trash_row), max(trash_row)
FROM crm_trash.public__seg_contacts;

-- restore: the row with the same ctid in the other segment stays in the trash
SELECT s0.id AS in_s0, s1.id AS in_s1
FROM crm_trash.public__seg_contacts_s0 s0 JOIN crm_trash.public__seg_contacts_s1 s1 ON s0.ctid = s1.ctid
WHERE s0.id = 1;
SET ROLE regress_seg_app;
SELECT crm_purge_restore('seg_contacts', 'id = 1');
RESET ROLE;
SELECT count(*) AS trashed, count(*) FILTER (WHERE id = 1001) AS kept_1001 FROM crm_trash.public__seg_contacts;
-- the newest copy of a key comes back, and only it leaves the trash
SET ROLE regress_seg_app;
DELETE FROM seg_contacts WHERE id = 1;
INSERT INTO seg_contacts VALUES (1, 1, 'newer@x.org');
DELETE FROM seg_contacts WHERE id = 1;
RESET ROLE;
SET ROLE regress_seg_admin;
SELECT crm_purge_restore('seg_contacts', 'id = 1');
RESET ROLE;
SELECT email FROM seg_contacts WHERE id = 1;
SELECT tableoid::regclass AS segment, email FROM crm_trash.public__seg_contacts WHERE id = 1;

-- a whole deletion across its rows, by deletion id (an index on sealed segments)
SET ROLE regress_seg_admin;
SELECT crm_purge_restore_deletion((SELECT deletion_id FROM crm_trash.public__seg_contacts WHERE id = 1500));
RESET ROLE;
SELECT count(*) FROM seg_contacts WHERE id BETWEEN 1001 AND 2000;

-- marks: exactly the rows the filter picks, in every segment
SET ROLE regress_seg_admin;
SELECT crm_purge_mark('seg_contacts', 'id IN (2, 3)');
RESET ROLE;
SELECT tableoid::regclass AS segment, id FROM crm_trash.public__seg_contacts WHERE marked_at IS NOT NULL ORDER BY id;
SET ROLE regress_seg_admin;
SELECT crm_purge_unmark('seg_contacts', NULL);
-- erase: trashed rows of the subject go, whatever their segment
SELECT crm_purge_erase('seg_contacts', 'id = 4', 'GDPR request 7');
RESET ROLE;
SELECT count(*) FROM crm_trash.public__seg_contacts WHERE id = 4;

-- erasures find live and trashed rows by the key's own index: the key
-- text is compared on the column too (exact, for integer, text and uuid keys)
SELECT crm_purge._key_match('seg_contacts', '{1}', 'int4');
SELECT crm_purge._key_match('seg_contacts', '{1,2}', 'int4');
SELECT crm_purge._key_match('seg_contacts', '{3}', 'text');
CREATE TABLE seg_big (id bigint PRIMARY KEY);
CREATE TABLE seg_small (id int PRIMARY KEY, big int REFERENCES seg_big ON DELETE CASCADE);
INSERT INTO seg_big VALUES (1), (2);
INSERT INTO seg_small VALUES (10, 1), (20, 2), (30, 1);
SELECT crm_purge_relate('seg_big', 'seg_small', 'delete');
SELECT crm_purge_erase('seg_big', 'id = 1', 'GDPR request 8');
SELECT * FROM seg_small;
DROP TABLE seg_small, seg_big;

-- a sealed segment's indexes never run a table owner's code as the
-- extension owner: no key text index for a key of a user's type (its cast
-- to text could be anyone's function)
CREATE TYPE seg_pair AS (a int, b int);
CREATE TABLE seg_evil_log (who name);
GRANT INSERT ON seg_evil_log TO PUBLIC;
CREATE FUNCTION seg_evil(seg_pair) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
$$ BEGIN INSERT INTO public.seg_evil_log VALUES (current_user); RETURN 'x'; END $$;
CREATE CAST (seg_pair AS text) WITH FUNCTION seg_evil(seg_pair);
CREATE TABLE seg_typed (k seg_pair PRIMARY KEY, v int);
INSERT INTO seg_typed SELECT ROW(g, g)::seg_pair, g FROM generate_series(1, 2000) g;
SELECT crm_purge_protect('seg_typed');
DELETE FROM seg_typed;
SET ROLE regress_seg_admin;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
SELECT crm_purge_tick() IS NOT NULL AS ticked;
RESET ROLE;
SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
WHERE i.indrelid = 'crm_trash.public__seg_typed_s0'::regclass ORDER BY 1;
SELECT count(*) AS evil_calls FROM seg_evil_log;
SELECT crm_purge_unprotect('seg_typed', drop_trash => true);
DROP TABLE seg_typed, seg_evil_log;
DROP CAST (seg_pair AS text);
DROP FUNCTION seg_evil(seg_pair);
DROP TYPE seg_pair;

-- the segment functions are the worker's and the owner's only
SET ROLE regress_seg_admin;
SELECT crm_purge._trash_upkeep('seg_contacts', now());
SELECT crm_purge._add_trash_segment('crm_trash.public__seg_contacts', 99);
SELECT crm_purge._held_rows('seg_contacts', '{1}', '{1}');
RESET ROLE;

-- expiry: a sealed segment whose every row expired is dropped whole ...
UPDATE crm_trash.public__seg_contacts_s0 SET deleted_at = now() - interval '200 days';
-- ... even while any role's object depends on its row type (its DROP
-- fails): its rows expire, it stays empty until the object goes (review
-- round 56, A56-2: a temporary table stopped the table's expiry for good)
SET ROLE regress_seg_other;
CREATE TEMP TABLE seg_pin (r crm_trash.public__seg_contacts_s0);
RESET ROLE;
SELECT crm_purge._segment_pinned('crm_trash.public__seg_contacts_s0') AS pinned;
SET ROLE regress_seg_admin;
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;
RESET ROLE;
SELECT leaf, segment, (SELECT count(*) FROM crm_trash.public__seg_contacts_s0) AS rows_left
FROM crm_purge.trash_segments WHERE trash = 'crm_trash.public__seg_contacts'::regclass ORDER BY segment;
DROP TABLE seg_pin;
SET ROLE regress_seg_admin;
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;
RESET ROLE;
SELECT leaf, segment FROM crm_purge.trash_segments WHERE trash = 'crm_trash.public__seg_contacts'::regclass ORDER BY segment;
SELECT action, rows FROM crm_purge.history WHERE action = 'trash expiry' AND table_name = 'public.seg_contacts' ORDER BY id;
-- ... unless a legal hold is active: then rows expire one by one, held ones stay
SET ROLE regress_seg_app;
DELETE FROM seg_contacts WHERE id BETWEEN 2001 AND 2600;
RESET ROLE;
SET ROLE regress_seg_admin;
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;
SELECT crm_purge_hold('seg_contacts', 'id = 2001', NULL, 'litigation') AS hold \gset
RESET ROLE;
UPDATE crm_trash.public__seg_contacts SET deleted_at = now() - interval '200 days' WHERE id BETWEEN 2001 AND 2600;
UPDATE crm_purge.trash_segments SET created_at = now() - interval '200 days' WHERE trash = 'crm_trash.public__seg_contacts'::regclass;
SET ROLE regress_seg_admin;
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;
RESET ROLE;
SELECT id FROM crm_trash.public__seg_contacts WHERE id BETWEEN 2001 AND 2600;
SELECT count(*) > 0 AS segments_kept FROM crm_purge.trash_segments
WHERE trash = 'crm_trash.public__seg_contacts'::regclass AND segment > 0;
SET ROLE regress_seg_admin;
SELECT crm_purge_release(:hold);
RESET ROLE;
RESET crm_purge.trash_segment_size;

-- small sealed segments merge: four or more in a row become one segment
-- listing all their values; rows keep their names, marks and contents
CREATE TABLE seg_many (id int PRIMARY KEY, v text);
INSERT INTO seg_many SELECT g, 'v' || g FROM generate_series(1, 20000) g;
SELECT crm_purge_protect('seg_many');
-- names taken: a table's trash named as a merge of segments 0 to 3 would
-- be, another's as segment 0 is (the merge and the trash take free names)
CREATE TABLE seg_many_s0_3 (id int PRIMARY KEY);
CREATE TABLE seg_many_s0 (id int PRIMARY KEY);
SELECT crm_purge_protect('seg_many_s0_3');
SELECT crm_purge_protect('seg_many_s0')::text ~ '^crm_trash\.public__seg_many_s0_[0-9]+$' AS own_name;
SET crm_purge.trash_segment_size = '64kB';
DELETE FROM seg_many WHERE id > 0 AND id <= 2000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 2000 AND id <= 4000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 4000 AND id <= 6000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 6000 AND id <= 8000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 8000 AND id <= 10000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 10000 AND id <= 12000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 12000 AND id <= 14000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 14000 AND id <= 16000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 16000 AND id <= 18000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
DELETE FROM seg_many WHERE id > 18000 AND id <= 20000;
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
SELECT crm_purge._trash_upkeep('seg_many', now() - interval '1 year') AS dropped \gset
SELECT crm_purge_mark('seg_many', 'id = 7');
SELECT count(*) AS segments, count(*) FILTER (WHERE indexed_at IS NOT NULL) AS indexed
FROM crm_purge.trash_segments WHERE trash = 'crm_trash.public__seg_many'::regclass;
SELECT leaf, segment FROM crm_purge.trash_segments WHERE trash = 'crm_trash.public__seg_many'::regclass ORDER BY segment;
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'crm_trash.public__seg_many'::regclass ORDER BY 1;
SELECT count(*), count(DISTINCT (deletion_id, trash_row)), count(marked_at) FROM crm_trash.public__seg_many;
SELECT crm_purge_restore('seg_many', 'id = 12000');
SELECT v FROM seg_many WHERE id = 12000;
RESET crm_purge.trash_segment_size;
SELECT crm_purge_unprotect(t, drop_trash => true) FROM unnest('{seg_many,seg_many_s0_3,seg_many_s0}'::regclass[]) t;
DROP TABLE seg_many, seg_many_s0_3, seg_many_s0;

-- a trash whose segments were dropped by hand refuses writes, with a
-- hint; the next upkeep gives it a segment again
CREATE TABLE seg_lost (id int PRIMARY KEY);
INSERT INTO seg_lost VALUES (1), (2);
SELECT crm_purge_protect('seg_lost');
DROP TABLE crm_trash.public__seg_lost_s0;
DELETE FROM seg_lost WHERE id = 1;
SELECT crm_purge._trash_upkeep('seg_lost', now() - interval '1 year');
DELETE FROM seg_lost WHERE id = 1;
SELECT id, tableoid::regclass FROM crm_trash.public__seg_lost;
SELECT crm_purge_unprotect('seg_lost', drop_trash => true);
DROP TABLE seg_lost;

-- the overview counts the segments' bytes
SET ROLE regress_seg_admin;
SELECT "table", trashed_rows, trashed_bytes > 0 AS has_bytes FROM crm_purge_overview WHERE "table" = 'seg_contacts'::regclass;
RESET ROLE;

-- unprotect keeps the segmented trash; protect again adopts it
SELECT crm_purge_unprotect('seg_contacts');
SELECT crm_purge_protect('seg_contacts');
DELETE FROM seg_contacts WHERE id = 2999;
SELECT count(*) FROM crm_trash.public__seg_contacts WHERE id = 2999;
SELECT crm_purge_unprotect('seg_contacts', drop_trash => true);
SELECT count(*) FROM crm_purge.trash_segments WHERE trash::text LIKE '%seg_contacts%';
DROP TABLE seg_contacts, seg_accounts;
DROP ROLE regress_seg_admin, regress_seg_app, regress_seg_other;
