-- recycle bin: protect, DELETE into the trash, restore
\set SHOW_CONTEXT never
CREATE TABLE contacts (id bigint PRIMARY KEY, name text, email text,
                       modified_at timestamptz DEFAULT now());
CREATE TABLE emails (id bigint PRIMARY KEY,
                     contact_id bigint REFERENCES contacts ON DELETE CASCADE,
                     subject text);
CREATE TABLE activities (id bigint PRIMARY KEY,
                         contact_id bigint REFERENCES contacts ON DELETE SET NULL,
                         kind text);
INSERT INTO contacts (id, name, email) SELECT g, 'name ' || g, 'c' || g || '@example.com' FROM generate_series(1, 10) g;
INSERT INTO emails SELECT g, (g % 10) + 1, 'subject ' || g FROM generate_series(1, 20) g;
INSERT INTO activities SELECT g, (g % 10) + 1, 'call' FROM generate_series(1, 20) g;

SELECT crm_purge_protect('contacts');
SELECT crm_purge_protect('emails', '30 days');
SELECT crm_purge_protect('activities');
SELECT tbl, trash, retention FROM crm_purge.protected_tables ORDER BY tbl::text;
SELECT tgname, tgtype FROM pg_trigger WHERE tgname LIKE 'crm_purge%' ORDER BY tgrelid::regclass::text, tgname;

-- one DELETE: its rows and the cascaded ones share one deletion_id
DELETE FROM contacts WHERE id IN (1, 2);
SELECT id, name, email, deleted_by, deleted_at <= statement_timestamp() AS deleted_at_ok, deletion_id
FROM crm_trash.public__contacts ORDER BY id;
SELECT id, contact_id, subject, deletion_id FROM crm_trash.public__emails ORDER BY id;
SELECT count(DISTINCT deletion_id) AS ids,
       (SELECT count(*) FROM crm_trash.public__contacts) + (SELECT count(*) FROM crm_trash.public__emails) AS rows
FROM (SELECT deletion_id FROM crm_trash.public__contacts UNION ALL SELECT deletion_id FROM crm_trash.public__emails) d;
-- the trash has the live columns, so the same query runs on both
SELECT count(*) FROM contacts WHERE email LIKE '%@example.com';
SELECT count(*) FROM crm_trash.public__contacts WHERE email LIKE '%@example.com';
-- ON DELETE SET NULL: unlinked, and remembered
SELECT id, contact_id FROM activities WHERE contact_id IS NULL ORDER BY id;
SELECT child, constraint_name, child_key, parent_ref FROM crm_purge.unlinks ORDER BY child_key;

-- a DELETE that removes nothing trashes nothing; the next one gets a new id
DELETE FROM contacts WHERE id = 999;
DELETE FROM contacts WHERE id = 3;
SELECT id, deletion_id FROM crm_trash.public__contacts ORDER BY id;
-- two statements in one query string are two deletions
DELETE FROM emails WHERE id = 16; DELETE FROM emails WHERE id = 17;
SELECT id, deletion_id FROM crm_trash.public__emails WHERE id IN (16, 17) ORDER BY id;
-- statements in one function are one deletion
DO $$ BEGIN DELETE FROM emails WHERE id = 18; DELETE FROM emails WHERE id = 19; END $$;
SELECT count(DISTINCT deletion_id) FROM crm_trash.public__emails WHERE id IN (18, 19);

