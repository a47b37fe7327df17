-- the trash follows schema changes of its live table
\set SHOW_CONTEXT never
CREATE TABLE accounts (id int PRIMARY KEY, name text, phone text, score int);
SELECT crm_purge_protect('accounts');
INSERT INTO accounts VALUES (1, 'one', '111', 1), (2, 'two', '222', 2), (3, 'three', '333', 3);
DELETE FROM accounts WHERE id = 1;

ALTER TABLE accounts ADD COLUMN region text DEFAULT 'eu';
DELETE FROM accounts WHERE id = 2;
ALTER TABLE accounts RENAME COLUMN name TO title;
ALTER TABLE accounts ALTER COLUMN score TYPE bigint;
ALTER TABLE accounts DROP COLUMN phone;
DELETE FROM accounts WHERE id = 3;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'crm_trash.public__accounts'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- a dropped column stays in the trash with its values, under another name:
-- a column added later under the old name starts empty
SELECT id, title, phone_dropped, score, region FROM crm_trash.public__accounts ORDER BY id;
ALTER TABLE accounts ADD COLUMN phone text;
SELECT count(phone) AS inherited FROM crm_trash.public__accounts;

-- every trashed row comes back under the current columns
SELECT crm_purge_restore('accounts');
SELECT * FROM accounts ORDER BY id;

-- a column added and dropped again in between
ALTER TABLE accounts ADD COLUMN tmp int;
DELETE FROM accounts WHERE id = 1;
ALTER TABLE accounts DROP COLUMN tmp;
SELECT crm_purge_restore('accounts', 'id = 1');
SELECT * FROM accounts ORDER BY id;

-- an unrelated table's ALTER is not affected
CREATE TABLE plain (id int);
ALTER TABLE plain ADD COLUMN x int;
ALTER TABLE plain RENAME COLUMN x TO y;
