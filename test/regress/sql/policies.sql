-- retention policies: without pg_cron, a clear error; everything else works
\set SHOW_CONTEXT never
CREATE TABLE pol_t (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
SELECT crm_purge_schedule('pol_t', '30 days');
SELECT crm_purge_schedule('pol_t', '30 days', '*/5 * * * *', 'delete_only');
SELECT crm_purge_schedule('pol_t', '0 days');
SELECT crm_purge_schedule('pol_t', '30 days', NULL);
SELECT crm_purge_schedule('pol_t', '30 days', '0 2 * * *', 'shred');
SELECT crm_purge_schedule('pol_t', '30 days', '0 2 * * *', 'delete_only', 'true; DROP TABLE pol_t');
SELECT crm_purge_schedule('pol_t', '30 days', '0 2 * * *', 'delete_only', NULL, 'nope');
SELECT count(*) FROM crm_purge.policies;
SELECT * FROM crm_purge_policies;
SELECT crm_purge_unschedule(424242);
SELECT crm_purge_unschedule(NULL);
-- a policy's run queues a request for the oldest rows, at most the limit
INSERT INTO pol_t SELECT g, now() - make_interval(days => 100 + g) FROM generate_series(1, 30) g;
INSERT INTO crm_purge.policies (tbl, older_than, schedule, mode, modified_column)
	VALUES ('pol_t', '30 days', '0 2 * * *', 'delete_only', 'modified_at') RETURNING id AS pol \gset
SET crm_purge.max_rows_per_request = 10;
SELECT crm_purge._run_policy(:pol) IS NOT NULL AS queued;
SELECT "table", rows, status FROM crm_purge_requests WHERE "table" = 'pol_t'::regclass;
-- a run while that request waits is recorded as a skip
SELECT crm_purge._run_policy(:pol);
SELECT last_outcome FROM crm_purge_policies WHERE id = :pol;
SELECT crm_purge_tick() ->> 'request_rows' AS deleted;
SELECT min(id), max(id), count(*) FROM pol_t;
-- the next run takes the next oldest
SELECT crm_purge._run_policy(:pol) IS NOT NULL AS queued;
SELECT crm_purge_tick() ->> 'request_rows' AS deleted;
SELECT min(id), max(id), count(*) FROM pol_t;
RESET crm_purge.max_rows_per_request;
SELECT id = :pol AS ours, "table", older_than, mode, schedule, last_run_at IS NOT NULL AS ran,
       last_request_id IS NOT NULL AS requested, last_outcome LIKE 'queued request %' AS outcome
FROM crm_purge_policies;
SELECT crm_purge_unschedule(:pol);
SELECT count(*) FROM crm_purge_policies;
-- admins only
CREATE ROLE regress_pol_user LOGIN;
SET ROLE regress_pol_user;
SELECT crm_purge_schedule('pol_t', '30 days');
SELECT crm_purge_unschedule(1);
SELECT * FROM crm_purge_policies;
RESET ROLE;