-- restore by filter
SELECT crm_purge_restore('contacts', 'id = 3');
SELECT id, name FROM contacts WHERE id = 3;
SELECT count(*) FROM crm_trash.public__contacts WHERE id = 3;
-- restore a whole deletion: parents first, children re-linked
SELECT crm_purge_restore_deletion((SELECT min(deletion_id) FROM crm_trash.public__contacts));
SELECT count(*) FROM contacts;
SELECT count(*) FROM emails;
SELECT id, contact_id FROM activities WHERE id IN (1, 2, 10, 11, 12, 20) ORDER BY id;
SELECT count(*) FROM crm_purge.unlinks;
-- a child re-pointed elsewhere meanwhile is left alone
DELETE FROM contacts WHERE id = 4;
UPDATE activities SET contact_id = 5 WHERE id = 3;
SELECT crm_purge_restore_deletion((SELECT max(deletion_id) FROM crm_trash.public__contacts));
SELECT id, contact_id FROM activities WHERE id IN (3, 13) ORDER BY id;
-- crm_purge_restore links back the children of the rows it restores, and
-- crm_purge_restore_deletion only those of the rows it restores: never a
-- child to another row that has the key now
DELETE FROM contacts WHERE id IN (7, 8);
SELECT max(deletion_id) AS rb_d1 FROM crm_trash.public__contacts \gset
SELECT crm_purge_restore('contacts', 'id = 7');
SELECT id, contact_id FROM activities WHERE id IN (6, 7, 16, 17) ORDER BY id;
UPDATE activities SET contact_id = NULL WHERE id = 6;
DELETE FROM contacts WHERE id = 7;
SELECT max(deletion_id) AS rb_d2 FROM crm_trash.public__contacts \gset
BEGIN;
INSERT INTO contacts (id, name) VALUES (7, 'another seven');
SELECT crm_purge_restore_deletion(:rb_d1);
SELECT id, contact_id FROM activities WHERE id IN (6, 7, 16, 17) ORDER BY id;
ROLLBACK;
SELECT crm_purge_restore_deletion(:rb_d2);
SELECT crm_purge_restore_deletion(:rb_d1);
SELECT id, contact_id FROM activities WHERE id IN (6, 7, 16, 17) ORDER BY id;
SELECT count(*) FROM crm_purge.unlinks;
UPDATE activities SET contact_id = 7 WHERE id = 6;
-- the link is found again whatever the restoring session's TimeZone, and
-- with a key of a domain on the search_path
CREATE DOMAIN rb_code AS text CHECK (VALUE <> '');
CREATE TABLE meetings (at timestamptz, code rb_code, PRIMARY KEY (at, code));
CREATE TABLE attendees (id int PRIMARY KEY, at timestamptz, code rb_code,
                        FOREIGN KEY (at, code) REFERENCES meetings ON DELETE SET NULL);
INSERT INTO meetings VALUES ('2026-01-01 10:00:00+00', 'kick-off');
INSERT INTO attendees VALUES (1, '2026-01-01 10:00:00+00', 'kick-off');
SELECT crm_purge_protect('meetings');
SET TimeZone = 'UTC';
DELETE FROM meetings;
SET TimeZone = 'Asia/Tokyo';
SELECT crm_purge_restore('meetings');
RESET TimeZone;
SELECT id, at = '2026-01-01 10:00:00+00' AS linked, code FROM attendees;
SELECT crm_purge_unprotect('meetings', true);
DROP TABLE attendees, meetings;
DROP DOMAIN rb_code;

-- on_conflict: a live row with the same key
DELETE FROM contacts WHERE id = 6;
INSERT INTO contacts (id, name) VALUES (6, 'new six');
SELECT crm_purge_restore('contacts', 'id = 6');
SELECT crm_purge_restore('contacts', 'id = 6', 'skip');
SELECT name FROM contacts WHERE id = 6;
SELECT count(*) FROM crm_trash.public__contacts WHERE id = 6;
-- several trashed copies of one key: the newest comes back, older ones stay
DELETE FROM contacts WHERE id = 6;
SELECT crm_purge_restore('contacts', 'id = 6');
SELECT name FROM contacts WHERE id = 6;
SELECT name FROM crm_trash.public__contacts WHERE id = 6;
-- restore of everything the caller may restore
DELETE FROM emails WHERE id > 15;
SELECT crm_purge_restore('emails', NULL, 'skip');
SELECT count(*) FROM emails;

