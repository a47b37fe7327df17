-- bad input: one clear error with an SQLSTATE, and nothing changed
\set SHOW_CONTEXT never
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE nokey (a int, b text);
CREATE TABLE tickets (id int PRIMARY KEY, title text);
INSERT INTO tickets VALUES (1, 'a'), (2, 'b');
CREATE VIEW tickets_v AS SELECT * FROM tickets;
CREATE TABLE deleted_at_tbl (id int PRIMARY KEY, deleted_at timestamptz);
CREATE TEMP TABLE tmp_t (id int PRIMARY KEY);

-- protect
SELECT try($$SELECT crm_purge_protect(NULL)$$);
SELECT try($$SELECT crm_purge_protect('no_such_table')$$);
SELECT try($$SELECT crm_purge_protect('nokey')$$);
SELECT try($$SELECT crm_purge_protect('tickets_v')$$);
SELECT try($$SELECT crm_purge_protect('tmp_t')$$);
SELECT try($$SELECT crm_purge_protect('pg_class')$$);
SELECT try($$SELECT crm_purge_protect('deleted_at_tbl')$$);
SELECT try($$SELECT crm_purge_protect('tickets', '0 days')$$);
SELECT try($$SELECT crm_purge_protect('tickets', '-1 day')$$);
SELECT count(*) FROM crm_purge.protected_tables WHERE tbl = 'tickets'::regclass;
SELECT to_regclass('crm_trash.public__tickets');
SELECT crm_purge_protect('tickets');
SELECT try($$SELECT crm_purge_protect('tickets')$$);
-- the full message with its hint
SELECT crm_purge_protect('nokey');
SELECT crm_purge_protect('tickets');

-- unprotect
SELECT try($$SELECT crm_purge_unprotect(NULL)$$);
SELECT try($$SELECT crm_purge_unprotect('nokey')$$);

-- restore
DELETE FROM tickets WHERE id = 1;
SELECT try($$SELECT crm_purge_restore(NULL)$$);
SELECT try($$SELECT crm_purge_restore('nokey')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'id = 1', NULL)$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'id = 1', 'replace')$$);
SELECT try($$SELECT crm_purge_restore('tickets', '')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'id =')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'no_such_column = 1')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'id')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'id = 1 ORDER BY 1')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'true UNION SELECT 1')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'true LIMIT 1')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'true FOR UPDATE')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'id = 1 AND false --')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'true /*')$$);
-- injection attempts are errors, not SQL
SELECT try($$SELECT crm_purge_restore('tickets', 'true); DROP TABLE tickets; --')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'true; DROP TABLE tickets')$$);
SELECT try($$SELECT crm_purge_restore('tickets', 'true) OR (true')$$);
SELECT to_regclass('tickets');
SELECT crm_purge_restore('tickets', 'true); DROP TABLE tickets; --');
-- nothing was restored by any of them
SELECT count(*) FROM crm_trash.public__tickets;
SELECT try($$SELECT crm_purge_restore_deletion(NULL)$$);
SELECT try($$SELECT crm_purge_restore_deletion(0)$$);
SELECT crm_purge_restore_deletion(987654);
SELECT crm_purge_restore('tickets', 'id = 1');
