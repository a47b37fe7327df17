-- 01_catalogs: the catalogs: what crm_purge records (pg_extension_config_dump keeps them in dumps)

-- Schema crm_trash is made by the first crm_purge_protect, outside this
-- script: trash is user data, dumped with the database like any table, and
-- DROP EXTENSION ... CASCADE must not take it along.

CREATE TABLE crm_purge.protected_tables (
	tbl				regclass PRIMARY KEY,
	trash			regclass NOT NULL UNIQUE,
	retention		interval CHECK (retention > interval '0'),
	protected_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	protected_by	regrole NOT NULL DEFAULT pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.protected_tables', '');

-- A trash is partitioned into segments (LIST on trash_segment).  The newest
-- takes the writes and has no index; the worker seals it when it grows or
-- ages, indexes sealed ones in one sorted build, and drops whole segments
-- once all their rows expired.
CREATE TABLE crm_purge.trash_segments (
	leaf		regclass PRIMARY KEY,
	trash		regclass NOT NULL,
	segment		integer NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	sealed_at	timestamptz,
	indexed_at	timestamptz,
	UNIQUE (trash, segment)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.trash_segments', '');

CREATE SEQUENCE crm_purge.deletion_id_seq;

SELECT pg_catalog.pg_extension_config_dump('crm_purge.deletion_id_seq', '');

CREATE TABLE crm_purge.unlinks (
	deletion_id		bigint NOT NULL,
	child			regclass NOT NULL,
	constraint_name	name NOT NULL,
	child_key		text[] NOT NULL,
	parent_ref		text[] NOT NULL
);

CREATE INDEX ON crm_purge.unlinks (deletion_id);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.unlinks', '');

CREATE TABLE crm_purge.history (
	id			bigserial PRIMARY KEY,
	at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	action		text NOT NULL,
	table_name	text,
	rows		bigint,
	actor		name NOT NULL DEFAULT CURRENT_USER,
	request_id	bigint,
	purge_id	bigint,
	deletion_id	bigint,
	app_actor	text,
	reason		text
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.history', '');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.history_id_seq', '');

CREATE TABLE crm_purge.requests (
	id					bigserial PRIMARY KEY,
	tbl					regclass NOT NULL,
	mode				text NOT NULL CHECK (mode IN ('export_and_delete', 'delete_only')),
	modified_column		name NOT NULL,
	filter				text,
	cutoff				timestamptz NOT NULL,
	created_by			regrole NOT NULL DEFAULT pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	rows				bigint NOT NULL,
	rows_done			bigint NOT NULL DEFAULT 0,
	status				text NOT NULL DEFAULT 'queued'
						CHECK (status IN ('queued', 'in_progress', 'success', 'failed', 'revoked')),
	started_at			timestamptz,
	finished_at			timestamptz,
	export_expires_at	timestamptz,
	export_expired		boolean NOT NULL DEFAULT false,
	error				text,
	policy_id			bigint,
	-- where the batch engine stands, so that it resumes after a crash
	scan				text CHECK (scan IN ('tid', 'index')),
	next_block			bigint NOT NULL DEFAULT 0,
	end_block			bigint,
	chunk_blocks		bigint,
	last_value			timestamptz,
	batches				integer NOT NULL DEFAULT 0,
	parts				integer NOT NULL DEFAULT 0,
	analyzed_at			timestamptz,
	-- a partitioned table: the partition being worked on (scan above is its)
	part				oid,
	-- the file a tid scan's blocks are of: a rewrite (VACUUM FULL) starts it over
	scan_file			oid,
	-- the scan's pass: one more when rows it takes are left at its end (an UPDATE moved them)
	passes				integer NOT NULL DEFAULT 1,
	-- a partitioned table's pass over its partitions: one more when rows it takes are left (moved between them)
	tree_passes			integer NOT NULL DEFAULT 1
);

CREATE UNIQUE INDEX requests_one_active_per_table ON crm_purge.requests (tbl)
	WHERE status IN ('queued', 'in_progress');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.requests', '');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.requests_id_seq', '');

CREATE TABLE crm_purge.request_batches (
	request_id	bigint NOT NULL REFERENCES crm_purge.requests ON DELETE CASCADE,
	batch		integer NOT NULL,
	rows		bigint NOT NULL,
	started_at	timestamptz NOT NULL,
	finished_at	timestamptz NOT NULL,
	outcome		text NOT NULL,
	PRIMARY KEY (request_id, batch)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.request_batches', '');

CREATE TABLE crm_purge.export_parts (
	request_id	bigint NOT NULL REFERENCES crm_purge.requests ON DELETE CASCADE,
	part		integer NOT NULL,
	path		text,
	rows		bigint NOT NULL,
	bytes		bigint NOT NULL,
	sha256		text NOT NULL,
	data		bytea,
	tbl			regclass,
	-- Citus: a part written on a node (its group) by a shard's placement, its part there
	node_group	integer,
	placementid	bigint,
	shard_part	integer,
	PRIMARY KEY (request_id, part)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.export_parts', '');

-- Citus: a request on a distributed table runs a batch per shard placement
-- on its node.  The coordinator keeps what each placement reported, by
-- placement (a moved shard has a new one) and node group (a node's address
-- may change) ...
CREATE TABLE crm_purge.request_shards (
	request_id	bigint NOT NULL REFERENCES crm_purge.requests ON DELETE CASCADE,
	placementid	bigint NOT NULL,
	shardid		bigint NOT NULL,
	node_group	integer NOT NULL,
	rows_done	bigint NOT NULL DEFAULT 0,
	parts		integer NOT NULL DEFAULT 0,
	done		boolean NOT NULL DEFAULT false,
	PRIMARY KEY (request_id, placementid)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.request_shards', '');

-- ... and the node keeps the placement's scan and parts, saved with each batch.
CREATE TABLE crm_purge.shard_requests (
	request_id	bigint NOT NULL,
	placementid	bigint NOT NULL,
	shardid		bigint NOT NULL,
	scan		text NOT NULL,
	next_block	bigint NOT NULL,
	end_block	bigint NOT NULL,
	chunk_blocks bigint NOT NULL,
	last_value	timestamptz,
	batches		integer NOT NULL DEFAULT 0,
	parts		integer NOT NULL DEFAULT 0,
	rows_done	bigint NOT NULL DEFAULT 0,
	done		boolean NOT NULL DEFAULT false,
	scan_file	oid,
	passes		integer NOT NULL DEFAULT 1,
	left_note	text,
	PRIMARY KEY (request_id, placementid)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.shard_requests', '');

CREATE TABLE crm_purge.shard_parts (
	request_id	bigint NOT NULL,
	placementid	bigint NOT NULL,
	part		integer NOT NULL,
	path		text,
	rows		bigint NOT NULL,
	bytes		bigint NOT NULL,
	sha256		text NOT NULL,
	data		bytea,
	PRIMARY KEY (request_id, placementid, part)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.shard_parts', '');

-- ... and the rounds' fence: a shard batch commits only when its round (a
-- number of the coordinator's crm_purge.citus_rounds) is not below the
-- floor here.  The coordinator raises the floor on every node when a legal
-- hold is made on a Citus table, and when a request on one ends
-- (crm_purge._citus_fence_rounds): a batch of a round the coordinator
-- gave up on, still running on its node, then fails instead of deleting
-- with the holds of its round, or after the request ended (review round 77,
-- C77-2).  Node-local state: not dumped (a restored node starts from 0).
CREATE SEQUENCE crm_purge.citus_rounds;

SELECT pg_catalog.pg_extension_config_dump('crm_purge.citus_rounds', '');

CREATE TABLE crm_purge.citus_round_fence (
	one			boolean PRIMARY KEY DEFAULT true CHECK (one),
	floor		bigint NOT NULL
);

INSERT INTO crm_purge.citus_round_fence (floor) VALUES (0);

CREATE TABLE crm_purge.notifications (
	id			bigserial PRIMARY KEY,
	at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	recipient	name NOT NULL,
	event		text NOT NULL,
	request_id	bigint,
	purge_id	bigint,
	payload		jsonb NOT NULL
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.notifications', '');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.notifications_id_seq', '');

CREATE TABLE crm_purge.purges (
	id				bigserial PRIMARY KEY,
	status			text NOT NULL DEFAULT 'pending'
					CHECK (status IN ('pending', 'running', 'done', 'cancelled')),
	activated_by	regrole NOT NULL,
	activated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	due_at			timestamptz NOT NULL,
	rows			bigint NOT NULL,
	rows_done		bigint NOT NULL DEFAULT 0,
	started_at		timestamptz,
	cancelled_by	regrole,
	finished_at		timestamptz
);

CREATE UNIQUE INDEX purges_one_pending ON crm_purge.purges ((true)) WHERE status IN ('pending', 'running');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.purges', '');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.purges_id_seq', '');

CREATE TABLE crm_purge.relations (
	parent		regclass NOT NULL,
	child		regclass NOT NULL,
	on_erase	text NOT NULL CHECK (on_erase IN ('delete', 'anonymize', 'unlink', 'keep')),
	child_columns name[],
	condition	text,
	PRIMARY KEY (parent, child)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.relations', '');

CREATE TABLE crm_purge.anonymize_rules (
	tbl			regclass NOT NULL,
	col			name NOT NULL,
	strategy	text NOT NULL,
	PRIMARY KEY (tbl, col)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.anonymize_rules', '');

CREATE TABLE crm_purge.tombstones (
	tbl			regclass NOT NULL,
	key_hash	bigint NOT NULL,
	erased_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (tbl, key_hash)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.tombstones', '');

-- The highest erased integer key of a table: its sequence is never set
-- below it (sequence.c).  A number, not personal data.
CREATE TABLE crm_purge.key_floors (
	tbl			regclass PRIMARY KEY,
	floor		bigint NOT NULL
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.key_floors', '');

-- Tables dropped while they had tombstones (Citus's alter_distributed_table
-- and undistribute_table drop a table and make it again under its name): a
-- guard on a new table of that name takes their tombstones over.
CREATE TABLE crm_purge.dropped_tables (
	tbl			oid PRIMARY KEY,
	name		text NOT NULL,
	dropped_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	owner		oid				-- its owner when dropped (NULL: not known)
);
SELECT pg_catalog.pg_extension_config_dump('crm_purge.dropped_tables', '');

-- Trashes crm_purge_unprotect kept, by their table's OID (its name may
-- change): an erase of the table, or one that reaches it as a partition or
-- through ON DELETE CASCADE, is refused; crm_purge_protect takes it back.
CREATE TABLE crm_purge.kept_trashes (
	tbl			oid PRIMARY KEY,
	trash		oid NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('crm_purge.kept_trashes', '');

-- Created on first use, not here, so that a restored dump brings its own.
CREATE TABLE crm_purge.secret (
	one			boolean PRIMARY KEY DEFAULT true CHECK (one),
	secret		bytea NOT NULL CHECK (length(secret) = 16)
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.secret', '');

CREATE TABLE crm_purge.guards (
	tbl			regclass PRIMARY KEY,
	mode		text NOT NULL CHECK (mode IN ('skip', 'error')),
	key_columns	name[]
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.guards', '');

CREATE TABLE crm_purge.holds (
	id			bigserial PRIMARY KEY,
	tbl			regclass NOT NULL,
	filter		text NOT NULL,
	until		date,
	reason		text NOT NULL,
	created_by	regrole NOT NULL DEFAULT pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	released_at	timestamptz,
	released_by	regrole
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.holds', '');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.holds_id_seq', '');

CREATE TABLE crm_purge.erasures (
	id			bigserial PRIMARY KEY,
	tbl			regclass NOT NULL,
	rows		bigint NOT NULL,
	reason		text NOT NULL,
	actor		name NOT NULL DEFAULT CURRENT_USER,
	at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	export_parts text[]
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.erasures', '');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.erasures_id_seq', '');

CREATE TABLE crm_purge.policies (
	id				bigserial PRIMARY KEY,
	tbl				regclass NOT NULL,
	older_than		interval NOT NULL CHECK (older_than > interval '0'),
	schedule		text NOT NULL,
	mode			text NOT NULL CHECK (mode IN ('export_and_delete', 'delete_only')),
	filter			text,
	modified_column	name NOT NULL,
	created_by		regrole NOT NULL DEFAULT pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	jobid			bigint,
	last_run_at		timestamptz,
	last_request_id	bigint,
	last_outcome	text
);

SELECT pg_catalog.pg_extension_config_dump('crm_purge.policies', '');

SELECT pg_catalog.pg_extension_config_dump('crm_purge.policies_id_seq', '');

ALTER TABLE crm_purge.export_parts ENABLE ROW LEVEL SECURITY;

-- a part is visible to admins who may SELECT the table its rows are of
CREATE POLICY readable_table ON crm_purge.export_parts FOR SELECT TO crm_purge_admin USING (
	EXISTS (SELECT FROM crm_purge.requests r
			WHERE r.id = export_parts.request_id
			  AND pg_catalog.has_table_privilege(coalesce(export_parts.tbl, r.tbl), 'SELECT')));

CREATE TYPE crm_purge.request_count AS (n bigint, cut timestamptz);

CREATE TABLE crm_purge.errors (
	task		text NOT NULL,
	tbl			oid NOT NULL DEFAULT 0,
	error		text NOT NULL,
	since		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	retries		integer NOT NULL DEFAULT 0,
	next_try	timestamptz NOT NULL,
	PRIMARY KEY (task, tbl)
);

-- Only crm_purge writes its catalogs (as their owner, which row-level
-- security does not hold back): pg_write_all_data writes every table
-- whatever its grants, but not past row-level security. Admins read what
-- their grants name, whole; pg_read_all_data, which reads every table
-- whatever its grants, reads none of them.
ALTER TABLE crm_purge.protected_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.protected_tables FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.trash_segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.trash_segments FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.unlinks ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_purge.history ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.history FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.requests FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.request_batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.request_batches FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.request_shards ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.request_shards FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.shard_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.shard_requests FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.citus_round_fence ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.citus_round_fence FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.shard_parts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_purge.notifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.notifications FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.purges ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.purges FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.relations ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.relations FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.anonymize_rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.anonymize_rules FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.tombstones ENABLE ROW LEVEL SECURITY;
-- (only of tables the admin may read: with crm_purge._key_hash, the hashes
-- give back small or listed erased keys; review round 55, A55-5)
CREATE POLICY readable ON crm_purge.tombstones FOR SELECT TO crm_purge_admin USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));
ALTER TABLE crm_purge.key_floors ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.key_floors FOR SELECT TO crm_purge_admin USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));
ALTER TABLE crm_purge.dropped_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.dropped_tables FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.kept_trashes ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.kept_trashes FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_purge.guards ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.guards FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.holds FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.erasures ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.erasures FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.policies ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.policies FOR SELECT TO crm_purge_admin USING (true);
ALTER TABLE crm_purge.errors ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON crm_purge.errors FOR SELECT TO crm_purge_admin USING (true);

COMMENT ON TABLE crm_purge.protected_tables IS 'tables whose DELETEs go to a trash table';

COMMENT ON COLUMN crm_purge.protected_tables.retention IS 'how long trashed rows are kept; NULL: crm_purge.trash_retention';

COMMENT ON SEQUENCE crm_purge.deletion_id_seq IS 'one value per deleting top-level statement';

COMMENT ON TABLE crm_purge.unlinks IS 'child rows an ON DELETE SET NULL key unlinked, so that crm_purge_restore_deletion can link them again';

COMMENT ON TABLE crm_purge.history IS 'restores, trash expiries, requests, purges and erasures; never row contents or key values';

COMMENT ON TABLE crm_purge.requests IS 'bulk export-and-delete requests (LeadSquared''s Bulk Export & Delete Data)';

COMMENT ON COLUMN crm_purge.requests.rows IS 'No. of Records: rows that qualified when the request was queued';

COMMENT ON COLUMN crm_purge.requests.cutoff IS 'rows whose modified_column is older than this are processed, re-checked per batch';

COMMENT ON TABLE crm_purge.request_batches IS 'one row per batch transaction of a request';

COMMENT ON TABLE crm_purge.export_parts IS 'CSV parts of exports; data is set with crm_purge.export_storage = database';

COMMENT ON TABLE crm_purge.notifications IS 'what was sent with NOTIFY crm_purge, per recipient';

COMMENT ON TABLE crm_purge.purges IS 'permanent purges of marked trash rows (APRO CRM''s Permanent Deletion)';

COMMENT ON TABLE crm_purge.relations IS 'what crm_purge_erase does to child rows of an erased parent';

COMMENT ON TABLE crm_purge.anonymize_rules IS 'how a column is anonymized: null, hash or fixed:<text>';

COMMENT ON TABLE crm_purge.key_floors IS 'the highest erased integer key per table; sequences are never set below it or below the trash''s highest key';

COMMENT ON COLUMN crm_purge.relations.child_columns IS 'without a foreign key: the child''s columns holding the parent''s primary key; NULL: the foreign key';
COMMENT ON COLUMN crm_purge.relations.condition IS 'without a foreign key: which child rows point at this parent table, e.g. content_type_id = 12';

COMMENT ON TABLE crm_purge.tombstones IS 'keyed hashes (SipHash-2-4 under crm_purge.secret) of erased keys; never the keys';

COMMENT ON TABLE crm_purge.secret IS 'the key of the tombstone hashes; without it no tombstone can be checked';

COMMENT ON TABLE crm_purge.guards IS 'tables whose INSERTs are checked against tombstones';
COMMENT ON COLUMN crm_purge.guards.key_columns IS 'a natural unique key, also tombstoned; NULL: the primary key only';

COMMENT ON TABLE crm_purge.holds IS 'legal holds: rows no request, policy, trash expiry or erasure may remove';

COMMENT ON TABLE crm_purge.erasures IS 'erasures: how many rows, why, and which export parts still hold them; never keys';

COMMENT ON TABLE crm_purge.policies IS 'retention policies: a pg_cron job queues a request at each run';

COMMENT ON COLUMN crm_purge.requests.created_by IS 'the admin who made the request (OID); batches run with their rights';

COMMENT ON COLUMN crm_purge.holds.created_by IS 'the admin who made the hold (OID); its filter runs with their rights';

COMMENT ON COLUMN crm_purge.policies.created_by IS 'the admin who made the policy (OID); its runs queue requests as them';

COMMENT ON COLUMN crm_purge.export_parts.tbl IS 'the table of the part''s rows when a cascade removed them; NULL: the request''s own table';

COMMENT ON TABLE crm_purge.errors IS 'due work that fails: retried with backoff while the rest goes on; cleared when it succeeds';

COMMENT ON COLUMN crm_purge.requests.analyzed_at IS 'when the table was analyzed after the request, in a transaction of its own';