-- TRUNCATE is refused
TRUNCATE contacts CASCADE;
TRUNCATE activities;
SELECT count(*) FROM activities;
-- crm_purge.allow_truncate (test databases): the table's owner only, recorded
CREATE ROLE rb_truncate_owner;
CREATE ROLE rb_truncate_other;
CREATE TABLE fixtures (id int PRIMARY KEY);
ALTER TABLE fixtures OWNER TO rb_truncate_owner;
GRANT SELECT, TRUNCATE ON fixtures TO rb_truncate_other;
INSERT INTO fixtures SELECT generate_series(1, 5);
SELECT crm_purge_protect('fixtures');
SET crm_purge.allow_truncate = on;
SET ROLE rb_truncate_other;
TRUNCATE fixtures;
-- a legal hold refuses it even then
RESET ROLE;
SELECT crm_purge_hold('fixtures', 'id = 1', NULL, 'litigation') AS fixtures_hold \gset
SET ROLE rb_truncate_owner;
TRUNCATE fixtures;
RESET ROLE;
SELECT crm_purge_release(:fixtures_hold);
SET ROLE rb_truncate_owner;
TRUNCATE fixtures;
RESET ROLE;
RESET crm_purge.allow_truncate;
SELECT (SELECT count(*) FROM fixtures) AS live, (SELECT count(*) FROM crm_trash.public__fixtures) AS trashed;
SELECT action, table_name, rows, actor FROM crm_purge.history WHERE action = 'truncate';
INSERT INTO fixtures VALUES (1);
TRUNCATE fixtures;
SELECT crm_purge_unprotect('fixtures', true);
DROP TABLE fixtures;
DROP ROLE rb_truncate_owner, rb_truncate_other;

-- generated and identity columns restore too
CREATE TABLE deals (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, amount numeric,
                    amount_x2 numeric GENERATED ALWAYS AS (amount * 2) STORED);
INSERT INTO deals (amount) VALUES (10), (20);
SELECT crm_purge_protect('deals');
DELETE FROM deals WHERE id = 1;
SELECT id, amount, amount_x2 FROM crm_trash.public__deals;
SELECT crm_purge_restore('deals');
SELECT id, amount, amount_x2 FROM deals ORDER BY id;

-- history: restores, without row contents
SELECT action, table_name, rows, actor, deletion_id IS NOT NULL AS whole_deletion
FROM crm_purge.history ORDER BY id;

-- unprotect keeps the trash unless asked; protect again reuses it
SELECT crm_purge_unprotect('deals');
DELETE FROM deals;
SELECT count(*) FROM crm_trash.public__deals;
SELECT crm_purge_protect('deals');
SELECT crm_purge_unprotect('deals', drop_trash => true);
SELECT to_regclass('crm_trash.public__deals');
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'deals'::regclass;

-- dropping a protected table forgets it and keeps its trash
CREATE TABLE notes (id int PRIMARY KEY, body text);
SELECT crm_purge_protect('notes');
INSERT INTO notes VALUES (1, 'x');
DELETE FROM notes;
DROP TABLE notes;
SELECT count(*) FROM crm_trash.public__notes;
SELECT count(*) FROM crm_purge.protected_tables WHERE trash = 'crm_trash.public__notes'::regclass;

-- transactions: what is rolled back leaves nothing in the trash
CREATE TABLE subx (id int PRIMARY KEY);
SELECT crm_purge_protect('subx');
INSERT INTO subx SELECT generate_series(1, 12);
BEGIN;
DELETE FROM subx WHERE id = 1;
SAVEPOINT s;
DELETE FROM subx WHERE id = 2;
ROLLBACK TO s;
DELETE FROM subx WHERE id = 3;
COMMIT;
SELECT id FROM crm_trash.public__subx ORDER BY id;
-- a statement that fails after some rows were buffered
CREATE FUNCTION fail_on_5() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.id = 5 THEN RAISE EXCEPTION 'row 5 may not go'; END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER zz_fail AFTER DELETE ON subx FOR EACH ROW EXECUTE FUNCTION fail_on_5();
DELETE FROM subx WHERE id IN (4, 5, 6);
SELECT count(*) FROM crm_trash.public__subx WHERE id IN (4, 5, 6);
DROP TRIGGER zz_fail ON subx;
-- an exception block rolls back its own DELETE only
DO $$
BEGIN
	DELETE FROM subx WHERE id = 7;
	BEGIN
		DELETE FROM subx WHERE id = 8;
		RAISE EXCEPTION 'undo 8';
	EXCEPTION WHEN OTHERS THEN NULL;
	END;
	DELETE FROM subx WHERE id = 9;
END $$;
SELECT id FROM crm_trash.public__subx ORDER BY id;
-- a subtransaction aborted while a statement's rows wait to be written
CREATE FUNCTION swallow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		PERFORM 1 / 0;
	EXCEPTION WHEN division_by_zero THEN NULL;
	END;
	RETURN OLD;
END $$;
CREATE TRIGGER zz_swallow AFTER DELETE ON subx FOR EACH ROW EXECUTE FUNCTION swallow();
DELETE FROM subx WHERE id IN (10, 11, 12);
SELECT id FROM crm_trash.public__subx ORDER BY id;
SELECT id FROM subx ORDER BY id;

-- a restore that a constraint refuses says which, and what to do
CREATE TABLE strict_parent (id int PRIMARY KEY);
CREATE TABLE strict_rows (id int PRIMARY KEY, parent_id int, note text);
INSERT INTO strict_parent VALUES (1);
INSERT INTO strict_rows VALUES (1, 1, 'x'), (2, NULL, NULL);
SELECT crm_purge_protect('strict_rows');
DELETE FROM strict_rows;
ALTER TABLE strict_rows ADD CONSTRAINT strict_fk FOREIGN KEY (parent_id) REFERENCES strict_parent;
DELETE FROM strict_parent;
SELECT crm_purge_restore('strict_rows', 'id = 1');
INSERT INTO strict_parent VALUES (1);
ALTER TABLE strict_rows ADD CONSTRAINT strict_note CHECK (note IS NOT NULL);
SELECT crm_purge_restore('strict_rows', 'id = 2');
ALTER TABLE strict_rows DROP CONSTRAINT strict_note, ALTER COLUMN note SET NOT NULL;
SELECT crm_purge_restore('strict_rows', 'id = 2');
SELECT crm_purge_restore('strict_rows', 'id = 1');

-- a trash row is the live row's bitmap and data copied, with the trash's
-- own columns after (trash.c, trash_tuple_copy): every shape comes back the
-- same (nulls anywhere, 11 columns, odd offsets before 8-byte columns,
-- short and long and TOASTed text, numeric, arrays, actor and reason)
CREATE TABLE shapes (id int PRIMARY KEY, b bool, s smallint, t text, d double precision, c "char",
					 n numeric, big text, a int[], ts timestamptz, x bytea);
INSERT INTO shapes
SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE g % 2 = 0 END, CASE WHEN g % 5 = 0 THEN NULL ELSE g END,
	   CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('t', g % 130) END, g / 3.0, 'c',
	   CASE WHEN g % 4 = 0 THEN NULL ELSE g * 1.5 END,
	   CASE WHEN g % 10 = 1 THEN (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400 + g) i) END,
	   CASE WHEN g % 6 = 0 THEN NULL ELSE ARRAY[g, g + 1] END, '2024-01-01'::timestamptz + g * interval '1 hour',
	   CASE WHEN g % 9 = 0 THEN NULL ELSE decode(repeat('ab', g % 40), 'hex') END
FROM generate_series(1, 200) g;
CREATE TEMP TABLE shapes_before AS SELECT * FROM shapes;
SELECT crm_purge_protect('shapes');
BEGIN;
SET LOCAL crm_purge.actor = 'importer';
SET LOCAL crm_purge.reason = 'shape test';
DELETE FROM shapes WHERE id <= 100;
COMMIT;
DELETE FROM shapes;
SELECT count(*) AS trashed,
	   count(*) FILTER (WHERE deletion_actor = 'importer' AND deletion_reason = 'shape test') AS with_actor,
	   count(*) FILTER (WHERE marked_at IS NULL AND deleted_by IS NOT NULL AND deletion_id IS NOT NULL) AS metadata_ok,
	   count(DISTINCT (deletion_id, trash_row)) AS names
FROM crm_trash.public__shapes;
SELECT count(*) AS differing FROM (
	(SELECT id, b, s, t, d, c, n, big, a, ts, x FROM crm_trash.public__shapes EXCEPT SELECT * FROM shapes_before)
	UNION ALL
	(SELECT * FROM shapes_before EXCEPT SELECT id, b, s, t, d, c, n, big, a, ts, x FROM crm_trash.public__shapes)) d;
SELECT crm_purge_restore('shapes', 'true');
SELECT count(*) AS differing FROM (SELECT * FROM shapes EXCEPT SELECT * FROM shapes_before) d;
-- rows written before a column was added hold fewer columns: deformed, the default filled in
ALTER TABLE shapes ADD COLUMN late text DEFAULT 'missing';
DELETE FROM shapes WHERE id <= 3;
SELECT id, late FROM crm_trash.public__shapes WHERE id <= 3 AND late IS NOT NULL ORDER BY id;
-- The statement trigger reads its transition table: every row of a DELETE
-- larger than work_mem (the table spills to disk), of a MERGE's DELETE
-- action, while the table's own trigger reads the same transition table;
-- a row an UPDATE moves to another partition is not a deletion.
CREATE TABLE bulk (id int PRIMARY KEY, body text);
INSERT INTO bulk SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 5000) g;
SELECT crm_purge_protect('bulk');
CREATE TABLE bulk_seen (n bigint);
CREATE FUNCTION bulk_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO bulk_seen SELECT count(*) FROM gone;
	RETURN NULL;
END $$;
CREATE TRIGGER a_bulk_count AFTER DELETE ON bulk REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION bulk_count();
CREATE TRIGGER z_bulk_count AFTER DELETE ON bulk REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION bulk_count();
SET work_mem = '64kB';
DELETE FROM bulk WHERE id <= 4000;
RESET work_mem;
SELECT n AS seen_by_own_triggers FROM bulk_seen;
SELECT count(*) AS trashed, count(DISTINCT id) AS ids, count(DISTINCT trash_row) AS names,
	   count(*) FILTER (WHERE body = repeat(md5(id::text), 4)) AS intact
FROM crm_trash.public__bulk;
MERGE INTO bulk b USING (SELECT g FROM generate_series(4001, 4010) g) s ON b.id = s.g
	WHEN MATCHED THEN DELETE;
SELECT count(*) AS merged_away FROM crm_trash.public__bulk WHERE id BETWEEN 4001 AND 4010;
SELECT crm_purge_restore('bulk', 'id <= 4010') AS restored;
SELECT count(*) AS back FROM bulk;
DROP TABLE bulk, bulk_seen;
DROP FUNCTION bulk_count();
CREATE TABLE moving (id int, part int, PRIMARY KEY (id, part)) PARTITION BY LIST (part);
CREATE TABLE moving_1 PARTITION OF moving FOR VALUES IN (1);
CREATE TABLE moving_2 PARTITION OF moving FOR VALUES IN (2);
INSERT INTO moving VALUES (1, 1), (2, 1);
SELECT crm_purge_protect('moving');
UPDATE moving SET part = 2 WHERE id = 1;
DELETE FROM moving_1;
SELECT id, part FROM crm_trash.public__moving;
-- a MERGE that moves one row and deletes another: its transition table
-- shows both as deleted; the row trigger tells them apart
INSERT INTO moving VALUES (3, 1), (4, 1);
MERGE INTO moving m USING (VALUES (3, 'move'), (4, 'delete')) s(id, k) ON m.id = s.id
	WHEN MATCHED AND s.k = 'move' THEN UPDATE SET part = 2
	WHEN MATCHED AND s.k = 'delete' THEN DELETE;
SELECT id, part FROM crm_trash.public__moving ORDER BY id;
SELECT id, part FROM moving ORDER BY id;
DROP TABLE moving;
