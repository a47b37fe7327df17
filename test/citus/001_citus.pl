# crm_purge on Citus: a coordinator and two worker nodes on loopback.
# Runs only where the citus extension is installed (README: "Citus"); says
# so and skips otherwise.  Admin actions run as a non-superuser member of
# crm_purge_admin, deletes as the application's role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::Bin;
use CitusTest;

my ($coord, $w1, $w2, $as) = citus_cluster();
sub as { $as->(@_) }

is($w1->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'crm_purge'}), '1.1',
	'CREATE EXTENSION on the coordinator reaches the worker nodes');

# DELETEs in a transaction block on a distributed table where crm_purge is
# only preloaded (no extension), then where nothing is protected yet (no
# secret): nothing to hand the worker nodes, nothing refused
$coord->safe_psql('postgres', 'DROP EXTENSION crm_purge');
as('regress_app', q{
	CREATE TABLE early (a int, b int);
	SELECT create_distributed_table('early', 'a');
	INSERT INTO early SELECT g, g FROM generate_series(1, 10) g;
	BEGIN; DELETE FROM early WHERE b = 1; DELETE FROM early WHERE b = 2; COMMIT;
});
$coord->safe_psql('postgres', 'CREATE EXTENSION crm_purge');
as('regress_app', q{BEGIN; DELETE FROM early WHERE b = 3; DELETE FROM early WHERE b = 4; COMMIT;});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM early}), '6',
	'a DELETE in a transaction block works without the extension and before any protect');
as('regress_app', q{DROP TABLE early});

# contacts and deals, distributed by account and colocated; contacts
# protected after create_distributed_table, deals before
as('regress_app', q{
	CREATE TABLE contacts (account_id int, id int, email text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('contacts', 'account_id');
	CREATE TABLE deals (account_id int, id int, contact_id int, amount int, PRIMARY KEY (account_id, id),
	  FOREIGN KEY (account_id, contact_id) REFERENCES contacts ON DELETE CASCADE);
	INSERT INTO contacts SELECT g % 20, g, 'c' || g || '@example.com' FROM generate_series(1, 2000) g;
	GRANT SELECT, INSERT, DELETE, UPDATE ON contacts TO regress_admin;
});
is(as('regress_admin', q{SELECT crm_purge_protect('contacts')}), 'crm_trash.app__contacts',
	'a distributed table is protected');
as('regress_admin', q{SELECT crm_purge_protect('deals')});
as('regress_app', q{
	SET citus.enable_unsafe_triggers = on;
	SELECT create_distributed_table('deals', 'account_id', colocate_with => 'contacts');
	INSERT INTO deals SELECT g % 20, g, g, g FROM generate_series(1, 2000) g;
	GRANT SELECT, INSERT, DELETE, UPDATE ON deals TO regress_admin;
});
like(as('regress_app', q{DELETE FROM deals WHERE id = 1}, err => 1), qr/has a crm_purge trigger but is not protected/,
	'a table distributed after it was protected: DELETE refused until its trash follows');
as('regress_admin', q{SELECT crm_purge_tick()});
# (the tick finds the background worker at it, or does it)
ok($coord->poll_query_until('postgres', q{
	SELECT string_agg(logicalrelid::text || ' ' || (colocationid = (SELECT colocationid FROM pg_dist_partition
															  WHERE logicalrelid = 'contacts'::regclass)),
					  ', ' ORDER BY logicalrelid::text)
	FROM pg_dist_partition WHERE logicalrelid::text LIKE 'crm_trash.app%'},
	join(', ', map { "crm_trash.app__$_ true" } qw(contacts contacts_s0 deals deals_s0))),
	'the trash of both is distributed and colocated with them (the worker distributed the second)');

# DELETE: router, multi-shard, cascade
as('regress_app', q{DELETE FROM contacts WHERE account_id = 3 AND id = 3});
as('regress_app', q{DELETE FROM contacts WHERE id BETWEEN 100 AND 199});
is($coord->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM crm_trash.app__contacts) || ' ' || (SELECT count(*) FROM crm_trash.app__deals)
	  || ' ' || (SELECT count(DISTINCT deletion_id) FROM crm_trash.app__contacts WHERE id >= 100)
	  || ' ' || (SELECT count(DISTINCT c.deletion_id) FROM crm_trash.app__contacts c
				 JOIN crm_trash.app__deals d USING (account_id, deletion_id) WHERE c.id >= 100)
	  || ' ' || (SELECT count(*) = count(DISTINCT (deletion_id, trash_row)) FROM crm_trash.app__contacts)
	  || ' ' || (SELECT count(DISTINCT deletion_id) FROM crm_trash.app__contacts)}),
	'101 101 1 1 true 2',
	'router and multi-shard DELETEs and their cascades are trashed: one deletion id per statement on every shard, row names unique');
is($coord->safe_psql('postgres', q{SELECT count(DISTINCT deleted_by::text) || ' ' || min(deleted_by::text) FROM crm_trash.app__contacts}),
	'1 regress_app', 'deleted_by is the deleting role on every shard');

# deletion ids of two nodes never collide
my $router_id = $coord->safe_psql('postgres', q{SELECT deletion_id FROM crm_trash.app__contacts WHERE id = 3});
my $multi_id = $coord->safe_psql('postgres', q{SELECT DISTINCT deletion_id FROM crm_trash.app__contacts WHERE id >= 100});
ok($router_id != $multi_id && $router_id > (1 << 48), 'a router deletion id carries its worker node');

# several DELETEs in one transaction block (as an ORM sends them): one
# deletion id per statement, the same on every shard it touches and on its
# cascade; with deletion_scope = transaction, one for the transaction
as('regress_app', q{
	BEGIN;
	DELETE FROM contacts WHERE id BETWEEN 1300 AND 1309;
	DELETE FROM contacts WHERE id BETWEEN 1310 AND 1319;
	DELETE FROM contacts WHERE account_id = 0 AND id = 1320;
	DO $$BEGIN DELETE FROM contacts WHERE id BETWEEN 1321 AND 1323; DELETE FROM contacts WHERE id BETWEEN 1324 AND 1326; END$$;
	SAVEPOINT s;
	DELETE FROM contacts WHERE id = 1327;
	ROLLBACK TO SAVEPOINT s;
	DELETE FROM contacts WHERE id = 1328;
	COMMIT;
	BEGIN;
	SET LOCAL crm_purge.deletion_scope = transaction;
	DELETE FROM contacts WHERE id BETWEEN 1330 AND 1334;
	DELETE FROM contacts WHERE id BETWEEN 1335 AND 1339;
	COMMIT;
});
is($coord->safe_psql('postgres', q{
	SELECT string_agg(n::text, ' ' ORDER BY first) FROM (
	  SELECT min(c.id) AS first, count(*) AS n FROM crm_trash.app__contacts c WHERE c.id BETWEEN 1300 AND 1339
	  GROUP BY c.deletion_id) s}),
	'10 10 1 6 1 10',
	'a transaction block: one deletion id per DELETE statement (a DO block\'s two DELETEs are one statement), one per transaction with deletion_scope = transaction');
is($coord->safe_psql('postgres', q{
	SELECT (SELECT count(*) FILTER (WHERE d.deletion_id = c.deletion_id) || ' ' || count(*)
			FROM crm_trash.app__contacts c JOIN crm_trash.app__deals d ON d.account_id = c.account_id AND d.contact_id = c.id
			WHERE c.id BETWEEN 1300 AND 1339)
	  || ' ' || (SELECT count(*) = count(DISTINCT (deletion_id, trash_row)) FROM crm_trash.app__deals)}),
	'38 38 true', 'each cascaded deal carries its contact\'s deletion id');
my $second = $coord->safe_psql('postgres', q{SELECT DISTINCT deletion_id FROM crm_trash.app__contacts WHERE id BETWEEN 1310 AND 1319});
is(as('regress_admin', qq{SELECT crm_purge_restore_deletion($second)}), '20',
	'restore_deletion of the second statement brings back its 10 contacts and their deals, nothing of the others');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM contacts WHERE id BETWEEN 1300 AND 1339}), '12',
	'the rows of the second statement are live again (with 1327, rolled back, and 1329, never deleted)');
# the application's actor and reason reach the worker nodes (Citus sends
# no SET LOCAL by itself)
as('regress_app', q{
	BEGIN;
	SET LOCAL crm_purge.actor = 'alice@example.com';
	SET LOCAL crm_purge.reason = 'ticket 42';
	DELETE FROM contacts WHERE id BETWEEN 1341 AND 1344;
	SET LOCAL crm_purge.actor = 'bob@example.com';
	DELETE FROM contacts WHERE account_id = 5 AND id = 1345;
	COMMIT;
});
is($coord->safe_psql('postgres', q{
	SELECT string_agg(id || ' ' || coalesce(deletion_actor, '-') || ' ' || coalesce(deletion_reason, '-'), ', ' ORDER BY id)
	FROM crm_trash.app__contacts WHERE id BETWEEN 1341 AND 1345}),
	join(', ', (map { "$_ alice\@example.com ticket 42" } 1341 .. 1344), '1345 bob@example.com ticket 42'),
	'deletion_actor and deletion_reason are recorded on every shard');
# (any text: one holding crm_purge's own dollar quote made the DELETE fail)
as('regress_app', q{
	BEGIN;
	SET LOCAL crm_purge.actor = 'eve $crm_purge$ x';
	DELETE FROM contacts WHERE account_id = 6 AND id = 1346;
	COMMIT;
});
is($coord->safe_psql('postgres', q{SELECT deletion_actor FROM crm_trash.app__contacts WHERE id = 1346}),
	'eve $crm_purge$ x', 'an actor holding a dollar quote is recorded as given');

# the id a worker node takes comes tagged with the secret: a role that sets
# it by hand, on the coordinator or on a worker node, is refused
my $shard = $w1->safe_psql('postgres', q{SET citus.override_table_visibility = off;
	SELECT relname FROM pg_class WHERE relname ~ '^contacts_[0-9]+$' LIMIT 1});
$w1->psql('postgres', qq{SET ROLE regress_app; BEGIN; SET LOCAL crm_purge.citus_deletion = '5.0123456789abcdef';
	DELETE FROM $shard; COMMIT;}, on_error_stop => 1, stderr => \my $forged);
like($forged,
	qr/crm_purge.citus_deletion holds a value crm_purge did not issue/, 'a forged deletion id is refused on a worker node');
as('regress_app', q{BEGIN; SET LOCAL citus.propagate_set_commands = local;
	SET LOCAL crm_purge.citus_deletion = '1.0000000000000000'; DELETE FROM contacts WHERE id = 1340; COMMIT;}, all_sets => 1);
my $own = $coord->safe_psql('postgres', q{SELECT deletion_id FROM crm_trash.app__contacts WHERE id = 1340});
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM crm_trash.app__contacts WHERE deletion_id = $own}) . ($own > 1 ? ' new' : ''),
	'1 new', 'on the coordinator a DELETE gives itself a new id, whatever was set');

# Citus prints the commands it sends (log_remote_commands): only a
# superuser may turn it on (review round 60, C60-3: a role saw its
# transaction's tags and replayed them in a session of its own)
$coord->psql('postgres', q{SET citus.log_remote_commands = on;
	BEGIN; DELETE FROM contacts WHERE id BETWEEN 1346 AND 1349; COMMIT;},
	extra_params => ['-U', 'regress_app'], stderr => \my $rolelog);
like($rolelog, qr/only a superuser may turn citus.log_remote_commands on where crm_purge is loaded/,
	'log_remote_commands: refused to a role');
unlike($rolelog, qr/[0-9]+\.[0-9a-f]{16}/, '... and no value appears');
$coord->psql('postgres', q{SELECT set_config('citus.log_remote_commands', 'on', true)},
	extra_params => ['-U', 'regress_app'], stderr => \my $rolelog2);
like($rolelog2, qr/only a superuser may turn citus.log_remote_commands on/, '... with set_config too');
$coord->psql('postgres', q{ALTER ROLE regress_app SET citus.log_remote_commands = on},
	extra_params => ['-U', 'regress_app'], stderr => \my $rolelog3);
like($rolelog3, qr/only a superuser may turn citus.log_remote_commands on|permission denied/, '... with ALTER ROLE ... SET too');
{
	local $ENV{PGOPTIONS} = '-c citus.log_remote_commands=on';
	$coord->psql('postgres', q{SELECT 1}, extra_params => ['-U', 'regress_app'], stderr => \my $rolelog4);
	like($rolelog4, qr/only a superuser may turn citus.log_remote_commands on/, '... and as a connection option');
}
# a value seen once cannot be replayed: its tag names its distributed
# transaction
$coord->psql('postgres', q{SET citus.log_remote_commands = on; SET ROLE regress_app;
	BEGIN; DELETE FROM contacts WHERE id BETWEEN 1350 AND 1359; COMMIT;}, stderr => \my $log);
my ($seen) = $log =~ /SET LOCAL crm_purge\.citus_deletion = '([0-9]+\.[0-9a-f]{16})'/;
ok(defined $seen, 'the value a statement was handed is visible in a superuser\'s session (log_remote_commands)');
$w1->psql('postgres', qq{SET ROLE regress_app; BEGIN; SET LOCAL crm_purge.citus_deletion = '$seen';
	DELETE FROM $shard WHERE id BETWEEN 1360 AND 1369; COMMIT;}, on_error_stop => 1, stderr => \my $replayed);
like($replayed, qr/crm_purge.citus_deletion holds a value crm_purge did not issue in this transaction/,
	'replayed in another transaction on a worker node: refused');
as('regress_admin', q{CREATE TABLE localt (id int PRIMARY KEY); INSERT INTO localt SELECT generate_series(1, 20);
	GRANT SELECT, DELETE ON localt TO regress_app; SELECT crm_purge_protect('localt')});
like(as('regress_app', qq{SET crm_purge.citus_deletion = '$seen'; DELETE FROM localt WHERE id = 1}, err => 1),
	qr/did not issue in this transaction/, 'replayed on the coordinator for a local table: refused');

# a DELETE inside WITH gets its own id; the actor survives a rolled-back
# savepoint; read-only transactions and EXPLAIN hand out nothing; a change
# to deletion_scope = transaction keeps the id already handed out
as('regress_app', q{
	BEGIN;
	SET LOCAL crm_purge.actor = 'carol';
	DELETE FROM contacts WHERE id BETWEEN 1370 AND 1374;
	WITH d AS (DELETE FROM contacts WHERE account_id = 15 AND id = 1375 RETURNING *) SELECT count(*) FROM d;
	SAVEPOINT s;
	DELETE FROM contacts WHERE id = 1376;
	ROLLBACK TO SAVEPOINT s;
	DELETE FROM contacts WHERE id = 1377;
	COMMIT;
});
is($coord->safe_psql('postgres', q{
	SELECT string_agg(id || ' ' || deletion_actor, ', ' ORDER BY id) || ' / ' || count(DISTINCT deletion_id)
	FROM crm_trash.app__contacts WHERE id BETWEEN 1370 AND 1377}),
	'1370 carol, 1371 carol, 1372 carol, 1373 carol, 1374 carol, 1375 carol, 1377 carol / 3',
	'WITH ... DELETE is a statement of its own; the actor is sent again after ROLLBACK TO SAVEPOINT');
like(as('regress_app', q{BEGIN READ ONLY; DELETE FROM contacts WHERE id = 1378; COMMIT;}, err => 1),
	qr/cannot execute DELETE in a read-only transaction/, 'a read-only transaction: PostgreSQL\'s own error');
$coord->psql('postgres', q{SET citus.log_remote_commands = on; SET ROLE regress_app;
	BEGIN; EXPLAIN (COSTS OFF) DELETE FROM contacts WHERE id = 1378; COMMIT;}, stderr => \my $explained);
like($explained, qr/^(?!.*citus_deletion)(?=.*issuing)/s, 'EXPLAIN hands out nothing');
as('regress_app', q{
	BEGIN;
	DELETE FROM contacts WHERE id BETWEEN 1380 AND 1384;
	SET LOCAL crm_purge.deletion_scope = transaction;
	DELETE FROM contacts WHERE id BETWEEN 1385 AND 1389;
	DELETE FROM localt WHERE id = 2;
	COMMIT;
});
is($coord->safe_psql('postgres', q{
	SELECT count(DISTINCT deletion_id) FROM (SELECT deletion_id FROM crm_trash.app__contacts WHERE id BETWEEN 1380 AND 1389
		UNION ALL SELECT deletion_id FROM crm_trash.app__localt WHERE id = 2) d}),
	'1', 'deletion_scope = transaction set in the middle: one id for the transaction');
as('regress_admin', q{SELECT crm_purge_unprotect('localt'); DROP TABLE localt});

# a table that starts to cascade into a protected one in the middle of a
# transaction: its DELETE gets an id of its own too
as('regress_app', q{
	CREATE TABLE par (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('par', 'account_id', colocate_with => 'contacts');
	INSERT INTO par SELECT c.account_id, c.id FROM contacts c WHERE c.id BETWEEN 1390 AND 1399;
	CREATE TABLE kid (account_id int, id int, par_id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('kid', 'account_id', colocate_with => 'contacts');
	INSERT INTO kid SELECT p.account_id, p.id, p.id FROM par p;
});
as('regress_admin', q{SELECT crm_purge_protect('kid')});
as('regress_app', q{
	BEGIN;
	SET LOCAL citus.multi_shard_modify_mode = sequential;
	DELETE FROM contacts WHERE id = 1390;
	ALTER TABLE kid ADD FOREIGN KEY (account_id, par_id) REFERENCES par ON DELETE CASCADE;
	DELETE FROM par WHERE id = 1391;
	COMMIT;
});
is($coord->safe_psql('postgres', q{
	SELECT (SELECT deletion_id FROM crm_trash.app__contacts WHERE id = 1390)
		<> (SELECT deletion_id FROM crm_trash.app__kid WHERE par_id = 1391)}),
	't', 'a DELETE cascading into a protected table through a foreign key added in the transaction gets its own id');

# restore and restore_deletion, as an admin
is(as('regress_admin', q{SELECT crm_purge_restore('contacts', 'id BETWEEN 100 AND 109')}), '10', 'restore on a distributed table');
is(as('regress_admin', qq{SELECT crm_purge_restore_deletion($router_id)}), '2',
	'restore_deletion brings back the contact and its deal');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM contacts WHERE id = 3 OR id BETWEEN 100 AND 109}), '11',
	'the rows are live again');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__contacts WHERE id = 3 OR id BETWEEN 100 AND 109}), '0',
	'and gone from the trash');

# mark, activate, purge
is(as('regress_admin', q{SELECT crm_purge_mark('contacts', 'id BETWEEN 110 AND 129')}), '20', 'mark');
is(as('regress_admin', q{SELECT crm_purge_unmark('contacts', 'id = 129')}), '1', 'unmark');
as('regress_admin', q{SELECT crm_purge_activate()});
$coord->safe_psql('postgres', q{UPDATE crm_purge.purges SET due_at = now() - interval '1 second'});
as('regress_admin', q{SELECT crm_purge_tick()});
# (the background worker may have the purge at that moment: the tick skips
# a purge another session is running, so wait for whichever does it)
ok($coord->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM crm_trash.app__contacts WHERE id BETWEEN 110 AND 129)
		|| ' ' || (SELECT string_agg(status::text, ',') FROM crm_purge.purges)}, '1 done'),
	'the pending purge deletes the marked rows for good');

# erase: every change to the shards is the table owner's (Citus refuses two
# roles changing colocated shards in one transaction); holds first
as('regress_admin', q{SELECT crm_purge_hold('contacts', 'id = 130', NULL, 'audit')});
as('regress_app', q{DELETE FROM contacts WHERE id = 500});
like(as('regress_admin', q{SELECT crm_purge_erase('contacts', 'id IN (130, 231)', 'GDPR')}, err => 1),
	qr/cannot erase rows of table app.contacts: legal hold \d+ keeps them/, 'a hold refuses an erase on Citus');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_purge.tombstones}), '0', 'nothing was erased so far');
is(as('regress_admin', q{SELECT crm_purge_erase('contacts', 'id IN (231, 500)', 'GDPR')}), '2',
	'erase on a distributed table: a live row and a trashed one');
is($coord->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM contacts WHERE id IN (231, 500)) || ' ' || (SELECT count(*) FROM deals WHERE id IN (231, 500))
	  || ' ' || (SELECT count(*) FROM crm_trash.app__contacts WHERE id IN (231, 500))
	  || ' ' || (SELECT count(*) FROM crm_trash.app__deals WHERE id IN (231, 500))
	  || ' ' || (SELECT count(*) FROM crm_purge.tombstones WHERE tbl = 'contacts'::regclass)
	  || ' ' || (SELECT count(*) FROM crm_purge.tombstones WHERE tbl = 'deals'::regclass)
	  || ' ' || (SELECT count(*) FROM crm_purge.erasures)}), '0 0 0 0 2 2 1',
	'the rows, their deals (ON DELETE CASCADE) and every trash copy are gone; keys tombstoned; the erasure recorded');
is(as('regress_admin', q{SELECT string_agg(key || ' ' || outcome, ', ') FROM crm_purge_delete_keys('contacts', '{"(12,232)"}', permanent => true)}),
	'(12,232) deleted', 'permanent delete_keys on Citus');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__contacts WHERE id = 232}), '0', 'not in the trash either');
like(as('regress_admin', q{SELECT crm_purge._delete_permanently('contacts', 'true', NULL)}, err => 1),
	qr/cannot delete rows of Citus table app.contacts for good this way/,
	'the single-node permanent delete refuses Citus tables (its bypass is the coordinator\'s)');
# erase: children reached through two foreign keys, or one whose columns are
# not in the primary key's order, are erased whole; their natural keys are
# tombstoned; shapes an erase on Citus cannot do are refused before anything
as('regress_app', q{
	CREATE TABLE ep (a int, id int, PRIMARY KEY (a, id)); SELECT create_distributed_table('ep', 'a', colocate_with => 'contacts');
	CREATE UNIQUE INDEX ON ep (id, a);
	CREATE TABLE ec (a int, id int, owner_id int, creator_id int, phone text, PRIMARY KEY (a, id),
		CONSTRAINT ec_owner FOREIGN KEY (a, owner_id) REFERENCES ep (a, id) ON DELETE CASCADE,
		CONSTRAINT ec_creator FOREIGN KEY (creator_id, a) REFERENCES ep (id, a) ON DELETE CASCADE);
	SELECT create_distributed_table('ec', 'a', colocate_with => 'ep');
	INSERT INTO ep VALUES (1, 1), (1, 2);
	INSERT INTO ec VALUES (1, 10, 1, 2, '555-10'), (1, 11, 2, 1, '555-11'), (1, 12, 2, 2, '555-12');
	GRANT SELECT, INSERT, DELETE, UPDATE ON ep, ec TO regress_admin;
	CREATE TABLE eg (a int, id int, pid int, cid int, PRIMARY KEY (a, id),
		FOREIGN KEY (a, pid) REFERENCES ep ON DELETE CASCADE, FOREIGN KEY (a, cid) REFERENCES ec ON DELETE CASCADE);
	SELECT create_distributed_table('eg', 'a', colocate_with => 'ep');
	GRANT SELECT, INSERT, DELETE ON eg TO regress_admin;
	CREATE TABLE eref (id int PRIMARY KEY); SELECT create_reference_table('eref');
	INSERT INTO eref VALUES (1); GRANT SELECT, DELETE ON eref TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('ep'), crm_purge_protect('ec'), crm_purge_protect('eg');
	SELECT crm_purge_guard('ec', 'error', ARRAY['phone'])});
like(as('regress_admin', q{SELECT crm_purge_erase('ep', 'a = 1 AND id = 1', 'GDPR')}, err => 1),
	qr/cannot erase rows of Citus table app.ep: table app.eg is to be deleted with it, but not only by ON DELETE CASCADE on its primary key/,
	'a grandchild also reached through a child is refused');
as('regress_admin', q{SELECT crm_purge_unprotect('eg', true)});
as('regress_app', q{DROP TABLE eg});
like(as('regress_admin', q{SELECT crm_purge_erase('eref', 'id = 1', 'GDPR')}, err => 1),
	qr/cannot erase rows of table app.eref: it is a Citus reference or local table/, 'reference tables are refused');
is(as('regress_admin', q{SELECT crm_purge_erase('ep', 'a = 1 AND id = 1', 'GDPR')}), '1', 'erase with a child of two foreign keys');
is($coord->safe_psql('postgres', q{
	SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM ec) || ' '
	  || (SELECT count(*) FROM crm_trash.app__ec) || ' '
	  || (SELECT count(*) FROM crm_purge.tombstones WHERE tbl = 'ec'::regclass)}), '12 0 4',
	'both children of the erased key are gone, from the trash too, their keys and phones tombstoned');
like(as('regress_app', q{INSERT INTO ec VALUES (1, 50, 2, 2, '555-10')}, err => 1),
	qr/belongs to an erased record/, 'a child\'s erased natural key is refused by its guard');

is(as('regress_admin', q{SELECT string_agg(tbl || ' ' || action || ' ' || rows, ', ' ORDER BY tbl::text) FROM crm_purge_erase_preview('contacts', 'id IN (233, 234)')}),
	'contacts erase 2, deals delete 2', 'erase_preview counts on distributed tables');
is(as('regress_admin', q{SELECT crm_purge_delete_where('contacts', 'id BETWEEN 233 AND 235')}), '3',
	'delete_where into the trash');
is(as('regress_admin', q{SELECT string_agg(key || ' ' || outcome, ', ') FROM crm_purge_delete_keys('contacts', '{"(16,236)","(16,236)","(1,236)","(17,237)"}')}),
	'(16,236) deleted, (16,236) duplicate_in_list, (1,236) not_found, (17,237) deleted',
	'delete_keys with the distribution column in a composite key');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__contacts WHERE id IN (236, 237)}), '2',
	'into the trash');
# a key whose text depends on settings: the worker nodes would write it
# with their own (an erase that deletes nothing, a tombstone that does not
# match): refused, with the key of built-in types that print the same
as('regress_app', q{CREATE TABLE fkey (account_id int, f float8, t timestamptz, PRIMARY KEY (account_id, f));
	SELECT create_distributed_table('fkey', 'account_id');
	INSERT INTO fkey VALUES (1, 2.1, now()), (2, 3.3, now());
	GRANT SELECT, DELETE ON fkey TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('fkey')});
like(as('regress_admin', q{SELECT crm_purge_erase('fkey', 'f = 2.1', 'test')}, err => 1),
	qr/crm_purge cannot compare keys of Citus table app.fkey: column "f" is of type double precision/,
	'an erase by a key of a type whose text depends on settings: refused');
like(as('regress_admin', q{SELECT * FROM crm_purge_delete_keys('fkey', ARRAY['(1,2.1)'])}, err => 1),
	qr/column "f" is of type double precision/, 'delete_keys by such a key too');
like(as('regress_admin', q{SELECT crm_purge_guard('fkey')}, err => 1),
	qr/column "f" is of type double precision/, 'and the guard');
is(as('regress_admin', q{SELECT count(*) FROM fkey}), '2', 'nothing deleted');
# a trashed copy of an erased key written otherwise (numeric 1 and 1.0)
# goes with it (review round 45, B45-1)
as('regress_app', q{CREATE TABLE nkey (account_id int, n numeric, email text, PRIMARY KEY (account_id, n));
	SELECT create_distributed_table('nkey', 'account_id');
	GRANT SELECT, DELETE ON nkey TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('nkey')});
as('regress_app', q{INSERT INTO nkey VALUES (1, 1, 'old@x'); DELETE FROM nkey; INSERT INTO nkey VALUES (1, 1.0, 'new@x')});
is(as('regress_admin', q{SELECT crm_purge_erase('nkey', $$email = 'new@x'$$, 'GDPR')}), '1', 'an erase of a numeric key');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__nkey}), '0',
	'its trashed copy written 1, not 1.0, is erased too');

# the worker expires trash by itself; sealed segments are indexed
as('regress_admin', q{SELECT crm_purge_tick()});
$coord->safe_psql('postgres', q{
	UPDATE crm_trash.app__contacts SET deleted_at = '2020-01-01';
	UPDATE crm_purge.trash_segments SET created_at = '2020-01-01';
});
ok($coord->poll_query_until('postgres', q{SELECT string_agg(id::text, ',') FROM crm_trash.app__contacts}, '130'),
	'trash expiry on a distributed trash, by the worker; the held row stays');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_purge_errors}), '0', 'no task failed');
# without a legal hold, the sealed and indexed segment is dropped whole
# once all its rows expired (Citus could not plan its check with a parameter)
as('regress_app', q{CREATE TABLE exp_t (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('exp_t', 'account_id');
	INSERT INTO exp_t SELECT g, g FROM generate_series(1, 20) g; GRANT SELECT, DELETE ON exp_t TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('exp_t')});
as('regress_app', q{DELETE FROM exp_t});
$coord->safe_psql('postgres', q{UPDATE crm_trash.app__exp_t SET deleted_at = '2020-01-01';
	UPDATE crm_purge.trash_segments SET created_at = '2020-01-01' WHERE trash = 'crm_trash.app__exp_t'::regclass});
ok($coord->poll_query_until('postgres', q{SELECT count(*) FROM crm_trash.app__exp_t}, '0'),
	'trash expiry of a distributed trash whose segment was sealed and indexed');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_purge_errors}), '0', 'no task failed');
# protected, then rows deleted, then distributed: the worker distributes
# the trash with its rows, and leaves no copy of them in the coordinator's
# files (an erase there would not reach it)
as('regress_app', q{CREATE TABLE late_t (account_id int, id int, v text, PRIMARY KEY (account_id, id));
	INSERT INTO late_t SELECT g, g, 'erase-me-' || g FROM generate_series(1, 20) g;
	GRANT SELECT, INSERT, DELETE ON late_t TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('late_t')});
as('regress_app', q{DELETE FROM late_t WHERE id <= 10});
as('regress_app', q{SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('late_t', 'account_id')});
ok($coord->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_dist_partition WHERE logicalrelid = 'crm_trash.app__late_t'::regclass}),
	'a trash protected before its table was distributed is distributed by the worker');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__late_t}) . ' '
	. $coord->safe_psql('postgres', q{SELECT sum(pg_relation_size(leaf)) FROM crm_purge.trash_segments WHERE trash = 'crm_trash.app__late_t'::regclass}),
	'10 0', 'its rows are on the shards, none left in the coordinator\'s files');
# undistributed again: the kept trash, still distributed, is not adopted
as('regress_admin', q{SELECT crm_purge_unprotect('late_t')});
as('regress_app', q{SELECT undistribute_table('late_t')});
like(as('regress_admin', q{SELECT crm_purge_protect('late_t')}, err => 1),
	qr/cannot protect table app.late_t: its trash crm_trash.app__late_t is a Citus table and the table is not/,
	'a distributed trash kept for a table that is no longer distributed is refused');

# a worker node's trigger records its own OID of the deleting role, and
# role OIDs differ from node to node: a non-admin's restore of its own
# deletions is matched by the role's name
as('regress_app', q{CREATE TABLE own_r (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('own_r', 'account_id');
	INSERT INTO own_r SELECT g, g FROM generate_series(1, 4) g; GRANT SELECT, INSERT, DELETE ON own_r TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('own_r')});
as('regress_app', q{DELETE FROM own_r WHERE id <= 2});
as('regress_admin', q{DELETE FROM own_r WHERE id = 3});
is(as('regress_app', q{SELECT crm_purge_restore('own_r')}), '2',
	'a non-admin restores its own deletions (and no one else\'s) without a filter');
# a restore of a deletion looks only at the tables it touched: another
# table's rules (refused in restores on Citus) do not stop it
as('regress_app', q{CREATE TABLE ruled_other (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('ruled_other', 'account_id'); GRANT SELECT, INSERT, DELETE ON ruled_other TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('ruled_other')});
as('regress_app', q{SET citus.enable_ddl_propagation = off; CREATE RULE ruled_other_r AS ON INSERT TO ruled_other DO ALSO NOTIFY ruled_other});
as('regress_app', q{DELETE FROM own_r WHERE id = 4});
is(as('regress_app', q{SELECT crm_purge_restore_deletion((SELECT max(deletion_id) FROM crm_trash.app__own_r))}), '1',
	'a restore of a deletion is not refused for another table\'s rules');
# sizes come from the shards
ok($coord->safe_psql('postgres', q{SELECT live_bytes > 100000 FROM crm_purge_overview WHERE "table" = 'contacts'::regclass}) eq 't',
	'overview: the live size is the shards\'');

# refused, with nothing done
like(as('regress_admin', q{SELECT crm_purge_request('contacts', '1 day', 'delete_only', 'id')}, err => 1),
	qr/cannot make a request on table app.contacts: it is a Citus table other tables reference ON DELETE CASCADE/,
	'requests on a distributed table that cascades are refused');
like(as('regress_app', q{TRUNCATE deals}, err => 1), qr/cannot truncate table app.deals: it is protected/,
	'TRUNCATE of a protected distributed table is refused');
# on a worker node, a shard of it (Citus gives shards no TRUNCATE trigger):
# refused unless Citus itself sends it
{
	my $dshard = $w1->safe_psql('postgres', q{SET citus.override_table_visibility = off;
		SELECT relname FROM pg_class WHERE relname ~ '^deals_[0-9]+$' LIMIT 1});
	my $before = $w1->safe_psql('postgres', "SELECT count(*) FROM $dshard");
	$w1->psql('postgres', qq{SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on; TRUNCATE $dshard},
		stderr => \my $terr);
	like($terr, qr/cannot truncate app.$dshard: it is a shard of a table protected by crm_purge/,
		'TRUNCATE of a protected table\'s shard on a worker node is refused');
	is($w1->safe_psql('postgres', "SELECT count(*) FROM $dshard"), $before, 'the shard kept its rows');
	as('regress_app', q{CREATE TABLE trunc_t (id int PRIMARY KEY); SELECT create_distributed_table('trunc_t', 'id');
		INSERT INTO trunc_t SELECT generate_series(1, 10); GRANT SELECT, DELETE ON trunc_t TO regress_admin});
	as('regress_admin', q{SELECT crm_purge_protect('trunc_t')});
	# anyone may name itself citus_internal, so only a superuser's goes through
	my $n = $coord->safe_psql('postgres', q{SELECT count(*) FROM app.deals});
	$w1->psql('postgres', qq{SET application_name = 'citus_internal gpid=10000000001'; SET ROLE regress_app;
		SET citus.enable_manual_changes_to_shards = on; TRUNCATE $dshard}, stderr => \my $ferr);
	like($ferr, qr/cannot truncate app.$dshard: it is a shard of a table protected by crm_purge/,
		'a TRUNCATE of the shard under Citus\'s name: refused');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.deals}), $n, 'the table kept its rows');
	like(as('regress_app', q{SET crm_purge.allow_truncate = on; TRUNCATE trunc_t}, err => 1),
		qr/cannot truncate app.trunc_t_\d+: it is a shard of a table protected by crm_purge/,
		'the owner\'s TRUNCATE with allow_truncate is refused on the worker nodes');
	is($coord->safe_psql('postgres', q{SET crm_purge.allow_truncate = on; TRUNCATE app.trunc_t; SELECT count(*) FROM app.trunc_t}), '0',
		'a superuser\'s goes through');
}
as('regress_app', q{
	CREATE TABLE ref_t (id int PRIMARY KEY);
	SELECT create_reference_table('ref_t');
	CREATE TABLE local_t (id int PRIMARY KEY);
	SELECT citus_add_local_table_to_metadata('local_t');
});
as('regress_app', q{CREATE TABLE app.a__b (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.a__b', 'account_id', colocate_with => 'contacts')});
like(as('regress_admin', q{SELECT crm_purge_protect('app.a__b')}, err => 1), qr/its schema or table name contains "__"/,
	'a name whose trash name could be another table\'s is refused on Citus');
like(as('regress_admin', q{SELECT crm_purge_protect('ref_t')}, err => 1), qr/it is a Citus reference table/,
	'reference tables are refused');
as('regress_app', q{ALTER TABLE ref_t ADD COLUMN modified_at timestamptz; GRANT SELECT, DELETE ON ref_t TO regress_admin});
like(as('regress_admin', q{SELECT crm_purge_request('ref_t', '1 day', 'delete_only')}, err => 1),
	qr/cannot make a request on table app.ref_t: it is a Citus reference or local table/, 'and requests on them');
as('regress_app', q{CREATE DOMAIN app.acct AS int;
	CREATE TABLE dacct (account_id app.acct, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('dacct', 'account_id')});
like(as('regress_admin', q{SELECT crm_purge_protect('dacct')}, err => 1),
	qr/cannot protect distributed table app.dacct: its distribution column account_id has a domain type/,
	'a distribution column of a domain type is refused, saying why');
like(as('regress_admin', q{SELECT crm_purge_protect('local_t')}, err => 1), qr/it is a Citus local table/,
	'Citus local tables are refused');
like(as('regress_admin', q{SELECT crm_purge_hold('contacts', 'lower(email) = ''x''', NULL, 'x')}, err => 1),
	qr/a hold on Citus table app.contacts must be a plain condition/,
	'a hold whose filter calls a function is refused (it runs as the extension owner on Citus)');
ok(as('regress_admin', q{SELECT crm_purge_release(crm_purge_hold('contacts', 'id < 3 AND email <> ''x''', NULL, 'plain'))}) eq '',
	'a plain condition (=, <>, <, <=, >, >=, IN) is a hold on Citus');
# the guard on the worker nodes: the tombstones and the secret are copied to
# every node; an erased key is dropped (skip) or refused (error) on its
# shard.  Here the tombstones come from an erase made before the table was
# distributed.
as('regress_app', q{CREATE TABLE app.guests (account_id int, id int, email text, PRIMARY KEY (account_id, id));
	INSERT INTO app.guests VALUES (11, 231, 'a@example.com'), (0, 500, 'b@example.com');
	GRANT SELECT, INSERT, DELETE ON app.guests TO regress_admin});
is(as('regress_admin', q{SELECT crm_purge_erase('app.guests', 'true', 'GDPR')}), '2', 'an erase before distribution');
$coord->safe_psql('postgres', q{SELECT create_distributed_table('app.guests', 'account_id', colocate_with => 'contacts')});
as('regress_admin', q{SELECT crm_purge_guard('app.guests')});
as('regress_app', q{INSERT INTO app.guests VALUES (11, 231, 'back@example.com'), (11, 5001, 'new@example.com')});
is($coord->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM app.guests}), '5001',
	'guard skip: a re-imported erased key is dropped on its shard');
as('regress_admin', q{SELECT crm_purge_guard('app.guests', 'error')});
like(as('regress_app', q{INSERT INTO app.guests VALUES (0, 500, 'again@example.com')}, err => 1),
	qr/the row's key belongs to an erased record/, 'guard error: refused on its shard');
as('regress_admin', q{SELECT crm_purge_forget('app.guests', '(0,500)')});
as('regress_app', q{INSERT INTO app.guests VALUES (0, 500, 'again@example.com')});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.guests WHERE id = 500}), '1',
	'forget lifts the tombstone on every node');
$coord->safe_psql('postgres', q{ALTER TABLE app.guests RENAME TO guests2});
like(as('regress_app', q{INSERT INTO app.guests2 VALUES (11, 231, 'x')}, err => 1),
	qr/the row's key belongs to an erased record/,
	'a renamed guarded table keeps its tombstones (named by shard id, not by name)');
as('regress_app', q{INSERT INTO app.guests2 VALUES (1, 1, 'x')});
# Citus's alter_distributed_table makes the table again under its name: a
# guard on the new table takes the old one's tombstones over (the erased
# key came back once the guard was made again, as its error says)
# (run by the owner: a superuser's is refused, see round 50 below)
as('regress_app', q{SET citus.enable_unsafe_triggers = on;
	SELECT alter_distributed_table('app.guests2', shard_count => 8, cascade_to_colocated => false)});
like(as('regress_app', q{INSERT INTO app.guests2 VALUES (11, 231, 'x')}, err => 1),
	qr/are missing on this node|belongs to an erased record/, 'after alter_distributed_table: the erased key is refused');
like(as('regress_admin', q{SELECT crm_purge_guard('app.guests2', 'error')}, err => 1),
	qr/takes over 1 tombstones of a dropped table of that name/, 'the guard made again takes the tombstones over');
like(as('regress_app', q{INSERT INTO app.guests2 VALUES (11, 231, 'x')}, err => 1),
	qr/the row's key belongs to an erased record/, 'and the erased key stays refused on every shard');
# ... but not a protected table, its trash, or a group with a trash: Citus
# copies the trash's rows with their deleters' role OIDs, which name other
# roles on other nodes
as('regress_app', q{CREATE TABLE app.side (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.side', 'account_id', colocate_with => 'app.contacts')});
my ($rs_out, $rs_err);
$coord->psql('postgres', q{SET citus.enable_unsafe_triggers = on;
	SELECT alter_distributed_table('app.contacts', shard_count => 8, cascade_to_colocated => true)}, stderr => \$rs_err);
like($rs_err, qr/cannot run alter_distributed_table on table app.contacts: it is protected by crm_purge, or a trash/,
	'a protected table is not resharded');
$coord->psql('postgres', q{SELECT alter_distributed_table('crm_trash.app__contacts', shard_count => 8)}, stderr => \$rs_err);
like($rs_err, qr/it is protected by crm_purge, or a trash/, 'nor its trash');
$coord->psql('postgres', q{SELECT alter_distributed_table('app.side', shard_count => 8, cascade_to_colocated => true)}, stderr => \$rs_err);
like($rs_err, qr/with cascade_to_colocated: a protected table's trash is colocated with it/, 'nor a table colocated with a trash, cascading');
# (whatever form the call takes: in FROM, from PL/pgSQL with a variable;
# by the owner, as a superuser's is refused before, see round 50 below)
$rs_err = as('regress_app', q{SET citus.enable_unsafe_triggers = on;
	SELECT * FROM alter_distributed_table('app.contacts', shard_count => 8, cascade_to_colocated => false)}, err => 1);
like($rs_err, qr/cannot reshard table app.contacts: it is protected by crm_purge, or a trash/, 'nor called in FROM');
$rs_err = as('regress_app', q{SET citus.enable_unsafe_triggers = on;
	DO $$ DECLARE t regclass := 'app.contacts'; BEGIN PERFORM alter_distributed_table(t, shard_count => 8, cascade_to_colocated => false); END $$},
	err => 1);
like($rs_err, qr/cannot reshard table app.contacts: it is protected by crm_purge, or a trash/, 'nor from PL/pgSQL');
is($coord->safe_psql('postgres', q{SELECT (SELECT count(*) FROM crm_purge.protected_tables WHERE tbl = 'app.contacts'::regclass)
	|| ' ' || (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'app.contacts'::regclass)}), '1 4',
	'the table is protected as before, its shards as they were');

# a foreign key to a reference table would make a protected local table a
# Citus local table (renamed into a shard under a new shell), which
# crm_purge does not follow: refused
as('regress_app', q{CREATE TABLE app.fk_country (code text PRIMARY KEY); SELECT create_reference_table('app.fk_country');
	CREATE TABLE app.fk_cust (id int PRIMARY KEY, cc text); GRANT SELECT, DELETE ON app.fk_cust TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('app.fk_cust')});
like(as('regress_app', q{ALTER TABLE app.fk_cust ADD FOREIGN KEY (cc) REFERENCES app.fk_country (code)}, err => 1),
	qr/cannot add a foreign key between protected table app.fk_cust and Citus table app.fk_country/,
	'a key that would make a protected table a Citus local table: refused');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'app.fk_cust'::regclass}), '0',
	'the table stays a plain table');

# a table guarded before it was distributed
as('regress_admin', q{
	CREATE TABLE app.guarded (id int PRIMARY KEY);
	SELECT crm_purge_guard('app.guarded');
});
# (the guard's trigger is made on the worker nodes as the distributing role)
as('regress_admin', q{SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('app.guarded', 'id')});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'app.guarded'::regclass}), '1',
	'a role distributes a guarded table');
like(as('regress_admin', q{INSERT INTO app.guarded VALUES (1)}, err => 1),
	qr/the tombstones of guarded table app.guarded are missing on this node/,
	'a guard made before the table was distributed refuses rows on the worker nodes');
as('regress_admin', q{SELECT crm_purge_guard('app.guarded')});
as('regress_admin', q{INSERT INTO app.guarded VALUES (1)});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.guarded}), '1', 'until it is guarded again');

my ($out, $err);
$w1->psql('postgres', q{SELECT crm_purge_tick()}, stderr => \$err);
like($err, qr/crm_purge_tick cannot run on a Citus worker node.*\n.*HINT:  Connect to the Citus coordinator/,
	'crm_purge functions on a worker node say to use the coordinator');
$w1->psql('postgres', q{SELECT crm_purge_restore('contacts')}, stderr => \$err);
like($err, qr/crm_purge_restore cannot run on a Citus worker node/, 'restore too');
# an admin's functions that act on the table they name refuse there too:
# the worker node's legal holds (none) would not keep its rows
for my $call ("crm_purge._delete_permanently('$shard', 'true', NULL)", "crm_purge_delete_where('$shard', 'true')",
	"crm_purge_delete_keys('$shard', ARRAY['1'])", "crm_purge_mark('$shard', 'true')",
	# (a worker node's own secret would replace the coordinator's everywhere: review round 56, C56-3)
	"crm_purge._citus_secret_everywhere('app.contacts')")
{
	$w1->psql('postgres', "SET ROLE regress_admin; SELECT $call", stderr => \$err);
	like($err, qr/cannot run on a Citus worker node/, "$call on a worker node: refused");
}
is($w1->safe_psql('postgres', "SELECT count(*) > 0 FROM $shard"), 't', 'the shard kept its rows');

# a protected and guarded table written and deleted from in one session:
# crm_purge's caches take one relcache callback of the backend's ten
as('regress_app', q{CREATE TABLE gp (id int PRIMARY KEY, v text); SELECT create_distributed_table('gp', 'id');
	GRANT SELECT, INSERT, DELETE ON gp TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('gp'); SELECT crm_purge_guard('gp')});
is(as('regress_app', q{BEGIN; INSERT INTO gp SELECT g, 'x' FROM generate_series(1, 8) g;
	DELETE FROM gp WHERE id <= 8; COMMIT; SELECT count(*) FROM crm_trash.app__gp}), "8",
	'INSERT then DELETE of a protected, guarded table in one transaction');
# an INSERT sent to a shard on its worker node while an erase of the key
# runs: it takes the table's lock there, as an INSERT into the table would,
# so it waits for the erase and then meets the tombstone
{
	as('regress_app', q{INSERT INTO gp VALUES (50, 'x')});
	my ($sname, $port) = split /\|/, $coord->safe_psql('postgres', q{
		SELECT 'gp_' || s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
		JOIN pg_dist_node n USING (groupid) WHERE s.shardid = get_shard_id_for_distribution_column('gp', 50)});
	my $wn = $port == $w1->port ? $w1 : $w2;
	my $eraser = $coord->background_psql('postgres');
	$eraser->query_safe(q{SET ROLE regress_admin; BEGIN; SELECT crm_purge_erase('gp', 'id = 50', 'test')});
	my $racer = $wn->background_psql('postgres', on_error_stop => 0);
	$racer->query_until(qr/sent/, qq{SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on;
		\\echo sent
		INSERT INTO $sname VALUES (50, 'raced');
	});
	sleep 2;
	$eraser->query_safe('COMMIT');
	$racer->query('SELECT 1');
	$racer->quit;
	$eraser->quit;
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM gp WHERE id = 50}), '0',
		'an INSERT into a shard racing the erase of its key: the erased key stays out');
}

# the cost of a protected DELETE of 100k rows on 4 shards over 2 workers,
# against the same DELETE unprotected (reported; bench/ has the benchmark)
as('regress_app', q{
	CREATE TABLE plain_t (account_id int, id int, email text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('plain_t', 'account_id');
	INSERT INTO plain_t SELECT g % 100, g, 'c' || g FROM generate_series(1, 100000) g;
	INSERT INTO contacts SELECT g % 100, g, 'c' || g FROM generate_series(100001, 200000) g;
});
$coord->safe_psql('postgres', 'VACUUM ANALYZE plain_t; VACUUM ANALYZE contacts');
my $t0 = time;
as('regress_app', q{DELETE FROM plain_t});
my $plain = time - $t0;
$t0 = time;
as('regress_app', q{DELETE FROM contacts WHERE id > 100000});
my $protected = time - $t0;
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__contacts WHERE id > 100000}), '100000',
	'100k rows trashed');
note(sprintf('DELETE of 100k rows: unprotected %.0f ms, protected %.0f ms (%.2fx)',
	$plain * 1000, $protected * 1000, $protected / $plain));

# an immediate stop of a worker node in the middle of a distributed
# DELETE: after the restart every row is either live or trashed once
as('regress_app', q{INSERT INTO contacts SELECT g % 100, g, 'c' || g FROM generate_series(300001, 400000) g});
my $bg = $coord->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
	\echo started
	SET ROLE regress_app;
	DELETE FROM contacts WHERE id > 300000;
});
$w2->stop('immediate');
$bg->quit;
$w2->start;
ok($coord->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM contacts WHERE id > 300000) + (SELECT count(*) FROM crm_trash.app__contacts WHERE id > 300000) = 100000
	   AND (SELECT count(*) FROM crm_trash.app__contacts WHERE id > 300000) = (SELECT count(DISTINCT id) FROM crm_trash.app__contacts WHERE id > 300000)}),
	'a worker stopped in the middle of a DELETE: every row live or trashed once');

# the table's owner reads its trash but never deletes from it: a restore
# or erase runs as the extension owner, whose statements the worker nodes
# run as the table's owner (crm_purge.citus_run_as), except the removal of
# trash rows
my ($tid, $tdel, $trow) = split /\|/, $coord->safe_psql('postgres',
	q{SELECT id, deletion_id, trash_row FROM crm_trash.app__contacts ORDER BY id DESC LIMIT 1});
like(as('regress_app', qq{DELETE FROM crm_trash.app__contacts WHERE id = $tid}, err => 1),
	qr/permission denied for table app__contacts/, 'the owner cannot delete trash rows');
my $wshard = $w1->safe_psql('postgres', q{SET citus.override_table_visibility = off; SELECT 'crm_trash.' || relname FROM pg_class
	WHERE relnamespace = 'crm_trash'::regnamespace AND relname ~ '^app__contacts_[0-9]+$' LIMIT 1});
$w1->psql('postgres', qq{SET ROLE regress_app; DELETE FROM $wshard}, stderr => \my $werr);
like($werr, qr/permission denied/, 'nor on a worker node, through a shard');
is(as('regress_app', qq{SELECT count(*) FROM crm_trash.app__contacts WHERE id = $tid}), '1', 'the owner reads its trash');
like(as('regress_app', qq{SELECT crm_purge._citus_drop_trash_rows('crm_trash.app__contacts', ARRAY[$tdel]::bigint[], ARRAY[$trow]::bigint[])}, err => 1),
	qr/permission denied for function/, 'the erase\'s removal cannot be called');
# the setting only crm_purge hands out: refused when made up, even in a
# distributed transaction joined by hand
$w1->psql('postgres', qq{BEGIN; SELECT assign_distributed_transaction_id(0, 4242, now());
	SET LOCAL crm_purge.citus_run_as = '0123456789abcdef:regress_app'; SELECT count(*) FROM $wshard; COMMIT;}, stderr => \my $rerr);
like($rerr, qr/crm_purge.citus_run_as holds a value crm_purge did not issue/, 'a made-up crm_purge.citus_run_as is refused');
is(as('regress_admin', qq{SELECT crm_purge_restore('contacts', 'id = $tid')}), '1', 'a restore');
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM contacts WHERE id = $tid}), '1', 'brought the row back');

# the owner's triggers, immediate and deferred, run as the owner in a
# restore and an erase, never as the extension owner
as('regress_app', q{
	CREATE TABLE trig (account_id int, id int, who text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('trig', 'account_id', colocate_with => 'contacts');
	CREATE FUNCTION trig_who() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
			RAISE EXCEPTION 'trigger % ran as superuser %', TG_NAME, current_user;
		END IF;
		IF TG_OP = 'INSERT' AND TG_WHEN = 'BEFORE' THEN NEW.who := current_user; END IF;
		RETURN coalesce(NEW, OLD);
	END $$;
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER trig_who BEFORE INSERT OR DELETE ON trig FOR EACH ROW EXECUTE FUNCTION trig_who();
	CREATE CONSTRAINT TRIGGER trig_later AFTER INSERT OR DELETE ON trig DEFERRABLE INITIALLY DEFERRED
		FOR EACH ROW EXECUTE FUNCTION trig_who();
	INSERT INTO trig SELECT g, g, 'app' FROM generate_series(1, 6) g;
	GRANT SELECT, INSERT, DELETE ON trig TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('trig')});
as('regress_app', q{SET citus.enable_unsafe_triggers = on; DELETE FROM trig WHERE id <= 4});
is(as('regress_admin', q{SELECT crm_purge_restore('trig', 'id <= 2')}), '2', 'a restore into a table with triggers');
is($coord->safe_psql('postgres', q{SELECT string_agg(who, ',' ORDER BY id) FROM trig WHERE id <= 2}), 'regress_app,regress_app',
	'its BEFORE trigger ran as the table\'s owner (its deferred one too, or the restore failed)');
is(as('regress_admin', q{SELECT crm_purge_erase('trig', 'id IN (3, 5)', 'test')}), '2',
	'an erase of a trashed and a live row of a table with triggers');
is($coord->safe_psql('postgres', q{SELECT (SELECT count(*) FROM trig WHERE id IN (3, 5)) + (SELECT count(*) FROM crm_trash.app__trig WHERE id IN (3, 5))}),
	'0', 'both gone, the DELETE trigger run as the owner');
# a legal hold keeps trash rows from an erase, and the owner cannot remove them
as('regress_admin', q{SELECT crm_purge_hold('trig', 'id = 4', NULL, 'case 1')});
as('regress_admin', q{SELECT crm_purge_erase('trig', 'id = 4', 'test')}, err => 1);
like(as('regress_app', q{DELETE FROM crm_trash.app__trig}, err => 1), qr/permission denied/,
	'the owner cannot delete held trash rows');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__trig WHERE id = 4}), '1', 'the held row stays in the trash');

# owner's code that tries to outlast the switch: a trigger that catches an
# error (a subtransaction aborted inside the statement) before AFTER ROW and
# AFTER STATEMENT triggers, and an index expression evaluated while the
# statement is planned, on the coordinator and the shards: every one of
# them runs as the owner, in a restore (by an admin and by the owner) and
# in an erase
as('regress_app', q{
	CREATE TABLE trap (account_id int, id int, v text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('trap', 'account_id', colocate_with => 'contacts');
	CREATE FUNCTION trap_check() RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
			RAISE EXCEPTION 'owner code ran as superuser %', current_user;
		END IF;
		RETURN true;
	END $$;
	CREATE FUNCTION trap_imm(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM app.trap_check(); RETURN $1; END $$;
	CREATE FUNCTION trap_catch() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		BEGIN PERFORM 1 / 0; EXCEPTION WHEN division_by_zero THEN NULL; END;
		RETURN coalesce(NEW, OLD);
	END $$;
	CREATE FUNCTION trap_after() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM app.trap_check(); RETURN NULL; END $$;
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER a_catch BEFORE INSERT OR DELETE ON trap FOR EACH ROW EXECUTE FUNCTION trap_catch();
	CREATE TRIGGER z_row AFTER INSERT OR DELETE ON trap FOR EACH ROW EXECUTE FUNCTION trap_after();
	CREATE TRIGGER z_stmt AFTER INSERT OR DELETE ON trap FOR EACH STATEMENT EXECUTE FUNCTION trap_after();
	INSERT INTO trap SELECT g % 20, g, 'v' FROM generate_series(1, 40) g;
	GRANT SELECT, INSERT, DELETE ON trap TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('trap')});
as('regress_app', q{SET citus.enable_unsafe_triggers = on; DELETE FROM trap WHERE id <= 10});
# made now: every node loads the index expression afresh, in the statements below
as('regress_app', q{CREATE INDEX trap_expr ON trap ((id + trap_imm(0)))});
is(as('regress_admin', q{SELECT crm_purge_restore('trap', 'id <= 4')}), '4',
	'a restore: the owner\'s triggers after an aborted subtransaction, and its index expression, ran as the owner');
as('regress_app', q{REINDEX INDEX trap_expr});
is(as('regress_app', q{SELECT crm_purge_restore('trap', 'id BETWEEN 5 AND 6')}), '2', 'the same in a restore by the owner');
as('regress_app', q{REINDEX INDEX trap_expr});
is(as('regress_admin', q{SELECT crm_purge_erase('trap', 'id IN (7, 30)', 'test')}), '2',
	'an erase: the owner\'s code ran as the owner, at planning and execution, on the coordinator and the shards');
# with a legal hold, the erase checks the hold on the table itself: planned
# and read as the owner too
as('regress_admin', q{SELECT crm_purge_hold('trap', 'id = 35', NULL, 'case 2')});
as('regress_app', q{REINDEX INDEX trap_expr});
is(as('regress_admin', q{SELECT string_agg(action || ' ' || rows, ', ') FROM crm_purge_erase_preview('trap', 'id = 8')}), 'erase 1',
	'an erase preview under a legal hold: the owner\'s index expression ran as the owner');
as('regress_app', q{REINDEX INDEX trap_expr});
is(as('regress_admin', q{SELECT crm_purge_erase('trap', 'id = 8', 'test')}), '1', 'and the erase');
# the overview counts every protected table's rows: as each table's owner,
# not as whoever reads it (here the superuser)
{
	my $n = as('regress_app', q{SELECT count(*) FROM trap});
	as('regress_app', q{REINDEX INDEX trap_expr});
	my ($o, $e);
	$coord->psql('postgres', q{SELECT live_rows FROM crm_purge_overview WHERE "table" = 'trap'::regclass},
		stdout => \$o, stderr => \$e);
	is("$o$e", $n, 'the overview read by the superuser: the owner\'s index expression ran as the owner');
}
like(as('regress_admin', q{SELECT crm_purge_erase('trap', 'id = 35', 'test')}, err => 1), qr/legal hold \d+ keeps them/,
	'the held row is kept');
# a rule on the shards themselves (the coordinator's table has none): its
# action writes a superuser's table; planned as the superuser it would run
# the owner's function; it runs as the owner, and fails there
as('regress_app', q{SELECT count(*) FROM run_command_on_shards('trap',
	$$CREATE RULE trap_rule AS ON INSERT TO %s DO ALSO DELETE FROM pg_catalog.pg_description WHERE app.trap_imm(0) = 1$$)});
as('regress_app', q{SET citus.enable_unsafe_triggers = on; DELETE FROM trap WHERE id = 31});
my $rule_err = as('regress_admin', q{SELECT crm_purge_restore('trap', 'id = 31')}, err => 1);
unlike($rule_err, qr/ran as superuser/, 'a rule on the shards: its action is planned and run as the owner');
# (a rule on a shard written as its owner is refused now: review round 44, C44-2)
like($rule_err, qr/it has a rule for INSERT/, 'and a shard with a rule is refused');
as('regress_app', q{SELECT count(*) FROM run_command_on_shards('trap', $$DROP RULE trap_rule ON %s$$)});
# settings sent to the worker nodes (citus.propagate_set_commands = local):
# Citus repeats them on the extension owner's connections too, and calls
# its own functions there unqualified; a search_path naming app would run
# the owner's lock_shard_resources as the superuser
as('regress_app', q{
	CREATE FUNCTION app.lock_shard_resources(lock_mode integer, shard_ids integer[]) RETURNS void
		LANGUAGE plpgsql AS $$ BEGIN PERFORM app.trap_check(); END $$;
	CREATE FUNCTION app.sneak() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
		SET LOCAL search_path = app, pg_catalog;
		RETURN NEW;
	END $$;
	SET citus.enable_unsafe_triggers = on;
	DELETE FROM trap WHERE id IN (36, 37, 38);
	CREATE TABLE gtrap (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('gtrap', 'account_id');
	INSERT INTO gtrap VALUES (1, 1), (2, 2);
	GRANT SELECT, INSERT, DELETE ON gtrap TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('gtrap')});
as('regress_admin', q{SELECT crm_purge_guard('gtrap')});
# (an erase writes the tombstones on every node: Citus's lock_shard_resources)
like(as('regress_admin', q{BEGIN; SET LOCAL citus.propagate_set_commands = 'local';
	SET LOCAL search_path = app, pg_catalog, public;
	SELECT crm_purge_erase('gtrap', 'id = 1', 'test'); COMMIT;}, err => 1, all_sets => 1),
	qr/crm_purge cannot work in a transaction that sent settings to the Citus worker nodes/,
	'an admin\'s settings sent to the worker nodes: crm_purge refuses to work after them');
like(as('regress_admin', q{BEGIN; SET LOCAL citus.propagate_set_commands = 'local';
	SET LOCAL search_path = app, pg_catalog, public; RESET search_path;
	SELECT crm_purge_restore('trap', 'id = 36'); COMMIT;}, err => 1, all_sets => 1),
	qr/crm_purge cannot work in a transaction that sent settings/, 'even reset since');
# Citus sends the whole query string a SET came in: statements after it
# ran on the extension owner's connections as the superuser, after a SET
# of crm_purge's own settings too, or a SET TRANSACTION, from the owner
for my $set ('SET LOCAL crm_purge.reason = \'x\'', 'SET TRANSACTION READ WRITE', 'RESET crm_purge.actor')
{
	like(as('regress_app', qq{BEGIN; SET citus.propagate_set_commands = local;
		$set \\; SELECT app.trap_check();
		SELECT crm_purge_restore('trap', 'id = 36'); COMMIT;}, err => 1, all_sets => 1),
		qr/crm_purge cannot work in a transaction that sent settings/, "statements sent with $set: refused");
}
# and after crm_purge's work in the transaction: its connections to the
# worker nodes are still open and would get the SET and what comes with it
like(as('regress_app', q{BEGIN; SELECT crm_purge_restore('trap', 'id = 38');
	SET citus.propagate_set_commands = local;
	SET LOCAL crm_purge.reason = 'x' \\; SELECT app.trap_check(); COMMIT;}, err => 1, all_sets => 1),
	qr/cannot send settings to the Citus worker nodes in a transaction in which crm_purge worked/,
	'a SET sent after crm_purge\'s work in the transaction: refused');
is(as('regress_admin', q{BEGIN; SET LOCAL citus.propagate_set_commands = 'local';
	SELECT set_config('crm_purge.reason', 'ticket 7', true) IS NOT NULL;
	SELECT crm_purge_restore('trap', 'id = 36'); COMMIT;}), "t\n1", 'crm_purge\'s settings by set_config, which Citus does not send');
as('regress_app', q{SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER b_sneak BEFORE INSERT ON trap FOR EACH ROW EXECUTE FUNCTION app.sneak()});
like(as('regress_admin', q{SELECT crm_purge_restore('trap', 'id = 37')}, err => 1),
	qr/cannot send settings to the Citus worker nodes inside crm_purge's work/,
	'the owner\'s trigger cannot send settings from inside crm_purge\'s work');
as('regress_app', q{SET citus.enable_unsafe_triggers = on; DROP TRIGGER b_sneak ON trap; DROP FUNCTION app.lock_shard_resources(integer, integer[])});
is(as('regress_admin', q{SELECT crm_purge_restore('trap', 'id = 37')}), '1', 'restored once it is gone');
# Citus itself sends such settings on the superuser connections it opens
# for its own work too (here: creating the type a new distributed table
# depends on), where crm_purge does not work: only a superuser may make
# them (crm_purge.citus_set_propagation = superuser, the default)
my $dep = q{SET citus.propagate_set_commands = local;
	SET citus.enable_ddl_propagation = off; CREATE TYPE dep_ty AS (a int); SET citus.enable_ddl_propagation = on;
	BEGIN; SELECT count(*) FROM contacts;
	SET LOCAL work_mem = '2MB' \\; SELECT app.trap_check();
	CREATE TABLE dep (id int, x dep_ty); SELECT create_distributed_table('dep', 'id'); COMMIT;};
like(as('regress_app', $dep, err => 1), qr/only a superuser may send settings to the Citus worker nodes/,
	'a role\'s settings (and statements) that Citus would send on its own superuser connections: refused');
is(as('regress_app', q{SET citus.propagate_set_commands = local; RESET work_mem;
	BEGIN; SELECT set_config('work_mem', '2MB', true); SELECT count(*) > 0 FROM contacts; COMMIT;}), "2MB\nt",
	'a RESET outside a transaction block and set_config are not sent: allowed');
$coord->safe_psql('postgres', q{DROP TYPE IF EXISTS app.dep_ty CASCADE});
# the same superuser connections create an aggregate a new object depends
# on, reading its INITCOND through its state type's input: a domain's
# CHECK, the owner's code, as the superuser
like(as('regress_app', q{SET citus.enable_ddl_propagation = off;
	CREATE DOMAIN agg_d AS int CHECK (app.trap_check());
	CREATE FUNCTION agg_sf(agg_d, int) RETURNS agg_d LANGUAGE sql AS 'SELECT $1';
	CREATE AGGREGATE agg_a(int) (sfunc = agg_sf, stype = agg_d, initcond = '0');
	SET citus.enable_ddl_propagation = on;
	CREATE FUNCTION agg_use() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT agg_a(1); END;}, err => 1),
	qr/a superuser may not create an aggregate with an initial value of type app.agg_d on a Citus node/,
	'an aggregate Citus would create as the superuser, with an initial value of the owner\'s domain: refused');
# the moving-aggregate state: MINITCOND is read through MSTYPE's input
like(as('regress_app', q{SET citus.enable_ddl_propagation = off;
	CREATE DOMAIN magg_d AS int CHECK (app.trap_check());
	CREATE FUNCTION magg_sf(int, int) RETURNS int LANGUAGE sql AS 'SELECT $1';
	CREATE FUNCTION magg_msf(magg_d, int) RETURNS magg_d LANGUAGE sql AS 'SELECT $1';
	CREATE FUNCTION magg_fin(magg_d) RETURNS int LANGUAGE sql AS 'SELECT $1::int';
	CREATE AGGREGATE magg_a(int) (sfunc = magg_sf, stype = int, initcond = '0', msfunc = magg_msf,
		minvfunc = magg_msf, mstype = magg_d, mfinalfunc = magg_fin, minitcond = '0');
	SET citus.enable_ddl_propagation = on;
	CREATE FUNCTION magg_use() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT magg_a(1); END;}, err => 1),
	qr/a superuser may not create an aggregate with an initial value of type app.magg_d on a Citus node/,
	'the same with the initial value of a moving aggregate (MSTYPE, MINITCOND): refused');

# Citus sends a DDL statement's search_path to the worker nodes with the
# session's temporary schema written out by name (pg_temp_N); crm_purge's
# trash DDL runs as the superuser with pg_temp on its path. On a worker
# node that name is another session's schema, whose functions would be
# found before Citus's own unqualified ones (worker_apply_shard_ddl_command):
# every node leaves another session's temporary schema out of search_path
{
	my $planter = $w1->background_psql('postgres');
	$planter->query_safe(q{SET ROLE regress_app; SET citus.enable_ddl_propagation = off; CREATE TEMP TABLE scratch (a int);
		CREATE FUNCTION pg_temp.worker_apply_shard_ddl_command(integer, text, text) RETURNS void
			LANGUAGE plpgsql AS $$ BEGIN PERFORM app.trap_check(); END $$});
	my $nsp = $planter->query_safe(q{SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()});
	$nsp =~ s/\s+//g;
	is($w1->safe_psql('postgres', qq{BEGIN; SET LOCAL search_path TO pg_catalog,$nsp; SHOW search_path; COMMIT}),
		'pg_catalog', "a worker node leaves another session's $nsp out of search_path");
	is($w1->safe_psql('postgres', qq{SET search_path TO app, $nsp, public; SHOW search_path}), 'app, public',
		'a session-level SET too');
	is($w1->safe_psql('postgres', q{CREATE TEMP TABLE mine (a int);
		DO $$ BEGIN EXECUTE format('SET search_path TO pg_catalog, %I',
			(SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema())); END $$;
		SELECT current_setting('search_path') ~ '^pg_catalog, pg_temp_[0-9]+$'}), 't',
		'its own temporary schema stays');
	$planter->quit;
	# DDL from a session with a temporary schema on its path still reaches the shards
	$coord->safe_psql('postgres', q{SET search_path = app, pg_temp; CREATE TEMP TABLE scratch (a int);
		ALTER TABLE plain_t ADD COLUMN tmp_path int; ALTER TABLE plain_t DROP COLUMN tmp_path});
	pass('a distributed ALTER TABLE from a session with pg_temp on its path');
}
# (public opened to the owner for the next tests only: a cluster upgraded
# from PostgreSQL 14 or older still has it open to everyone)
$coord->safe_psql('postgres', q{GRANT CREATE ON SCHEMA public TO regress_app});
# a function of the owner's on a worker node's search_path (public), better
# matching than pg_catalog's, which Citus sends unqualified: crm_purge's
# statements on the trash run as the owner there, or with search_path pinned
for my $w ($w1, $w2)
{
	$w->safe_psql('postgres', q{SET ROLE regress_app; SET citus.enable_ddl_propagation TO off;
		CREATE FUNCTION public.trap_acc(s bigint[], v bigint) RETURNS bigint[] LANGUAGE plpgsql
			AS $$ BEGIN PERFORM app.trap_check(); RETURN pg_catalog.array_append(s, v); END $$;
		CREATE AGGREGATE public.array_agg(bigint) (sfunc = public.trap_acc, stype = bigint[]);});
}
as('regress_app', q{SET citus.enable_unsafe_triggers = on; DELETE FROM trap WHERE id = 32});
my ($trap_del) = split /\n/, $coord->safe_psql('postgres', q{SELECT max(deletion_id) FROM crm_trash.app__trap WHERE id = 32});
is(as('regress_admin', qq{SELECT crm_purge_restore_deletion($trap_del)}), '1',
	'an aggregate of the owner\'s on the worker nodes\' search_path never runs as the superuser in a restore');
for my $w ($w1, $w2)
{
	$w->safe_psql('postgres', q{SET ROLE regress_app; SET citus.enable_ddl_propagation TO off;
		DROP AGGREGATE public.array_agg(bigint); DROP FUNCTION public.trap_acc(bigint[], bigint);});
}
as('regress_app', q{DROP INDEX trap_expr});  # the superuser reads next
is($coord->safe_psql('postgres', q{SELECT (SELECT count(*) FROM trap WHERE id IN (7, 30)) + (SELECT count(*) FROM crm_trash.app__trap WHERE id IN (7, 30))}),
	'0', 'the erase removed both');

# a column whose values the coordinator would check as the extension owner
# (a domain inside an array): restores and erases refused
as('regress_app', q{
	CREATE DOMAIN app.tagd AS text CHECK (app.trap_check());
	CREATE TABLE tagged (account_id int, id int, tags app.tagd[], PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('tagged', 'account_id', colocate_with => 'contacts');
	INSERT INTO tagged VALUES (1, 1, '{a}'), (2, 2, '{b}');
	GRANT SELECT, INSERT, DELETE ON tagged TO regress_admin;
});
# (Citus also copies the trash's rows as the superuser, reading every
# value, when it distributes a trash that holds rows or moves a shard: so
# such a table is not protected on Citus at all; run_as_begin's check
# stays for a trash made before)
like(as('regress_admin', q{SELECT crm_purge_protect('tagged')}, err => 1),
	qr/cannot protect distributed table app.tagged: column tags of its trash has a type whose values run code when read/,
	'protecting a distributed table with an array of a domain is refused');
# protected before it was distributed: the worker does not distribute its
# trash either (its rows would be copied as the superuser), and says why
as('regress_app', q{CREATE TABLE tagged2 (account_id int, id int, tags app.tagd[], PRIMARY KEY (account_id, id));
	INSERT INTO tagged2 VALUES (1, 1, '{a}'); GRANT SELECT, INSERT, DELETE ON tagged2 TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('tagged2')});
as('regress_app', q{DELETE FROM tagged2});
as('regress_app', q{SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('tagged2', 'account_id')});
ok($coord->poll_query_until('postgres', q{SELECT count(*) > 0 FROM crm_purge_errors WHERE error LIKE '%column tags of its trash has a type whose values run code%'}),
	'a trash with rows and such a column is not distributed: the error is in crm_purge_errors');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'crm_trash.app__tagged2'::regclass}), '0',
	'and the trash stays on the coordinator');
as('regress_admin', q{SELECT crm_purge_unprotect('tagged2', drop_trash => true)});

# a key of a domain type: the rows a restore inserts come back to the
# coordinator (RETURNING) as the base type, never checked there as the
# extension owner; a trash column of a domain type is refused
as('regress_app', q{
	CREATE DOMAIN app.keyd AS int CHECK (app.trap_check());
	CREATE TABLE dkey (account_id int, id app.keyd, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('dkey', 'account_id', colocate_with => 'contacts');
	INSERT INTO dkey VALUES (1, 1), (2, 2), (3, 3);
	GRANT SELECT, INSERT, DELETE ON dkey TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('dkey')});
as('regress_app', q{DELETE FROM dkey});
is(as('regress_admin', q{SELECT crm_purge_restore('dkey', 'id = 1')}), '1',
	'a key of a domain type: restored by an admin, its check not run as the superuser');
is(as('regress_app', q{SELECT crm_purge_restore('dkey', 'id = 2')}), '1', 'and by the owner');
as('regress_app', q{CREATE DOMAIN app.keyd2 AS int});
$coord->safe_psql('postgres', q{ALTER TABLE crm_trash.app__dkey ALTER COLUMN id TYPE app.keyd2});
like(as('regress_admin', q{SELECT crm_purge_restore('dkey', 'id = 3')}, err => 1),
	qr/column id of its trash crm_trash.app__dkey has type app.keyd2/, 'a trash column of a domain type is refused');

# a rule's actions would run on the coordinator as the extension owner
as('regress_app', q{
	CREATE TABLE ruled (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('ruled', 'account_id', colocate_with => 'contacts');
	INSERT INTO ruled VALUES (1, 1), (2, 2);
	GRANT SELECT, INSERT, DELETE ON ruled TO regress_admin;
});
like(as('regress_admin', q{SELECT crm_purge_protect('ruled')}, err => 1), qr/the owner regress_app of distributed table app.ruled may create objects in schema public/,
	'protect warns when the table\'s owner may create objects in public (Citus resolves names there as the superuser)');
$coord->safe_psql('postgres', q{REVOKE CREATE ON SCHEMA public FROM regress_app});
as('regress_app', q{DELETE FROM ruled WHERE id = 1; CREATE RULE ruled_sink AS ON INSERT TO ruled DO INSTEAD NOTHING});
like(as('regress_admin', q{SELECT crm_purge_restore('ruled', 'id = 1')}, err => 1), qr/app.ruled: it has rules/,
	'a restore of a table with rules is refused');

# a table with shards on the coordinator: its owner's code would run there
# with the extension owner's rights: restores and erases refused
$coord->safe_psql('postgres', sprintf(q{SELECT citus_set_node_property('127.0.0.1', %d, 'shouldhaveshards', true)}, $coord->port));
as('regress_app', q{CREATE TABLE onco (id int PRIMARY KEY, v text);
	SELECT create_distributed_table('onco', 'id', colocate_with => 'none');
	INSERT INTO onco SELECT g, 'v' FROM generate_series(1, 40) g;
	GRANT SELECT, INSERT, DELETE ON onco TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('onco')});
$coord->safe_psql('postgres', sprintf(q{SELECT citus_set_node_property('127.0.0.1', %d, 'shouldhaveshards', false)}, $coord->port));
as('regress_app', q{DELETE FROM onco WHERE id <= 20});
like(as('regress_admin', q{SELECT crm_purge_restore('onco', 'id <= 20')}, err => 1), qr/this node holds shards of it/,
	'a restore of a table with shards on the coordinator is refused');
like(as('regress_admin', q{SELECT crm_purge_erase('onco', 'id = 30', 'test')}, err => 1), qr/this node holds shards of it/,
	'and an erase');
is($coord->safe_psql('postgres', q{SELECT (SELECT count(*) FROM onco) || '/' || (SELECT count(*) FROM crm_trash.app__onco)}), '20/20',
	'nothing changed');

# after ALTER TABLE ... OWNER TO, the worker moves the trash's rights and
# policies to the new owner: restores work again, the former owner has none
$coord->safe_psql('postgres', q{CREATE ROLE regress_app2 LOGIN; GRANT regress_app2 TO regress_admin});
as('regress_app', q{CREATE TABLE owned (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('owned', 'account_id');
	INSERT INTO owned SELECT g, g FROM generate_series(1, 10) g;
	GRANT SELECT, INSERT, DELETE ON owned TO regress_admin});
unlike(as('regress_admin', q{SELECT crm_purge_protect('owned')}, err => 1), qr/may create objects/,
	'no warning while public is closed');
as('regress_app', q{DELETE FROM owned WHERE id <= 3});
$coord->safe_psql('postgres', q{ALTER TABLE owned OWNER TO regress_app2});
as('regress_admin', q{SELECT crm_purge_tick()});
# (or the background worker, when it has that trash's upkeep at the moment)
ok($coord->poll_query_until('postgres', q{
	SELECT polroles = ARRAY['regress_app2'::regrole::oid] FROM pg_policy
	WHERE polrelid = 'crm_trash.app__owned'::regclass AND polname = 'crm_purge_table_owner'}),
	'the upkeep moves the trash policy to the new owner');
is(as('regress_admin', q{SELECT crm_purge_restore('owned', 'id = 1')}), '1', 'a restore after the table changed owner');
like(as('regress_app', q{DELETE FROM crm_trash.app__owned}, err => 1), qr/permission denied/,
	'the former owner lost its rights on the trash');
like(as('regress_app2', q{DELETE FROM crm_trash.app__owned}, err => 1), qr/permission denied/,
	'the new owner cannot delete from it either');
is(as('regress_app2', q{SELECT count(*) FROM crm_trash.app__owned}), '2', 'and reads it');

# unprotect, keeping the trash, and protect again
as('regress_admin', q{SELECT crm_purge_unprotect('deals')});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'crm_purge%' AND tgrelid = 'deals'::regclass}),
	'0', 'unprotect drops the triggers of a distributed table');
as('regress_app', q{DELETE FROM deals WHERE id = 1000});
is(as('regress_admin', q{SELECT crm_purge_protect('deals')}), 'crm_trash.app__deals', 'and it is protected again');
as('regress_app', q{DELETE FROM deals WHERE id = 999});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__deals WHERE id IN (999, 1000)}), '1',
	'only the DELETE while protected went to the trash');

# a column change of a protected distributed table changes its trash's
# colocated shards as the extension owner: Citus refuses that next to the
# owner's own change of the table's shards; said clearly, nothing changed,
# and it works as the superuser
as('regress_app', q{GRANT USAGE ON SCHEMA app TO regress_app2});
like(as('regress_app2', q{ALTER TABLE owned ADD COLUMN note text}, err => 1),
	qr/cannot change the columns of protected Citus table app.owned as role regress_app2/,
	'an owner\'s column change of a protected distributed table: refused with a reason');
is(as('regress_app2', q{ALTER TABLE owned ADD CONSTRAINT owned_id_positive CHECK (id > 0); SELECT 1}), '1',
	'a change that leaves the trash alone goes through');
$coord->safe_psql('postgres', q{ALTER TABLE owned ADD COLUMN note text});
as('regress_app2', q{INSERT INTO owned VALUES (20, 20, 'n'); DELETE FROM owned WHERE id = 20});
is($coord->safe_psql('postgres', q{SELECT note FROM crm_trash.app__owned WHERE id = 20}), 'n',
	'as the superuser: the trash has the column, and deleted rows keep it');

# an admin's delete on an untrusted owner's distributed table: the owner's
# trigger on the shards runs on the worker nodes, in sessions Citus opened
# as the admin, where crm_purge's marks are not; it cannot open a connection
# as the admin from there (to release the admin's hold on the coordinator)
$coord->safe_psql('postgres', q{CREATE ROLE regress_evil LOGIN; CREATE SCHEMA evil AUTHORIZATION regress_evil;
	GRANT USAGE ON SCHEMA evil TO regress_admin});
as('regress_evil', sprintf(q{SET citus.enable_unsafe_triggers = on;
	CREATE TABLE evil.t (id int PRIMARY KEY);
	SELECT create_distributed_table('evil.t', 'id');
	INSERT INTO evil.t SELECT generate_series(1, 10);
	GRANT SELECT, DELETE ON evil.t TO regress_admin;
	CREATE FUNCTION evil.call_home() RETURNS trigger LANGUAGE plpgsql AS $f$
	BEGIN
		PERFORM pg_catalog.master_run_on_worker(ARRAY['127.0.0.1'], ARRAY[%d],
			ARRAY['SELECT public.crm_purge_release(h.id) FROM crm_purge.holds h WHERE h.tbl = ''evil.t''::regclass'], false);
		RETURN OLD;
	END $f$;
	CREATE TRIGGER call_home BEFORE DELETE ON evil.t FOR EACH ROW EXECUTE FUNCTION evil.call_home()}, $coord->port));
$coord->safe_psql('postgres', q{SET citus.enable_unsafe_triggers = on; SELECT crm_purge_protect('evil.t')});
# (an admin not in the owner's role reads another role's distributed table
# by no filter of its own: the owner's shard code would run as the admin)
like(as('regress_admin', q{SELECT crm_purge_delete_where('evil.t', 'id = 5')}, err => 1),
	qr/cannot read Citus table evil.t by your filter: you are not a member of its owner's role regress_evil/,
	'an admin outside the owner\'s role is refused');
$coord->safe_psql('postgres', q{GRANT regress_evil TO regress_admin});
my $evil_hold = as('regress_admin', q{SELECT crm_purge_hold('evil.t', 'id = 1', NULL, 'audit')});
like(as('regress_admin', q{SELECT crm_purge_delete_where('evil.t', 'id = 5')}, err => 1),
	qr/master_run_on_worker cannot run on another role's behalf/,
	'the owner\'s shard trigger cannot open a connection from a node\'s session');
is($coord->safe_psql('postgres', "SELECT released_at IS NULL FROM crm_purge.holds WHERE id = $evil_hold"), 't',
	'the admin\'s hold stays');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM evil.t}), '10', 'nothing was deleted');

# a superuser's delete into the trash of an untrusted owner's distributed
# table: the owner's index expression, run while the delete is planned,
# runs as the owner (it made itself superuser when it ran as the caller)
as('regress_evil', q{CREATE FUNCTION evil.su_payload() RETURNS void LANGUAGE plpgsql AS $f$
	BEGIN
		IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
			UPDATE pg_catalog.pg_authid SET rolsuper = true WHERE rolname = 'regress_evil';
		END IF;
	END $f$;
	CREATE FUNCTION evil.su(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN PERFORM evil.su_payload(); RETURN 0; END $f$;
	CREATE TABLE evil.t2 (id int PRIMARY KEY);
	SELECT create_distributed_table('evil.t2', 'id');
	INSERT INTO evil.t2 SELECT generate_series(1, 10);
	CREATE INDEX ON evil.t2 ((id + evil.su(0)))});
$coord->safe_psql('postgres', q{SELECT crm_purge_protect('evil.t2')});
is($coord->safe_psql('postgres', q{SELECT crm_purge_delete_where('evil.t2', 'id = 3')}), '1',
	'a superuser\'s delete on an untrusted owner\'s distributed table');
is(join(',', map { $_->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_evil'}) } ($coord, $w1, $w2)),
	'f,f,f', 'the owner\'s expression did not run as the superuser, on any node');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.evil__t2 WHERE id = 3}), '1', 'the row is in the trash');

# the owner's code run on an admin's behalf (its index expression on a
# plain table, while the admin's filter is planned) may not start a
# distributed statement: its shard code would run unmarked as the admin
# (an admin outside the owner's role: a member's filter runs as the owner);
# the owner's function is refused before it runs at all
$coord->safe_psql('postgres', q{REVOKE regress_evil FROM regress_admin});
as('regress_evil', q{CREATE FUNCTION evil.hop() RETURNS int LANGUAGE plpgsql AS $f$
	DECLARE n int;
	BEGIN SELECT count(*) INTO n FROM evil.t2; RETURN 0; END $f$;
	CREATE FUNCTION evil.hop_i(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN RETURN evil.hop(); END $f$;
	GRANT SELECT ON evil.t2 TO regress_admin;
	CREATE TABLE evil.plain (id int PRIMARY KEY);
	INSERT INTO evil.plain SELECT generate_series(1, 5);
	GRANT SELECT, DELETE ON evil.plain TO regress_admin;
	CREATE INDEX ON evil.plain ((id + evil.hop_i(0)))});
like(as('regress_admin', q{SELECT crm_purge_delete_where('evil.plain', 'id = 1', dry_run => true)}, err => 1),
	qr/cannot run function evil\.hop_i\(integer\) of role regress_evil with the rights of role regress_admin/,
	'the owner\'s expression cannot reach the worker nodes as the admin');

# an active legal hold on a distributed table stops no erasure of the rows
# it does not keep (the hold check read the table's ctids, which Citus
# cannot plan)
as('regress_app', q{CREATE TABLE hx (id int PRIMARY KEY);
	SELECT create_distributed_table('hx', 'id');
	INSERT INTO hx SELECT generate_series(1, 10);
	GRANT SELECT, DELETE ON hx TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('hx')});
as('regress_admin', q{SELECT crm_purge_hold('hx', 'id = 3', NULL, 'audit')});
is(as('regress_admin', q{SELECT crm_purge_erase('hx', 'id = 5', 'gdpr')}), '1',
	'an erase of a row no hold keeps, with a hold on the distributed table');
like(as('regress_admin', q{SELECT crm_purge_erase('hx', 'id = 3', 'gdpr')}, err => 1), qr/legal hold \d+ keeps them/,
	'the held row is kept');

# a distributed partitioned table with a partition of another owner: no
# filter reads it (the partition owner's code would run as the reader)
$coord->safe_psql('postgres', q{CREATE TABLE app.ptab (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
	CREATE TABLE app.ptab_1 PARTITION OF app.ptab FOR VALUES FROM (0) TO (100);
	CREATE TABLE app.ptab_2 PARTITION OF app.ptab FOR VALUES FROM (100) TO (200);
	SELECT create_distributed_table('app.ptab', 'id');
	INSERT INTO app.ptab SELECT g, 'v' FROM generate_series(1, 150) g;
	GRANT SELECT, DELETE ON app.ptab TO regress_admin;
	ALTER TABLE app.ptab_2 OWNER TO regress_evil});
like(as('regress_admin', q{SELECT crm_purge_delete_where('app.ptab', 'id = 1', dry_run => true)}, err => 1),
	qr/cannot read Citus table app.ptab by a filter: a partition of it has another owner/,
	'a partition of another owner stops every filter read of a distributed table');

# a superuser's distributed table is written as the admin on the worker
# nodes (a third role's code there ran as the superuser and made its role
# superuser); a third role's code on another owner's table refuses the write
$coord->safe_psql('postgres', q{CREATE ROLE regress_third LOGIN; CREATE SCHEMA third AUTHORIZATION regress_third;
	GRANT USAGE ON SCHEMA third TO PUBLIC});
as('regress_third', q{CREATE FUNCTION third.who() RETURNS trigger LANGUAGE plpgsql AS $f$
	BEGIN RAISE EXCEPTION 'third role code ran as %', current_user; END $f$});
$coord->safe_psql('postgres', q{SET citus.enable_unsafe_triggers = on;
	CREATE TABLE app.sut (id int PRIMARY KEY);
	SELECT create_distributed_table('app.sut', 'id');
	INSERT INTO app.sut SELECT generate_series(1, 10);
	GRANT SELECT, DELETE ON app.sut TO regress_admin;
	CREATE TRIGGER who BEFORE DELETE ON app.sut FOR EACH ROW EXECUTE FUNCTION third.who();
	SELECT crm_purge_protect('app.sut')});
like(as('regress_admin', q{SELECT * FROM crm_purge_delete_keys('app.sut', '{2}')}, err => 1),
	qr/trigger who runs code of role regress_third/,
	'a superuser\'s distributed table: a third role\'s trigger is refused (it would run as the admin; review round 48, C48-1)');
as('regress_app', q{SET citus.enable_unsafe_triggers = on;
	CREATE TABLE app.tt (id int PRIMARY KEY);
	SELECT create_distributed_table('app.tt', 'id');
	INSERT INTO app.tt SELECT generate_series(1, 10);
	GRANT SELECT, DELETE ON app.tt TO regress_admin;
	CREATE TRIGGER who BEFORE DELETE ON app.tt FOR EACH ROW EXECUTE FUNCTION third.who()});
$coord->safe_psql('postgres', q{SET citus.enable_unsafe_triggers = on; SELECT crm_purge_protect('app.tt')});
like(as('regress_admin', q{SELECT * FROM crm_purge_delete_keys('app.tt', '{2}')}, err => 1),
	qr/trigger who runs code of role regress_third/,
	'another owner\'s distributed table with a third role\'s trigger: refused');
is($coord->safe_psql('postgres', q{SELECT (SELECT count(*) FROM app.sut) || ' ' || (SELECT count(*) FROM app.tt)}), '10 10',
	'nothing was deleted');

# crm_purge's admin functions refuse a Citus node's session (code on a
# shard, reaching the coordinator through a reference table's trigger, ran
# crm_purge_release as the admin there)
{
	local $ENV{PGAPPNAME} = 'citus_internal gpid=10000000042';
	like(as('regress_admin', q{SELECT crm_purge_hold('hx', 'id = 4', NULL, 'x')}, err => 1),
		qr/cannot run on another role's behalf/, 'an admin function in a Citus node\'s session: refused');
}

# a session may not set its own distributed transaction id (deletion ids
# come from it: a role could give its trash rows another user's names), on
# the coordinator or on a worker node; Citus's own sessions do
like(as('regress_app', q{SELECT assign_distributed_transaction_id(0, 611, now())}, err => 1),
	qr/function assign_distributed_transaction_id is for Citus's own sessions/,
	'a role cannot set its distributed transaction id on the coordinator');
my ($tid_err);
$w1->psql('postgres', q{SET ROLE regress_app; SELECT assign_distributed_transaction_id(0, 611, now())}, stderr => \$tid_err);
like($tid_err, qr/is for Citus's own sessions/, 'nor on a worker node');

# ... but a session may pass for Citus's own by its application_name, and
# then choose its distributed transaction id: its rows share another
# user's deletion id, never a row's name (trash_row is unique on its own)
$coord->safe_psql('postgres', q{CREATE ROLE regress_u1 LOGIN; CREATE ROLE regress_u2 LOGIN;
	GRANT USAGE ON SCHEMA app TO regress_u1, regress_u2;
	GRANT SELECT, INSERT, DELETE ON app.contacts TO regress_u1, regress_u2});
as('regress_u2', q{DELETE FROM contacts WHERE id BETWEEN 1700 AND 1719});
my $victim = $coord->safe_psql('postgres', q{SELECT deletion_id FROM crm_trash.app__contacts WHERE id = 1700});
my ($vnode, $vnum, $vstamp) = split /\|/, $coord->safe_psql('postgres', qq{
	SELECT ($victim >> 12) & 1023, $victim & 4095,
		timestamptz '2024-01-01 00:00:00+00' + (($victim >> 22) & ((1::bigint << 40) - 1)) * interval '1 millisecond'});
{
	local $ENV{PGAPPNAME} = 'citus_internal gpid=10000000043';
	my $forge = join('', map { "DELETE FROM app.contacts WHERE id = $_;\n" } 1720 .. 1739);
	$w1->safe_psql('postgres', qq{SET ROLE regress_u1; SET citus.allow_nested_distributed_execution = on;
		DO \$\$ BEGIN PERFORM assign_distributed_transaction_id($vnode, $vnum, '$vstamp'); $forge END \$\$});
}
is($coord->safe_psql('postgres', qq{
	SELECT (SELECT count(*) FROM crm_trash.app__contacts WHERE deletion_id = $victim AND deleted_by::text = 'regress_u1')
		|| ' ' || (SELECT count(*) = count(DISTINCT (deletion_id, trash_row)) FROM crm_trash.app__contacts)}),
	'20 true', 'a forged distributed transaction id: the rows share the deletion id, not a name');
is(as('regress_u1', q{SELECT crm_purge_restore('contacts', 'id BETWEEN 1700 AND 1739')}), '20',
	'a restore of the forged rows brings back those alone');
is($coord->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM crm_trash.app__contacts WHERE id BETWEEN 1700 AND 1719 AND deleted_by::text = 'regress_u2')
		|| ' ' || (SELECT count(*) FROM contacts WHERE id BETWEEN 1700 AND 1739)}),
	'20 20', 'the other user\'s rows stay in the trash');
# nor does the table's owner restore them with a filter (it reads every
# row of a distributed trash: the worker nodes read it as the owner;
# review round 41, C41-2)
is(as('regress_app', q{SELECT crm_purge_restore('contacts', 'id BETWEEN 1700 AND 1719')}), '0',
	'Citus: the table\'s owner restores no other user\'s rows by a filter');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__contacts WHERE id BETWEEN 1700 AND 1719}), '20',
	'they stay in the trash');

# legal holds on Citus as off it (round 32): a delete that is not permanent
# of a table without a trash, a foreign key's action at any depth, a trash
# column's type change
as('regress_app', q{
	CREATE TABLE app.hfk (account_id int, id int, parent_id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.hfk', 'account_id');
	INSERT INTO app.hfk SELECT 1, g, CASE WHEN g > 1 THEN g - 1 END FROM generate_series(1, 5) g;
	ALTER TABLE app.hfk ADD FOREIGN KEY (account_id, parent_id) REFERENCES app.hfk (account_id, id) ON DELETE CASCADE;
	GRANT SELECT, DELETE ON app.hfk TO regress_admin;
	CREATE TABLE app.hy (account_id int, id int, amount numeric(10,2), PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.hy', 'account_id');
	INSERT INTO app.hy SELECT g, g, g + 0.37 FROM generate_series(1, 4) g;
	GRANT SELECT, DELETE ON app.hy TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_hold('app.hfk', 'id = 3', NULL, 'litigation'); SELECT crm_purge_protect('app.hy')});
like(as('regress_admin', q{SELECT crm_purge_delete_where('app.hfk', 'id = 3')}, err => 1),
	qr/cannot delete rows of table app.hfk: legal hold \d+ keeps them/, 'Citus: a delete that is not permanent, of held rows without a trash: refused');
like(as('regress_admin', q{SELECT crm_purge_delete_where('app.hfk', 'id = 2')}, err => 1),
	qr/legal hold \d+ keeps rows of table app.hfk that its foreign key would delete/, 'Citus: nor reaching them through a foreign key');
like(as('regress_admin', q{SELECT crm_purge_erase('app.hfk', 'id = 1', 'GDPR')}, err => 1),
	qr/legal hold \d+ keeps rows of table app.hfk that its foreign key would delete/, 'Citus: an erase reaching held rows through a foreign key: refused');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.hfk}), '5', 'no row of app.hfk went');
as('regress_app', q{DELETE FROM app.hy WHERE id <= 2});
as('regress_admin', q{SELECT crm_purge_hold('app.hy', 'true', NULL, 'litigation')});
like(as('regress_app', q{ALTER TABLE app.hy ALTER COLUMN amount TYPE numeric(10,0)}, err => 1),
	qr/cannot change the type of column "amount" of table app.hy: legal hold \d+ keeps trashed rows/,
	'Citus: a held trash column\'s type change: refused');
is($coord->safe_psql('postgres', q{SELECT string_agg(amount::text, ',' ORDER BY id) FROM crm_trash.app__hy}), '1.37,2.37',
	'the held trashed values are as they were');

# a delete that is not permanent returns only the key to the coordinator,
# as its base type: a domain's CHECK of the owner's (Citus reads returned
# values with their input functions) ran there as the extension owner
as('regress_app', q{
	CREATE TABLE app.dom_log (who name);
	CREATE FUNCTION app.dom_note(v text) RETURNS boolean LANGUAGE plpgsql AS $f$
	BEGIN
		IF pg_catalog.to_regclass('app.dom_log') IS NOT NULL THEN INSERT INTO app.dom_log VALUES (current_user); END IF;
		RETURN true;
	END $f$;
	CREATE DOMAIN app.dnote AS text CHECK (app.dom_note(VALUE));
	CREATE TABLE app.dk (account_id int, id int, note app.dnote, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.dk', 'account_id');
	INSERT INTO app.dk VALUES (1, 1, 'a'), (2, 2, 'b');
	GRANT SELECT, DELETE ON app.dk TO regress_admin;
	TRUNCATE app.dom_log;
});
is(as('regress_admin', q{SELECT crm_purge_delete_where('app.dk', 'id = 1')}), '1', 'Citus: a delete of a table with a domain column');
unlike($coord->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.dom_log}),
	qr/postgres/, 'the owner\'s domain CHECK never ran as the superuser on the coordinator');

# a hold's literals read as when it was made (DateStyle YMD, UTC), whatever
# the session that checks it: an erase in an MDY session, the trash expiry
# in a session in another time zone
as('regress_app', q{
	CREATE TABLE app.bd (account_id int, id int, born date, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.bd', 'account_id', colocate_with => 'none');
	INSERT INTO app.bd VALUES (1, 1, '2002-03-04'), (2, 2, '2004-03-02'), (3, 3, '2010-01-01'), (6, 6, '2002-03-04');
	GRANT SELECT, INSERT, DELETE ON app.bd TO regress_admin;
	CREATE TABLE app.bx (account_id int, id int, born date, created_at timestamptz, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.bx', 'account_id', colocate_with => 'none');
	INSERT INTO app.bx VALUES (1, 1, '2002-03-04', '2026-07-01 00:00+00'), (2, 2, '2011-01-01', '2026-05-31 20:00+00'),
		(3, 3, '2011-01-01', '2026-07-01 00:00+00');
	GRANT SELECT, INSERT, DELETE ON app.bx TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('app.bd');
	SELECT crm_purge_hold('app.bd', 'born = ''02/03/04''', NULL, 'litigation')});
as('regress_app', q{DELETE FROM app.bd WHERE id = 1});
like(as('regress_admin', q{SET DateStyle = 'ISO, MDY'; SELECT crm_purge_erase('app.bd', 'id = 1', 'GDPR')}, err => 1),
	qr/legal hold \d+ keeps them/, 'Citus: a held trashed row is not erased from a session with another DateStyle');
like(as('regress_admin', q{SET DateStyle = 'ISO, MDY'; SELECT crm_purge_erase('app.bd', 'id = 6', 'GDPR')}, err => 1),
	qr/legal hold \d+ keeps them/, 'nor a held live row');
as('regress_admin', q{SELECT crm_purge_protect('app.bx', '1 second');
	SELECT crm_purge_hold('app.bx', 'born = ''02/03/04''', NULL, 'litigation');
	SELECT crm_purge_hold('app.bx', 'created_at < ''2026-06-01''', NULL, 'litigation')});
as('regress_app', q{DELETE FROM app.bx});
my $expired = 0;
for (1 .. 60)
{
	as('regress_admin', q{SET DateStyle = 'ISO, MDY'; SET TimeZone = 'Asia/Tokyo'; SELECT crm_purge_tick()});
	$expired = 1, last
	  if $coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__bx WHERE id = 3}) eq '0';
	sleep 1;
}
ok($expired, 'the unheld trashed row expired');
is($coord->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM crm_trash.app__bx}), '1,2',
	'Citus: held trashed rows do not expire, read in a session with another DateStyle and TimeZone');

# a column added to a protected distributed table after protect: a type
# whose values run code when read is refused as crm_purge_protect refuses
# it (Citus copies the trash's rows as the superuser when it moves a shard)
as('regress_app', q{
	CREATE DOMAIN app.dnum AS int;
	CREATE TYPE app.pair AS (a int, b app.dnum);
	CREATE TABLE app.ac (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.ac', 'account_id', colocate_with => 'none');
	GRANT SELECT, DELETE ON app.ac TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('app.ac')});
my ($ac_ok, $ac_out, $ac_err) = $coord->psql('postgres', q{ALTER TABLE app.ac ADD COLUMN p app.pair});
like($ac_err, qr/cannot change protected distributed table app.ac: column p of its trash would have a type whose values run code when read/,
	'Citus: a superuser\'s ADD COLUMN of an owner\'s composite type to a protected table is refused');
$coord->psql('postgres', q{ALTER TABLE app.ac ADD COLUMN q app.dnum[]}, stderr => \my $ac_err2);
like($ac_err2, qr/would have a type whose values run code when read/, 'and of an array of its domain');

# a third role's trigger made on a shard itself (a role with TRIGGER on the
# table): an admin's restore, run as the owner on the worker nodes, refuses
# it as the coordinator refuses such a trigger on the table
$coord->safe_psql('postgres', q{CREATE ROLE regress_trig3 LOGIN});
as('regress_app', q{
	CREATE TABLE app.k3 (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.k3', 'account_id', colocate_with => 'none');
	INSERT INTO app.k3 SELECT g, g FROM generate_series(1, 4) g;
	GRANT SELECT, INSERT, DELETE, TRIGGER ON app.k3 TO regress_trig3, regress_admin;
	GRANT USAGE ON SCHEMA app TO regress_trig3;
});
as('regress_admin', q{SELECT crm_purge_protect('app.k3')});
{
	my ($k3_shard, $k3_port) = split /\|/, $coord->safe_psql('postgres', q{
		SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
		WHERE s.shardid = get_shard_id_for_distribution_column('app.k3', 1)});
	my $k3_node = $k3_port == $w1->port ? $w1 : $w2;
	$k3_node->safe_psql('postgres', qq{SET citus.enable_ddl_propagation = off; CREATE SCHEMA trig3 AUTHORIZATION regress_trig3;
		SET ROLE regress_trig3; SET citus.enable_manual_changes_to_shards = on;
		CREATE FUNCTION trig3.note() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RETURN NULL; END \$f\$;
		CREATE TRIGGER zz_third AFTER INSERT ON app.k3_$k3_shard FOR EACH ROW EXECUTE FUNCTION trig3.note()});
	as('regress_app', q{DELETE FROM app.k3 WHERE account_id = 1});
	like(as('regress_admin', q{SELECT crm_purge_restore('app.k3', 'account_id = 1')}, err => 1),
		qr/runs code of role regress_trig3, not of the table's owner/,
		'Citus: an admin\'s restore refuses a third role\'s trigger made on the shard');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.k3 WHERE account_id = 1}), '0', 'nothing was restored');
}

# a table with replicated shards is not protected: each copy of a trash
# shard would name its rows otherwise (a restore reached one copy)
as('regress_app', q{
	SET citus.shard_replication_factor = 2;
	CREATE TABLE app.rep2 (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.rep2', 'account_id', colocate_with => 'none');
	GRANT SELECT, DELETE ON app.rep2 TO regress_admin;
});
like(as('regress_admin', q{SELECT crm_purge_protect('app.rep2')}, err => 1),
	qr/cannot protect distributed table app.rep2: its shards are replicated/,
	'Citus: a table with replicated shards is refused');

# a protected table stays colocated with its trash: its shards' triggers
# write the trash shard of the same range (review round 38, C38-1), in a
# top-level call and inside a function alike
as('regress_app', q{
	CREATE TABLE app.col1 (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.col1', 'account_id');
	CREATE TABLE app.col2 (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.col2', 'account_id', colocate_with => 'none');
	INSERT INTO app.col1 SELECT i % 10, i FROM generate_series(1, 20) i;
	GRANT SELECT, DELETE ON app.col1 TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('app.col1')});
like(as('regress_app', q{SELECT update_distributed_table_colocation('app.col1', colocate_with => 'none')}, err => 1),
	qr/cannot change the colocation of table app.col1: it is protected by crm_purge/,
	'Citus: a protected table is not separated from its trash');
like(as('regress_app', q{DO $$BEGIN PERFORM update_distributed_table_colocation('app.col1', colocate_with => 'app.col2'); END$$}, err => 1),
	qr/cannot change the colocation of table app.col1/,
	'Citus: nor from inside a function');
{
	my ($rc, $out, $err) = $coord->psql('postgres',
		q{SELECT update_distributed_table_colocation('crm_trash.app__col1', colocate_with => 'none')});
	like($err, qr/cannot change the colocation of table app.col1/, 'Citus: nor a superuser\'s move of the trash alone');
}
is($coord->safe_psql('postgres', q{SELECT count(DISTINCT colocationid) FROM pg_dist_partition
	WHERE logicalrelid IN ('app.col1'::regclass, 'crm_trash.app__col1'::regclass)}), '1',
	'Citus: the table and its trash are still colocated');
as('regress_app', q{SELECT update_distributed_table_colocation('app.col2', colocate_with => 'app.col1')});
as('regress_app', q{DELETE FROM app.col1 WHERE id <= 5});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__col1}), '5',
	'Citus: colocating another table with a protected one is fine, and deletes are trashed');

# a protected (or held) table is not made a Citus local or reference
# table by any of Citus's ways to it: it would become a shard behind a new
# table, and crm_purge's catalog and holds would name the shard (review
# round 40, C40-2)
as('regress_app', q{
	CREATE TABLE app.lc1 (account_id int, id int PRIMARY KEY);
	CREATE TABLE app.lref (account_id int PRIMARY KEY);
	INSERT INTO app.lref SELECT generate_series(0, 9);
	CREATE TABLE app.lc2 (account_id int REFERENCES app.lref, id int PRIMARY KEY);
	CREATE TABLE app.lc3 (account_id int, id int PRIMARY KEY);
	CREATE TABLE app.lc4 (account_id int, id int PRIMARY KEY);
	INSERT INTO app.lc1 SELECT g % 10, g FROM generate_series(1, 20) g;
	GRANT SELECT, DELETE ON app.lc1, app.lc2, app.lc3, app.lc4 TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('app.lc1'); SELECT crm_purge_protect('app.lc2'); SELECT crm_purge_protect('app.lc3');
	SELECT crm_purge_hold('app.lc4', 'true', NULL, 'litigation')});
# (Citus renames the table's triggers first: that is refused as well)
like(as('regress_app', q{SELECT citus_add_local_table_to_metadata('app.lc1')}, err => 1),
	qr/cannot make a table protected by crm_purge or under a legal hold a Citus local or reference table|cannot change crm_purge's triggers on table app.lc1_\d+: it is protected by crm_purge/,
	'Citus: a protected table is not made a Citus local table');
like(as('regress_app', q{SELECT create_reference_table('app.lref')}, err => 1),
	qr/cannot make a table protected by crm_purge or under a legal hold a Citus local or reference table|cannot change crm_purge's triggers on table app.lc2_\d+: it is protected by crm_purge/,
	'Citus: nor by making a table it references a reference table');
like(as('regress_app', q{SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table_concurrently('app.lc3', 'account_id')}, err => 1),
	qr/cannot run create_distributed_table_concurrently on table app.lc3: it is protected by crm_purge/,
	'Citus: nor by create_distributed_table_concurrently');
like(as('regress_app', q{SELECT citus_add_local_table_to_metadata('app.lc4')}, err => 1),
	qr/cannot make a table protected by crm_purge or under a legal hold a Citus local or reference table/,
	'Citus: nor a held table');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'app.l%'}), '0',
	'Citus: none of them is in Citus\'s metadata');

# on a worker node, a role's own change of a type a trash column uses is
# refused: the coordinator checks such changes against the holds, which a
# worker node does not have (review round 41, C41-1; C41-4 began with a
# rename there)
as('regress_app', q{
	CREATE TYPE app.st41 AS ENUM ('open', 'legal');
	CREATE TABLE app.cases41 (account_id int, id int, st app.st41, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.cases41', 'account_id');
	GRANT SELECT, DELETE ON app.cases41 TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('app.cases41')});
for my $stmt (q{ALTER TYPE app.st41 RENAME VALUE 'legal' TO 'lgl'}, q{ALTER TYPE app.st41 RENAME TO st41_orig},
	q{DROP TYPE app.st41 CASCADE})
{
	my ($rc, $out, $err) = $w1->psql('postgres', "SET ROLE regress_app; SET citus.enable_ddl_propagation = off; $stmt");
	like($err, qr/cannot change type app\.st41 on a Citus worker node: a crm_purge trash uses it/,
		"Citus: a worker node refuses the owner's $stmt");
}

# ... nor a collation a trash column uses renamed there, nor a trash
# column dropped with a collation (C42-1, C42-3); and citus_drop_all_shards
# of a protected table is refused on the coordinator (C42-4)
as('regress_app', q{
	CREATE COLLATION app.ci42 (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
	CREATE TABLE app.cc42 (account_id int, id int, name text COLLATE app.ci42, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.cc42', 'account_id');
	GRANT SELECT, DELETE ON app.cc42 TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('app.cc42')});
{
	my ($rc, $out, $err) = $w1->psql('postgres', q{SET ROLE regress_app; SET citus.enable_ddl_propagation = off; ALTER COLLATION app.ci42 RENAME TO ci42_orig});
	like($err, qr/cannot change collation app\.ci42 on a Citus worker node: a crm_purge trash uses it/,
		'Citus: a worker node refuses the owner\'s rename of a collation a trash uses');
	($rc, $out, $err) = $w1->psql('postgres', q{SET citus.enable_ddl_propagation = off; DROP COLLATION app.ci42 CASCADE});
	like($err, qr/cannot drop column name of trash crm_trash\.app__cc42\w*: its trashed values would be lost/,
		'Citus: nor a trash column dropped with its collation there');
	like(as('regress_app', q{SELECT citus_drop_all_shards('app.cc42', 'app', 'cc42')}, err => 1),
		qr/cannot run citus_drop_all_shards on table app\.cc42: it is protected by crm_purge/,
		'Citus: citus_drop_all_shards of a protected table is refused');
}

# an erase's natural keys are read before its lock: a row of the subject
# whose natural key changed meanwhile fails the erase, not its tombstone
# (review round 42, C42-2; the plan is given as the check would have read
# it before the change)
as('regress_app', q{
	CREATE TABLE app.nk42 (account_id int, id int, email text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.nk42', 'account_id');
	INSERT INTO app.nk42 VALUES (1, 1, 'new@x');
});
as('regress_admin', q{SELECT crm_purge_protect('app.nk42')});
like(($coord->psql('postgres', q{SELECT crm_purge._citus_erase_rows('app.nk42', ARRAY['(1,1)'],
	jsonb_build_object('trash', 'crm_trash.app__nk42'::regclass::oid, 'natural_attnums', '[3]'::jsonb,
					   'natural', '["old@x"]'::jsonb, 'children', '[]'::jsonb))}))[2],
	qr/could not erase rows of table app\.nk42: a row of them was changed concurrently/,
	'Citus: an erase whose natural keys changed after it read them fails');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.nk42}), '1', 'nothing was erased');

# a column renamed: the guard's natural key follows it (review round 37,
# B37-2); on Citus the guard's trigger changes on the shards as the
# extension owner, so the owner's rename of a key column is refused
as('regress_app', q{
	CREATE TABLE app.gn (account_id int, id int, email text NOT NULL, region text NOT NULL, note text,
		PRIMARY KEY (account_id, id), UNIQUE (account_id, email, region));
	SELECT create_distributed_table('app.gn', 'account_id');
	INSERT INTO app.gn VALUES (1, 1, 'a@x', 'eu'), (2, 2, 'b@x', 'eu');
	GRANT ALL ON app.gn TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_guard('app.gn', 'error', ARRAY['email', 'region']::name[])});
like(as('regress_app', q{ALTER TABLE app.gn RENAME COLUMN region TO area}, err => 1),
	qr/cannot rename column "region" of Citus table app\.gn as role regress_app: its guard's natural key names it/,
	'Citus: the owner\'s rename of a guard\'s natural key column is refused');
as('regress_app', q{ALTER TABLE app.gn RENAME COLUMN note TO remark});
$coord->safe_psql('postgres', q{ALTER TABLE app.gn RENAME COLUMN region TO area});
is($coord->safe_psql('postgres', q{SELECT key_columns FROM crm_purge.guards WHERE tbl = 'app.gn'::regclass}), '{email,area}',
	'Citus: the extension owner\'s rename: the natural key follows');
as('regress_admin', q{SELECT crm_purge_erase('app.gn', 'id = 1', 'GDPR')});
like(as('regress_app', q{INSERT INTO app.gn VALUES (1, 3, 'a@x', 'eu')}, err => 1),
	qr/the row's key belongs to an erased record/, 'Citus: and the shards\' guard reads it by its new name');

# a superuser's column change of a protected distributed table (which
# crm_purge asks for): Citus folded the owner's IMMUTABLE index function on
# the coordinator as the superuser (review round 43, C43-1): refused
as('regress_app', q{
	CREATE FUNCTION app.esc_w() RETURNS int LANGUAGE plpgsql AS $f$
	BEGIN
		IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
			RAISE EXCEPTION 'the owner''s code ran as superuser %', current_user;
		END IF;
		RETURN 0;
	END $f$;
	CREATE FUNCTION app.esc_i() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN PERFORM app.esc_w(); RETURN 0; END $f$;
	GRANT EXECUTE ON FUNCTION app.esc_w(), app.esc_i() TO PUBLIC;
	CREATE TABLE app.f43 (account_id int, id int, v text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.f43', 'account_id');
	INSERT INTO app.f43 VALUES (1, 1, 'a');
});
as('regress_admin', q{SELECT crm_purge_protect('app.f43')});
as('regress_app', q{CREATE INDEX f43_x ON app.f43 ((id + app.esc_i()))});
like(($coord->psql('postgres', q{ALTER TABLE app.f43 ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '2026-01-01'}))[2],
	qr/a superuser may not change Citus table app\.f43: its stored expressions call IMMUTABLE function app\.esc_i\(\) of role regress_app/,
	'Citus: a superuser\'s change of a distributed table whose index calls the owner\'s function is refused');
as('regress_app', q{DROP INDEX app.f43_x});
$coord->safe_psql('postgres', q{ALTER TABLE app.f43 ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '2026-01-01'});
as('regress_app', q{CREATE INDEX f43_x ON app.f43 ((id + app.esc_i()))});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'crm_trash.app__f43'::regclass AND attname = 'updated_at'}), '1',
	'without the index the change goes through');

# the superuser's TRUNCATE of a protected distributed table (crm_purge
# lets only superusers): the owner's own TRUNCATE trigger on the
# coordinator's table ran as the superuser (review round 43, C43-2): refused
as('regress_app', q{
	CREATE FUNCTION app.esc_t() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN PERFORM app.esc_w(); RETURN NULL; END $f$;
	CREATE TABLE app.m43 (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.m43', 'account_id');
	INSERT INTO app.m43 VALUES (1, 1), (2, 2);
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER m43_tr BEFORE TRUNCATE ON app.m43 FOR EACH STATEMENT EXECUTE FUNCTION app.esc_t();
});
as('regress_admin', q{SELECT crm_purge_protect('app.m43')});
like(($coord->psql('postgres', q{SET crm_purge.allow_truncate = on; TRUNCATE app.m43}))[2],
	qr/a superuser may not truncate Citus table app\.m43: a TRUNCATE trigger of its owner on it calls function app\.esc_t\(\)/,
	'Citus: a superuser\'s TRUNCATE of a table with the owner\'s TRUNCATE trigger is refused');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.m43}), '2', 'nothing was truncated');
# ... nor one whose WHEN clause is the owner's code, with a built-in
# function (review round 60, C60-5)
as('regress_app', q{SET citus.enable_unsafe_triggers = on; DROP TRIGGER m43_tr ON app.m43;
	CREATE TRIGGER m43_when BEFORE TRUNCATE ON app.m43 FOR EACH STATEMENT WHEN (pg_catalog.now() IS NOT NULL)
		EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()});
like(($coord->psql('postgres', q{SET crm_purge.allow_truncate = on; TRUNCATE app.m43}))[2],
	qr/a superuser may not truncate Citus table app\.m43: a TRUNCATE trigger of its owner on it calls function pg_catalog\.suppress_redundant_updates_trigger\(\)/,
	'Citus: nor with the owner\'s TRUNCATE trigger of a built-in function (its WHEN clause)');

# a superuser's column change of a role's distributed table whose rows from
# before distribution are still in the coordinator's table: the rewrite
# checked the owner's constraints over them as the superuser (review round
# 60, C60-4): refused until they are removed
as('regress_app', q{CREATE TABLE app.l60 (account_id int, id int, v int, PRIMARY KEY (account_id, id));
	INSERT INTO app.l60 VALUES (1, 1, 1);
	SELECT create_distributed_table('app.l60', 'account_id')});
like(($coord->psql('postgres', q{ALTER TABLE app.l60 ALTER COLUMN v TYPE bigint}))[2],
	qr/cannot change distributed table app\.l60 as a superuser: its table on the coordinator still holds the rows/,
	'Citus: a superuser does not rewrite a role\'s pre-distribution rows');
as('regress_app', q{SELECT truncate_local_data_after_distributing_table('app.l60')});
$coord->safe_psql('postgres', q{ALTER TABLE app.l60 ALTER COLUMN v TYPE bigint});
is($coord->safe_psql('postgres', q{SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'app.l60'::regclass AND attname = 'v'}),
	'bigint', 'once they are removed, it goes through');

# the same for a role's partitioned distributed table: its rows are its
# leaves', and only a plain table was refused (review round 68, C68-2: the
# owner's CHECK ran over them as the superuser)
as('regress_app', q{CREATE TABLE app.p68 (account_id int, day date, n int,
		CONSTRAINT c CHECK (n IS NULL OR current_user <> 'postgres')) PARTITION BY RANGE (day);
	CREATE TABLE app.p68_2026 PARTITION OF app.p68 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	INSERT INTO app.p68 VALUES (1, '2026-05-01', 1);
	SELECT create_distributed_table('app.p68', 'account_id')});
like(($coord->psql('postgres', q{ALTER TABLE app.p68 ALTER COLUMN n TYPE bigint}))[2],
	qr/cannot change distributed table app\.p68 as a superuser: its table on the coordinator still holds the rows/,
	'Citus: nor a role\'s partitioned table\'s pre-distribution rows (its leaves\')');
as('regress_app', q{SELECT truncate_local_data_after_distributing_table('app.p68')});
$coord->safe_psql('postgres', q{ALTER TABLE app.p68 ALTER COLUMN n TYPE bigint});
is($coord->safe_psql('postgres', q{SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'app.p68'::regclass AND attname = 'n'}),
	'bigint', 'once they are removed, it goes through (partitioned)');
# ... nor a partition with rows the owner attaches in a transaction still
# open when the superuser's change starts: it waited for the ATTACH and
# then checked them (review round 69, C69-1)
as('regress_app', q{CREATE TABLE app.q69 (id int, v int, CONSTRAINT c CHECK (v IS NULL OR current_user <> 'postgres'))
		PARTITION BY RANGE (id);
	CREATE TABLE app.q69_a PARTITION OF app.q69 FOR VALUES FROM (0) TO (100);
	SELECT create_distributed_table('app.q69', 'id');
	CREATE TABLE app.q69_b (LIKE app.q69 INCLUDING CONSTRAINTS);
	INSERT INTO app.q69_b SELECT g, g FROM generate_series(100, 105) g});
{
	my $attacher = $coord->background_psql('postgres');
	$attacher->query_safe(q{SET client_min_messages = warning; SET ROLE regress_app; BEGIN; ALTER TABLE app.q69 ATTACH PARTITION app.q69_b FOR VALUES FROM (100) TO (200)});
	my $su = $coord->background_psql('postgres', on_error_stop => 0);
	$su->query_until(qr/sent/, qq{\\echo sent
		ALTER TABLE app.q69 ALTER COLUMN v TYPE bigint;
	});
	ok($coord->poll_query_until('postgres', q{SELECT EXISTS (SELECT FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE app.q69 ALTER COLUMN%')}),
		'the superuser\'s change waits for the ATTACH');
	$attacher->query_safe('COMMIT');
	$attacher->quit;
	$su->query('SELECT 1');
	my $err69 = $su->{stderr};
	$su->quit;
	like($err69, qr/cannot change distributed table app\.q69 as a superuser: its table on the coordinator still holds the rows/,
		'Citus: the partition attached meanwhile is seen, its rows refuse the change');
	is($coord->safe_psql('postgres', q{SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'app.q69'::regclass AND attname = 'v'}),
		'integer', 'nothing was changed');
}

# on a worker node a role's table with rows made an inheritance child of a
# distributed table's shell there: a superuser's change of the table
# reached it and checked its CHECK as the superuser (review round 69,
# C69-2): the INHERIT is refused; a child made before is, by the change
as('regress_app', q{CREATE TABLE app.m69 (id int PRIMARY KEY, v int);
	SELECT create_distributed_table('app.m69', 'id')});
$w1->psql('postgres', q{SET ROLE regress_app; SET citus.enable_ddl_propagation = off;
	CREATE TABLE app.m69_evil (id int NOT NULL, v int, CONSTRAINT c CHECK (v IS NULL OR current_user <> 'postgres'));
	INSERT INTO app.m69_evil VALUES (1, 1);
	ALTER TABLE app.m69_evil INHERIT app.m69}, stderr => \my $inh69);
like($inh69, qr/cannot make a table a child of app\.m69 on a Citus node/, 'Citus: a role\'s INHERIT of a Citus table on a worker node is refused');
$w1->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; ALTER TABLE app.m69_evil INHERIT app.m69});
like(($coord->psql('postgres', q{ALTER TABLE app.m69 ALTER COLUMN v TYPE bigint}))[2],
	qr/table app\.m69_evil of role regress_app below it is not a Citus table and has rows/,
	'Citus: a superuser\'s change does not reach a role\'s table with rows below a Citus table on a worker node');
$w1->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; DROP TABLE app.m69_evil});

# a role's table on a worker node referencing a superuser's shard, with a
# TRUNCATE trigger: Citus truncates shards with CASCADE, which reached it
# and fired the trigger as the superuser (review round 70, C70-1)
$coord->safe_psql('postgres', q{CREATE TABLE public.y70 (id int PRIMARY KEY, note text);
	SELECT create_distributed_table('public.y70', 'id', colocate_with => 'none', shard_count => 1);
	INSERT INTO public.y70 VALUES (1, 'n');
	GRANT ALL ON public.y70 TO regress_app});
as('regress_app', q{CREATE FUNCTION app.note70() RETURNS trigger LANGUAGE plpgsql AS $f$
	BEGIN RAISE WARNING 'ran as %', current_user; RETURN NULL; END $f$});
{
	my ($y70_shard, $y70_port) = split /\|/, $coord->safe_psql('postgres', q{
		SELECT shard_name('public.y70'::regclass, s.shardid), n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
		JOIN pg_dist_node n USING (groupid) WHERE s.logicalrelid = 'public.y70'::regclass});
	my $node = $y70_port == $w1->port ? $w1 : $w2;
	$node->safe_psql('postgres', qq{SET ROLE regress_app; SET citus.enable_ddl_propagation = off;
		CREATE TABLE app.evil70 (x int REFERENCES $y70_shard (id));
		CREATE TRIGGER t BEFORE TRUNCATE ON app.evil70 FOR EACH STATEMENT EXECUTE FUNCTION app.note70()});
	my ($ret70, $out70, $err70) = $coord->psql('postgres', q{TRUNCATE public.y70});
	like($err70, qr/a superuser may not truncate table app\.evil70: a TRUNCATE trigger of its owner on it calls function app\.note70\(\)/,
		'Citus: a superuser\'s TRUNCATE reaching a role\'s table through Citus\'s CASCADE on a worker node is refused');
	unlike($err70, qr/ran as postgres/, 'the role\'s trigger did not run as the superuser');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM public.y70}), '1', 'nothing was truncated');
	$node->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; DROP TABLE app.evil70});
}

# the owner's SET UNLOGGED of a protected table's shard on a worker node
# (where its holds are not known): a crash emptied held rows (review round
# 44, C44-1): refused
as('regress_app', q{
	CREATE TABLE app.c44 (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.c44', 'account_id');
	INSERT INTO app.c44 SELECT g % 10, g FROM generate_series(1, 40) g;
	GRANT SELECT, INSERT, DELETE ON app.c44 TO regress_admin;
});
as('regress_admin', q{SELECT crm_purge_protect('app.c44')});
{
	my ($c44_shard, $c44_port) = split /\|/, $coord->safe_psql('postgres', q{
		SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
		WHERE s.shardid = get_shard_id_for_distribution_column('app.c44', 1)});
	my $node = $c44_port == $w1->port ? $w1 : $w2;
	$node->psql('postgres', qq{SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on;
		ALTER TABLE app.c44_$c44_shard SET UNLOGGED}, stderr => \my $uerr);
	like($uerr, qr/cannot make table app\.c44_\d+ unlogged: it is protected by crm_purge/,
		'Citus: the owner\'s SET UNLOGGED of a protected table\'s shard on a worker node is refused');
	is($node->safe_psql('postgres', qq{SET citus.override_table_visibility = off;
		SELECT relpersistence FROM pg_class WHERE relname = 'c44_$c44_shard'}), 'p', 'the shard stays logged');
}

# a rule the owner made on a shard on a worker node turned an admin's
# restore (an INSERT) into an insert elsewhere; the trash copy went
# (review round 44, C44-2): a shard written as its owner may have no rule
as('regress_app', q{INSERT INTO app.c44 VALUES (1, 1001); DELETE FROM app.c44 WHERE id = 1001});
{
	my ($r44_shard, $r44_port) = split /\|/, $coord->safe_psql('postgres', q{
		SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
		WHERE s.shardid = get_shard_id_for_distribution_column('app.c44', 1)});
	my $node = $r44_port == $w1->port ? $w1 : $w2;
	$node->safe_psql('postgres', qq{SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on;
		SET citus.enable_ddl_propagation = off;
		CREATE TABLE app.sink44 (account_id int, id int);
		CREATE RULE sink AS ON INSERT TO app.c44_$r44_shard DO INSTEAD INSERT INTO app.sink44 VALUES (NEW.account_id, NEW.id) RETURNING *});
	like(as('regress_admin', q{SELECT crm_purge_restore('app.c44', 'id = 1001')}, err => 1),
		qr/it has a rule for INSERT/, 'Citus: a restore into a shard with a rule the owner made on its node is refused');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__c44 WHERE id = 1001}), '1', 'the row stays in the trash');
}

# the owner's BEFORE INSERT trigger made on a shard on a worker node (the
# coordinator never sees it) skipped held row 2 in a restore and wrote row
# 1 under key 2: matched by key alone, row 2 counted as restored and lost
# its trash copy (review round 68, C68-1).  What comes back is compared
# with the trashed row: both stay in the trash.
as('regress_app', q{CREATE TABLE app.k68 (id int PRIMARY KEY, v text);
	SELECT create_distributed_table('app.k68', 'id', colocate_with => 'none', shard_count => 1);
	INSERT INTO app.k68 VALUES (1, 'alpha'), (2, 'bravo'), (3, 'charlie');
	CREATE FUNCTION app.swap68() RETURNS trigger LANGUAGE plpgsql AS $f$
	BEGIN IF NEW.id = 2 THEN RETURN NULL; END IF;
		IF NEW.id = 1 THEN NEW.id := 2; NEW.v := 'fake'; END IF; RETURN NEW; END $f$;
	GRANT SELECT, INSERT, DELETE ON app.k68 TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('app.k68')});
my $h68 = as('regress_admin', q{SELECT crm_purge_hold('app.k68', 'id IN (1, 2, 3)', NULL, 'litigation')});
as('regress_app', q{DELETE FROM app.k68});
{
	my ($k68_shard, $k68_port) = split /\|/, $coord->safe_psql('postgres', q{
		SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
		WHERE s.logicalrelid = 'app.k68'::regclass});
	my $node = $k68_port == $w1->port ? $w1 : $w2;
	$node->safe_psql('postgres', qq{SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on;
		SET citus.enable_ddl_propagation = off;
		CREATE TRIGGER swap68 BEFORE INSERT ON app.k68_$k68_shard FOR EACH ROW EXECUTE FUNCTION app.swap68()});
}
is(as('regress_app', q{SELECT crm_purge_restore('app.k68')}), '1', 'Citus: a restore through a shard\'s trigger restores only the row that came back as it was');
is($coord->safe_psql('postgres', q{SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM crm_trash.app__k68}), '1:alpha,2:bravo',
	'the row the trigger skipped and the one it wrote under another key stay in the trash');
as('regress_admin', qq{SELECT crm_purge_release($h68)});

# an erase after a split of a guarded table's smallest shard filed only its
# own tombstones under the new key, and the shards' guard took them for
# all: every key erased before came back (review round 46, C46-1)
as('regress_app', q{CREATE TABLE app.g46 (account_id int, id int, email text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.g46', 'account_id', colocate_with => 'none', shard_count => 4);
	INSERT INTO app.g46 SELECT g % 20, g, 'c' || g || '@example.com' FROM generate_series(1, 200) g;
	GRANT SELECT, INSERT, DELETE, UPDATE ON app.g46 TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('app.g46'); SELECT crm_purge_guard('app.g46', 'error', ARRAY['email'])});
as('regress_admin', q{SELECT crm_purge_erase('app.g46', 'id = 7', 'GDPR')});
{
	my $smallest = $coord->safe_psql('postgres', q{SELECT min(shardid) FROM pg_dist_shard WHERE logicalrelid = 'app.g46'::regclass});
	my $mid = $coord->safe_psql('postgres', qq{SELECT ((shardminvalue::bigint + shardmaxvalue::bigint) / 2)::text FROM pg_dist_shard WHERE shardid = $smallest});
	my $nodes = $coord->safe_psql('postgres', qq{SELECT string_agg(nodeid::text, ',') FROM (SELECT n.nodeid FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) WHERE p.shardid = $smallest LIMIT 1) n});
	$coord->safe_psql('postgres', qq{SELECT citus_split_shard_by_split_points($smallest, ARRAY['$mid'], ARRAY[$nodes, $nodes], shard_transfer_mode => 'block_writes')});
}
as('regress_admin', q{SELECT crm_purge_erase('app.g46', 'id = 9', 'GDPR')});
like(as('regress_admin', q{INSERT INTO app.g46 VALUES (7, 7, 'c7@example.com')}, err => 1),
	qr/belongs to an erased record/, 'Citus: a key erased before a split stays erased after the next erase');
like(as('regress_admin', q{INSERT INTO app.g46 VALUES (9, 1009, 'c9@example.com')}, err => 1),
	qr/belongs to an erased record/, 'and so does the natural key of the new erase');

# a table distributed with rows keeps them in the coordinator's file, where
# an erase does not reach and ANALYZE sampled them (review round 46, C46-2)
as('regress_app', q{CREATE TABLE app.p46 (account_id int, id int, email text, PRIMARY KEY (account_id, id));
	INSERT INTO app.p46 SELECT g % 20, g, 'c' || g || '@example.com' FROM generate_series(1, 50) g;
	GRANT SELECT, INSERT, DELETE, UPDATE ON app.p46 TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('app.p46')});
as('regress_app', q{SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('app.p46', 'account_id', colocate_with => 'none')});
ok($coord->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_dist_partition WHERE logicalrelid = 'crm_trash.app__p46'::regclass}),
	'the trash of a table distributed after it was protected follows');
as('regress_app', q{ANALYZE app.p46});
like(as('regress_admin', q{SELECT crm_purge_erase('app.p46', $$email = 'c7@example.com'$$, 'GDPR')}, err => 1),
	qr/the coordinator still holds rows of table app.p46 from before it was distributed/,
	'Citus: an erase while the coordinator keeps rows of the table is refused');
as('regress_app', q{SET crm_purge.allow_truncate = on; SELECT truncate_local_data_after_distributing_table('app.p46')});
is(as('regress_admin', q{SELECT crm_purge_erase('app.p46', $$email = 'c7@example.com'$$, 'GDPR')}), '1',
	'and done once its owner cleared them');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_statistic WHERE starelid = 'app.p46'::regclass}), '0',
	'no statistics of the coordinator\'s file are left');

# an owner's cast to or from its enum key type ran on the coordinator as
# the extension owner in an admin's delete_keys, and as the admin in its
# outcome query (review round 47, C47-1, C47-2): refused
as('regress_app', q{CREATE TYPE app.ks47 AS ENUM ('a', 'b', 'c');
	CREATE TABLE app.cast_log47 (who name); GRANT INSERT ON app.cast_log47 TO PUBLIC;
	CREATE FUNCTION app.ks47_text(app.ks47) RETURNS text LANGUAGE plpgsql AS $f$
	BEGIN INSERT INTO app.cast_log47 VALUES (current_user); RETURN enum_out($1)::text; END $f$;
	CREATE FUNCTION app.text_ks47(text) RETURNS app.ks47 LANGUAGE plpgsql STABLE AS $f$
	BEGIN RETURN enum_in(textout($1), 'app.ks47'::regtype); END $f$;
	CREATE CAST (app.ks47 AS text) WITH FUNCTION app.ks47_text(app.ks47);
	CREATE CAST (text AS app.ks47) WITH FUNCTION app.text_ks47(text);
	CREATE TABLE app.ek47 (k app.ks47 PRIMARY KEY, note text);
	SELECT create_distributed_table('app.ek47', 'k');
	INSERT INTO app.ek47 VALUES ('a', 'x'), ('b', 'y');
	GRANT SELECT, DELETE ON app.ek47 TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('app.ek47')});
like(as('regress_admin', q{SELECT * FROM crm_purge_delete_keys('app.ek47', ARRAY['b'])}, err => 1),
	qr/type app.ks47 of column "k" has a cast by function app.ks47_text/,
	'Citus: delete_keys of a key whose type has its owner\'s cast is refused');
like(as('regress_admin', q{SELECT crm_purge_erase('app.ek47', $$k = 'b'$$, 'GDPR')}, err => 1),
	qr/has a cast by function/, 'and so is an erase');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.cast_log47 WHERE who <> 'regress_app'}), '0',
	'the owner\'s cast never ran with other rights');

# a superuser's distributed table is written as the admin; a role with
# TRIGGER on it could add a trigger that runs there with the admin's rights
# on the worker nodes (review round 48, C48-1): refused
$coord->safe_psql('postgres', q{CREATE TABLE app.su48 (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.su48', 'account_id', colocate_with => 'none');
	INSERT INTO app.su48 SELECT g, g FROM generate_series(1, 4) g;
	SELECT crm_purge_protect('app.su48');
	DELETE FROM app.su48;
	GRANT SELECT, INSERT, DELETE ON app.su48 TO regress_admin;
	GRANT TRIGGER ON app.su48 TO regress_app});
like(as('regress_admin', q{SELECT crm_purge_restore('app.su48')}, err => 1),
	qr/a trigger its TRIGGER privilege may add to app.su48 runs code of role regress_app/,
	'Citus: a restore into a superuser\'s table another role may add triggers to is refused');

# a third role's function reached by a superuser's trigger ran on the
# worker nodes with the admin's rights (review round 49, C49-1): refused
as('regress_third', q{CREATE FUNCTION third.f49() RETURNS boolean LANGUAGE plpgsql AS $f$
	BEGIN RETURN true; END $f$; GRANT EXECUTE ON FUNCTION third.f49() TO PUBLIC});
$coord->safe_psql('postgres', q{SET citus.enable_unsafe_triggers = on;
	CREATE FUNCTION app.su49_t() RETURNS trigger LANGUAGE plpgsql AS $f$
	BEGIN PERFORM third.f49(); RETURN NEW; END $f$;
	CREATE TABLE app.su49 (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.su49', 'account_id', colocate_with => 'none');
	INSERT INTO app.su49 SELECT g, g FROM generate_series(1, 4) g;
	SELECT crm_purge_protect('app.su49');
	DELETE FROM app.su49;
	CREATE TRIGGER su49_t BEFORE INSERT ON app.su49 FOR EACH ROW EXECUTE FUNCTION app.su49_t();
	GRANT SELECT, INSERT, DELETE ON app.su49 TO regress_admin});
like(as('regress_admin', q{SELECT crm_purge_restore('app.su49')}, err => 1),
	qr/function third.f49\(\) of another role would run with your rights/,
	'Citus: a third role\'s function a superuser\'s trigger reaches does not run as the admin on the nodes');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.su49}), '0', 'nothing restored');

# a superuser's DDL reading a literal of an owner's domain type, as Citus
# sends when it adds or activates a node (a view, a policy, a function's
# default, a trigger's WHEN), ran the domain's CHECK as the superuser
# (review round 49, C49-3): refused
as('regress_app', q{CREATE DOMAIN app.d49 AS int CHECK (VALUE > 0)});
my $e49;
$coord->psql('postgres', q{CREATE VIEW app.v49 AS SELECT '5'::app.d49 AS v}, stderr => \$e49);
like($e49, qr/a superuser may not run DDL that reads a value of type app.d49/,
	'Citus: a superuser\'s view reading a literal of a role\'s domain is refused');

# nor a function's SQL-standard body, a domain's default or CHECK, an
# exclusion constraint's or a partition key's expression (review round 50,
# C50-1, C50-3): Citus sends these as the superuser too
for my $ddl (q{CREATE FUNCTION app.body50() RETURNS int LANGUAGE sql RETURN ('5'::app.d49)::int},
	q{CREATE FUNCTION app.atomic50() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT ('{5}'::app.d49[])[1]::int; END},
	q{CREATE FUNCTION app.str50() RETURNS int LANGUAGE sql AS $f$ SELECT ('5'::app.d49)::int $f$},
	q{CREATE DOMAIN app.dd50 AS int DEFAULT ('5'::app.d49)::int},
	q{CREATE DOMAIN app.dc50 AS int CHECK (VALUE <> ('5'::app.d49)::int)},
	q{CREATE DOMAIN app.db50 AS app.d49 DEFAULT '5'},
	q{CREATE TABLE app.pk50 (a int, b int) PARTITION BY RANGE ((b + ('5'::app.d49)::int))},
	q{CREATE TABLE app.x50 (a int, b int); ALTER TABLE app.x50 ADD CONSTRAINT x50_ex EXCLUDE USING btree ((b + ('5'::app.d49)::int) WITH =)})
{
	my $e50;
	$coord->psql('postgres', "BEGIN; $ddl; ROLLBACK", stderr => \$e50);
	like($e50, qr/a superuser may not run DDL that reads a value of type app.d49/,
		"Citus: refused for a superuser: $ddl");
}
# the owner's own function with such a body, which Citus makes on the
# worker nodes as the superuser when a new distributed table depends on it:
# refused there, so not made at all
like(as('regress_app', q{SET citus.enable_ddl_propagation = off;
	CREATE FUNCTION app.own50() RETURNS int LANGUAGE sql RETURN ('5'::app.d49)::int;
	RESET citus.enable_ddl_propagation;
	CREATE TABLE app.own50 (account_id int, v int DEFAULT app.own50());
	SELECT create_distributed_table('app.own50', 'account_id', colocate_with => 'none')}, err => 1),
	qr/a superuser may not run DDL that reads a value of type app.d49/,
	'Citus: an owner\'s function reading its domain\'s literal is not made on the worker nodes as the superuser');
is($w1->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname = 'own50'}), '0', 'and not made there');

# a superuser's alter_distributed_table or undistribute_table copies a
# role's rows by INSERT as the superuser, running the owner's code (review
# round 50, C50-2): refused, with cascade_to_colocated from the superuser's
# own table too; the owner may run them
as('regress_app', q{CREATE TABLE app.m50 (account_id int, v app.d49);
	SELECT create_distributed_table('app.m50', 'account_id', shard_count => 2, colocate_with => 'none');
	INSERT INTO app.m50 SELECT g, g FROM generate_series(1, 4) g});
like(scalar(eval { $coord->safe_psql('postgres', q{SELECT alter_distributed_table('app.m50', shard_count => 3)}); '' } // $@),
	qr/a superuser may not have Citus copy the rows of table app.m50/,
	'Citus: a superuser\'s alter_distributed_table of a role\'s table is refused');
like(scalar(eval { $coord->safe_psql('postgres', q{SELECT undistribute_table('app.m50')}); '' } // $@),
	qr/a superuser may not have Citus copy the rows of table app.m50/,
	'Citus: so is its undistribute_table');
$coord->safe_psql('postgres', q{CREATE TABLE public.s50 (account_id int, v int);
	SELECT create_distributed_table('public.s50', 'account_id', shard_count => 3, colocate_with => 'none')});
as('regress_app', q{CREATE TABLE app.c50 (account_id int, v app.d49);
	SELECT create_distributed_table('app.c50', 'account_id', colocate_with => 'public.s50');
	INSERT INTO app.c50 VALUES (1, 1)});
like(scalar(eval { $coord->safe_psql('postgres', q{SELECT alter_distributed_table('public.s50', shard_count => 5, cascade_to_colocated => true)}); '' } // $@),
	qr/a superuser may not have Citus copy the rows of table app.c50/,
	'Citus: and a cascade from the superuser\'s own table to a role\'s');
as('regress_app', q{SELECT alter_distributed_table('app.m50', shard_count => 3)});
is($coord->safe_psql('postgres', q{SELECT (SELECT count(*) FROM app.m50) || '/' || (SELECT shard_count FROM citus_tables WHERE table_name = 'app.m50'::regclass)}),
	'4/3', 'the owner reshards its own table');

# a role's code run as the superuser by a superuser's DDL on a Citus node,
# whatever the statement: a foreign table's default reading its domain
# literal (review round 51, C51-1), its IMMUTABLE function folded in a
# partition key (C51-3), in a partition's CHECK at ATTACH (C51-3b), or in a
# shard split's CREATE TABLE on a worker node (C51-4): refused
as('regress_app', q{CREATE TABLE app.su51_log (who text, super boolean);
	GRANT INSERT ON app.su51_log TO PUBLIC;
	CREATE FUNCTION app.pay51() RETURNS int LANGUAGE plpgsql AS $f$
	BEGIN
		-- (a worker node has no such table: run there as a superuser, it fails loudly)
		IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
			INSERT INTO app.su51_log VALUES (current_user, true);
		END IF;
		RETURN 0;
	END $f$;
	CREATE FUNCTION app.imm51(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
	BEGIN RETURN app.pay51() + $1; END $f$});
$coord->safe_psql('postgres', q{CREATE FOREIGN DATA WRAPPER dummy51; CREATE SERVER s51 FOREIGN DATA WRAPPER dummy51});
my $e51;
$coord->psql('postgres', q{BEGIN; CREATE FOREIGN TABLE public.ft51 (v int DEFAULT ('5'::app.d49)::int) SERVER s51; ROLLBACK},
	stderr => \$e51);
like($e51, qr/a superuser may not run DDL that reads a value of type app.d49/,
	'Citus: a superuser\'s foreign table reading a role\'s domain literal is refused');
$coord->psql('postgres', q{BEGIN; CREATE TABLE public.x51 (a int) PARTITION BY RANGE ((a + app.imm51(0))); ROLLBACK},
	stderr => \$e51);
like($e51, qr/a superuser's DDL on a Citus node may not run function app.imm51\(integer\) of another role/,
	'Citus: a role\'s IMMUTABLE function in a superuser\'s partition key is refused');
as('regress_app', q{CREATE TABLE app.pq51 (account_id int, v int) PARTITION BY RANGE (account_id);
	CREATE TABLE app.pq51_a (account_id int, v int, CHECK (v > app.imm51(-1000)))});
$coord->psql('postgres', q{ALTER TABLE app.pq51 ATTACH PARTITION app.pq51_a FOR VALUES FROM (0) TO (100)},
	stderr => \$e51);
like($e51, qr/may not run function app.imm51\(integer\) of another role|its stored expressions call IMMUTABLE function app.imm51/,
	'Citus: and so is a partition\'s CHECK folded by a superuser\'s ATTACH');
as('regress_app', q{ALTER TABLE app.pq51 ATTACH PARTITION app.pq51_a FOR VALUES FROM (0) TO (100)});
as('regress_app', q{CREATE TABLE app.pk51 (account_id int, v int) PARTITION BY RANGE ((account_id + app.imm51(0)));
	CREATE TABLE app.pk51_a PARTITION OF app.pk51 FOR VALUES FROM (0) TO (100);
	SELECT create_distributed_table('app.pk51', 'account_id', shard_count => 2, colocate_with => 'none')});
{
	my $shard = $coord->safe_psql('postgres', q{SELECT min(shardid) FROM pg_dist_shard WHERE logicalrelid = 'app.pk51'::regclass});
	my $mid = $coord->safe_psql('postgres', qq{SELECT ((shardminvalue::bigint + shardmaxvalue::bigint) / 2)::text FROM pg_dist_shard WHERE shardid = $shard});
	my $nodes = $coord->safe_psql('postgres', qq{SELECT string_agg(nodeid::text, ',') FROM (SELECT n.nodeid FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) WHERE p.shardid = $shard LIMIT 1) n});
	$coord->psql('postgres', qq{SELECT citus_split_shard_by_split_points($shard, ARRAY['$mid'], ARRAY[$nodes, $nodes], shard_transfer_mode => 'block_writes')},
		stderr => \$e51);
	like($e51, qr/may not run function app.imm51\(integer\) of another role/,
		'Citus: a shard split re-making a role\'s partition key on a worker node is refused there');
}
# Citus's metadata sync attaches such a partition again on a node it
# activates: as the owner there, so the activation goes through (C51-2).
# (A partition key calling the role's function still stops it: README Limits.)
as('regress_app', q{DROP TABLE app.pk51;
	SELECT create_distributed_table('app.pq51', 'account_id', colocate_with => 'none')});
$coord->safe_psql('postgres', sprintf(q{SELECT citus_activate_node(nodename, nodeport) FROM pg_dist_node WHERE nodeport = %d}, $w1->port));
is($w1->safe_psql('postgres', q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'app.pq51'::regclass}), '1',
	'Citus: a node with a role\'s partition checked by its IMMUTABLE function is activated');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.su51_log WHERE super}), '0',
	'the role\'s function never ran as a superuser');
is(join(',', map { $_->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_app'}) } ($coord, $w1, $w2)), 'f,f,f',
	'nor is the role superuser on any node');

# the hold check plans without index scans on the worker nodes too: the
# owner's partial index, whose IMMUTABLE predicate lies there, hid the held
# rows from it, and an erase removed them (review round 52, C52-1)
as('regress_app', q{CREATE FUNCTION app.lie52() RETURNS boolean LANGUAGE sql IMMUTABLE AS
	$f$ SELECT EXISTS (SELECT FROM pg_catalog.pg_class WHERE relname = 'lie52_on' AND relnamespace = 'app'::regnamespace) $f$;
	CREATE TABLE app.h52 (id int PRIMARY KEY, region text, note text);
	SELECT create_distributed_table('app.h52', 'id', colocate_with => 'none');
	INSERT INTO app.h52 SELECT g, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END, 'n' || g FROM generate_series(1, 200) g});
as('regress_admin', q{SELECT crm_purge_protect('app.h52'); SELECT crm_purge_hold('app.h52', $$region = 'EU'$$, NULL, 'litigation')});
as('regress_app', q{CREATE INDEX h52_lie ON app.h52 (region, id) WHERE app.lie52()});
$_->safe_psql('postgres', q{SET ROLE regress_app; CREATE TABLE app.lie52_on ()}) for ($w1, $w2);
as('regress_app', q{ALTER INDEX app.h52_lie SET (fillfactor = 90);
	INSERT INTO app.h52 SELECT g, 'US', 'n' FROM generate_series(1000, 200000) g;
	VACUUM ANALYZE app.h52});
like(as('regress_admin', q{SELECT crm_purge_erase('app.h52', 'id = 4', 'GDPR')}, err => 1),
	qr/legal hold \d+ keeps them/,
	'Citus: the hold check reads no index whose IMMUTABLE predicate the owner makes lie on the worker nodes');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.h52 WHERE id = 4}), '1', 'the held row stays');

# a superuser's create_distributed_table or create_reference_table of a
# role's table folded the role's IMMUTABLE index function as the superuser
# on the coordinator, and truncate_local_data_after_distributing_table
# fired the role's TRUNCATE trigger so (review round 53, C53-1, C53-2):
# while such a Citus function runs for a superuser, no role's function runs
my $e53;
as('regress_app', q{CREATE TABLE app.t53 (id int, v int); INSERT INTO app.t53 VALUES (1, 1);
	CREATE INDEX t53_fold ON app.t53 ((id + app.imm51(0)))});
for my $call (q{SELECT create_distributed_table('app.t53', 'id')}, q{SELECT create_reference_table('app.t53')}) {
	$coord->psql('postgres', $call, stderr => \$e53);
	like($e53, qr/a superuser's DDL on a Citus node may not run function app.imm51\(integer\) of another role/,
		"Citus: refused for a superuser: $call of a table with the role's IMMUTABLE index function");
}
as('regress_app', q{CREATE TABLE app.u53 (id int, v int); INSERT INTO app.u53 VALUES (1, 1);
	SELECT create_distributed_table('app.u53', 'id', colocate_with => 'none');
	CREATE FUNCTION app.trunc53() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN PERFORM app.pay51(); RETURN NULL; END $f$;
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER trunc53 BEFORE TRUNCATE ON app.u53 FOR EACH STATEMENT EXECUTE FUNCTION app.trunc53()});
$coord->psql('postgres', q{SELECT truncate_local_data_after_distributing_table('app.u53')}, stderr => \$e53);
like($e53, qr/a superuser may not truncate Citus table app\.u53: a TRUNCATE trigger of its owner on it calls function app\.trunc53\(\)/,
	'Citus: a superuser\'s truncate_local_data_after_distributing_table does not fire the role\'s TRUNCATE trigger');

# the schema functions (regnamespace) and remove_local_tables_from_metadata
# (no argument) were not counted: a superuser's citus_schema_distribute
# folded the role's index function as the superuser, and
# citus_schema_undistribute copied the rows as the superuser on the nodes
# (review round 55, C55-1): every Citus function counts now
$coord->safe_psql('postgres', q{CREATE SCHEMA s55 AUTHORIZATION regress_app});
as('regress_app', q{CREATE TABLE s55.t (id int, v int); INSERT INTO s55.t VALUES (1, 1);
	CREATE INDEX t_fold ON s55.t ((id + app.imm51(0)))});
$coord->psql('postgres', q{SELECT citus_schema_distribute('s55')}, stderr => \$e53);
like($e53, qr/a superuser's DDL on a Citus node may not run function app.imm51\(integer\) of another role/,
	'Citus: a superuser\'s citus_schema_distribute runs no function of the schema\'s owner');
as('regress_app', q{SELECT citus_schema_distribute('s55')});
$coord->psql('postgres', q{SELECT citus_schema_undistribute('s55')}, stderr => \$e53);
like($e53, qr/may not run function app.imm51\(integer\) of another role|a superuser may not have Citus copy the rows of table s55/,
	'Citus: nor its citus_schema_undistribute');
as('regress_app', q{CREATE TABLE app.r55 (id int PRIMARY KEY); SELECT create_reference_table('app.r55');
	INSERT INTO app.r55 VALUES (1);
	CREATE TABLE app.loc55 (id int, rid int REFERENCES app.r55 (id), v int CHECK (v + app.imm51(0) >= 0));
	INSERT INTO app.loc55 VALUES (1, 1, 1);
	SET citus.enable_local_reference_table_foreign_keys = off;
	ALTER TABLE app.loc55 DROP CONSTRAINT loc55_rid_fkey});
$coord->psql('postgres', q{SELECT remove_local_tables_from_metadata()}, stderr => \$e53);
like($e53, qr/may not run function app.imm51\(integer\) of another role|a superuser may not have Citus copy the rows of table app.loc55/,
	'Citus: nor remove_local_tables_from_metadata');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.su51_log WHERE super}), '0',
	'the role\'s functions never ran as a superuser');
is($coord->safe_psql('postgres', q{SELECT string_agg(result, ',') FROM run_command_on_all_nodes($$SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_app'$$)}),
	'f,f,f', 'regress_app is superuser on no node');


# the owner swapped two columns of its shards on a worker node, where no
# hold is recorded: a request deleted the held rows (review round 55,
# C55-2); and switched the trash triggers of its shards off there (C55-4).
# A role's column change on a worker node needs the coordinator's tag now.
as('regress_app', q{CREATE TABLE app.h55 (account_id int, id int, v text, w text, modified_at timestamptz,
		PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.h55', 'account_id', colocate_with => 'none');
	INSERT INTO app.h55 SELECT g, g, CASE WHEN g <= 10 THEN 'keep' ELSE 'x' END, 'x', now() - interval '10 days'
		FROM generate_series(1, 40) g;
	GRANT SELECT, DELETE ON app.h55 TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('app.h55'); SELECT crm_purge_hold('app.h55', $$v = 'keep'$$, NULL, 'litigation')});
my $s55 = $w1->safe_psql('postgres', q{SELECT 'app.h55_' || s.shardid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
	WHERE s.logicalrelid = 'app.h55'::regclass AND p.groupid = (SELECT groupid FROM pg_dist_local_group) LIMIT 1});
for my $ddl ("ALTER TABLE $s55 RENAME COLUMN v TO tmp_v", "ALTER TABLE $s55 DROP COLUMN v",
	"ALTER TABLE $s55 ALTER COLUMN v TYPE varchar(2) USING 'x'",
	"SET citus.enable_ddl_propagation = off; ALTER TABLE app.h55 RENAME COLUMN v TO tmp_v") {
	$w1->psql('postgres', "SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on; $ddl", stderr => \my $err55);
	like($err55, qr/cannot change the columns of app.h55(_\d+)? on a Citus worker node/, "Citus: refused on a worker node: $ddl");
}
$w1->psql('postgres', "SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on; ALTER TABLE $s55 DISABLE TRIGGER ALL",
	stderr => \my $err55t);
like($err55t, qr/cannot change crm_purge's triggers on app.h55_\d+: it is a shard of a table protected by crm_purge/,
	'Citus: the trash triggers of a protected table\'s shard stay on a worker node');
# made on the coordinator, the change reaches the shards (a column the hold does not name)
as('regress_app', q{CREATE TABLE app.n55 (account_id int PRIMARY KEY, v text);
	SELECT create_distributed_table('app.n55', 'account_id', colocate_with => 'none');
	ALTER TABLE app.n55 ADD COLUMN z int; ALTER TABLE app.n55 ALTER COLUMN z TYPE bigint; ALTER TABLE app.n55 RENAME COLUMN v TO w});
is($w1->safe_psql('postgres', q{SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, NULL), ', ' ORDER BY a.attnum)
	FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_attribute a ON a.attrelid = ('app.n55_' || s.shardid)::regclass
	WHERE s.logicalrelid = 'app.n55'::regclass AND p.groupid = (SELECT groupid FROM pg_dist_local_group) AND a.attnum > 0
	GROUP BY s.shardid ORDER BY s.shardid LIMIT 1}),
	'account_id integer, w text, z bigint', 'a role\'s column change made on the coordinator reaches the shards');
# the tag named the transaction only: a role's trigger, run on a worker node
# after the role's checked change of another table, swapped the held
# table's shard columns there (review round 56, B56-2); a role's table that
# a shard was made to inherit took the change into the shard (C56-1)
$w1->psql('postgres', qq{SET ROLE regress_app; SET citus.override_table_visibility = off;
	CREATE TABLE app.pc56 (v text); ALTER TABLE $s55 INHERIT app.pc56; ALTER TABLE app.pc56 RENAME COLUMN v TO v_was},
	stderr => \my $err56);
like($err56, qr/cannot rename, move or change the type or parent of app.h55_\d+ on a Citus worker node/,
	'Citus: a shard made an inheritor of the role\'s table on a worker node is refused');
# (made so by a superuser: a change through the parent is still refused)
$w1->safe_psql('postgres', qq{ALTER TABLE $s55 INHERIT app.pc56});
$w1->psql('postgres', qq{SET ROLE regress_app; ALTER TABLE app.pc56 RENAME COLUMN v TO v_was}, stderr => \my $err56b);
like($err56b, qr/cannot change the columns of app.h55_\d+ on a Citus worker node/,
	'Citus: a change reaching a shard through a parent of the role\'s is refused on a worker node');
$w1->safe_psql('postgres', qq{ALTER TABLE $s55 NO INHERIT app.pc56});
# the owner renamed its shard away on a worker node (no shard by name then),
# changed its columns or switched its trash triggers off, and renamed it
# back (review round 57, C57-2, C57-3); or made it OF a type of its own and
# changed the columns through ALTER TYPE ... CASCADE (C57-1)
(my $s55name = $s55) =~ s/^app\.//;
$w1->safe_psql('postgres', q{SET ROLE regress_app; SET citus.enable_ddl_propagation = off;
	CREATE TYPE app.ct57 AS (account_id int, id int, v text, w text, modified_at timestamptz)});
for my $ddl ("ALTER TABLE $s55 RENAME TO h55_away", "ALTER TABLE $s55 SET SCHEMA public",
	"ALTER INDEX $s55 RENAME TO h55_away",	# (PostgreSQL renames a table so: review round 58, C58-1, C58-2)
	"SET citus.enable_ddl_propagation = off; ALTER TABLE app.h55 RENAME TO h55_away",
	"ALTER TABLE $s55 OF app.ct57") {
	$w1->psql('postgres', "SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on; $ddl", stderr => \my $err57);
	like($err57, qr/cannot rename, move or change the type or parent of app.h55(_\d+)? on a Citus worker node/,
		"Citus: refused on a worker node: $ddl");
}
$w1->safe_psql('postgres', qq{ALTER TABLE $s55 RENAME TO h55_away});
for my $ddl ("ALTER TABLE app.h55_away DISABLE TRIGGER ALL", "TRUNCATE app.h55_away") {
	$w1->psql('postgres', "SET ROLE regress_app; $ddl", stderr => \my $err57);
	like($err57, qr/cannot (change crm_purge's triggers on|truncate) app.h55_away: it is a shard of a table protected by crm_purge/,
		"Citus: a protected shard renamed away is known by its trash triggers: $ddl");
}
$w1->psql('postgres', "SET ROLE regress_app; ALTER TABLE app.h55_away RENAME COLUMN v TO v_was", stderr => \my $err57c);
like($err57c, qr/cannot change the columns of app.h55_away on a Citus worker node/,
	'Citus: the columns of a protected shard renamed away stay');
$w1->safe_psql('postgres', qq{ALTER TABLE app.h55_away RENAME TO $s55name; ALTER TABLE $s55 OF app.ct57});
$w1->psql('postgres', "SET ROLE regress_app; ALTER TYPE app.ct57 RENAME ATTRIBUTE v TO v_was CASCADE", stderr => \my $err57t);
like($err57t, qr/cannot change the columns of app.h55_\d+ on a Citus worker node/,
	'Citus: ALTER TYPE ... CASCADE reaching a shard is refused on a worker node');
$w1->safe_psql('postgres', qq{ALTER TABLE $s55 NOT OF});
# a table renamed on the coordinator: its shards follow
$coord->safe_psql('postgres', q{CREATE SCHEMA app57 AUTHORIZATION regress_app});
as('regress_app', q{ALTER TABLE app.n55 RENAME TO n55r; ALTER TABLE app.n55r SET SCHEMA app57; ALTER TABLE app57.n55r SET SCHEMA app});
is($w1->safe_psql('postgres', q{SET citus.override_table_visibility = off; SELECT count(*) > 0 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'app' AND c.relname ~ '^n55r_[0-9]+$'}), 't', 'Citus: a role\'s rename on the coordinator reaches the shards');
# the owner edited a worker node's Citus metadata in a session named
# citus_internal (Citus checks only the name and the table's owner): its
# shard unknown there, its columns changed unchecked, the metadata put back
# (review round 59, C59-1..3)
my ($s55id) = $s55 =~ /_(\d+)$/;
$w1->psql('postgres', "SET application_name = 'citus_internal gpid=10000000001'; SET ROLE regress_app;
	SELECT citus_internal.delete_shard_metadata($s55id)", stderr => \my $err59);
like($err59, qr/may change Citus's metadata on a worker node only for the coordinator/,
	'Citus: a role changes no Citus metadata on a worker node');
# nor drops its table's shell there (worker_drop_shell_table: review round
# 63, C63-1)
$w1->psql('postgres', "SET ROLE regress_app; SELECT worker_drop_shell_table('app.h55')", stderr => \my $err63s);
like($err63s, qr/may change Citus's metadata on a worker node only for the coordinator/,
	'Citus: a role drops no shell table on a worker node');
# a tag sent while one of the role's own Citus connections fails is not in
# the error the role reads (review round 63, C63-3: the role ended its
# connection on a worker node and read the tag in the context)
{
	local $ENV{PGUSER} = 'regress_app';
	my $bg = $coord->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe('\set SHOW_CONTEXT always');
	$bg->query_safe('BEGIN; SELECT count(*) FROM app.h55');
	$w1->safe_psql('postgres', q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE usename = 'regress_app' AND application_name LIKE 'citus_internal%'}, extra_params => ['-U', 'regress_app']);
	$bg->query('CREATE TABLE app.t63 (a int)');
	my $seen63 = $bg->{stderr};
	$bg->query('ROLLBACK');
	$bg->quit;
	unlike($seen63, qr/citus_metadata = '[0-9a-f]{16}'|[0-9a-f]{16}/, 'Citus: a failed send shows the role no tag');
}
# nor on the coordinator, where Citus changes its metadata itself, nor the
# metadata functions Citus checks nothing for (review round 62, C62-1, C62-2)
$coord->psql('postgres', "SET application_name = 'citus_internal gpid=10000000001'; SET ROLE regress_app;
	SELECT citus_internal.delete_shard_metadata($s55id)", stderr => \my $err62);
like($err62, qr/may change Citus's metadata only as Citus's own command/,
	'Citus: a role changes no Citus metadata on the coordinator');
$w1->psql('postgres', "SET application_name = 'citus_internal gpid=10000000001'; SET ROLE regress_app;
	SELECT citus_internal.add_tenant_schema('app'::regnamespace, 1)", stderr => \my $err62t);
like($err62t, qr/may change Citus's metadata on a worker node only for the coordinator/,
	'Citus: nor marks a schema as a tenant schema on a worker node');
# (nor drops it with worker_drop_distributed_table, which Citus lets a
# table's owner call: review round 60, C60-1, C60-2)
$w1->psql('postgres', "SET ROLE regress_app; SELECT worker_drop_distributed_table('app.h55')", stderr => \my $err60);
like($err60, qr/may change Citus's metadata on a worker node only for the coordinator/,
	'Citus: a role drops no Citus metadata on a worker node');
is($w1->safe_psql('postgres', "SELECT count(*) FROM pg_dist_shard WHERE shardid = $s55id"), '1', 'the shard is still known there');
# ... nor the role's code run there in a transaction the coordinator tagged
# (a trigger fired by a distributed UPDATE after the role's DDL)
as('regress_app', qq{CREATE TABLE app.m59 (account_id int PRIMARY KEY, v int);
	SELECT create_distributed_table('app.m59', 'account_id', colocate_with => 'none');
	INSERT INTO app.m59 SELECT g, 0 FROM generate_series(1, 10) g;
	CREATE FUNCTION app.meta59() RETURNS trigger LANGUAGE plpgsql AS \$f\$
	BEGIN PERFORM citus_internal.delete_shard_metadata($s55id); RETURN NEW; END \$f\$;
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER meta59 BEFORE UPDATE ON app.m59 FOR EACH ROW EXECUTE FUNCTION app.meta59()});
like(as('regress_app', q{BEGIN; CREATE TABLE app.t59 (a int); UPDATE app.m59 SET v = 2; COMMIT}, err => 1),
	qr/may change Citus's metadata on a worker node only for the coordinator/,
	'Citus: nor the role\'s code run on a worker node in a tagged transaction');
as('regress_app', q{SET citus.enable_unsafe_triggers = on; DROP TRIGGER meta59 ON app.m59});
# ... nor the role's query Citus pushes down to a shard there, in a tagged
# transaction
like(as('regress_app', qq{BEGIN; CREATE TABLE app.t61 (a int);
	SELECT citus_internal.delete_shard_metadata($s55id) FROM app.m59 WHERE account_id = 1; COMMIT}, err => 1),
	qr/may change Citus's metadata on a worker node only for the coordinator/,
	'Citus: nor the role\'s query pushed down to a shard in a tagged transaction');
is($w1->safe_psql('postgres', "SELECT count(*) FROM pg_dist_shard WHERE shardid = $s55id"), '1', 'the shard is still known there');
# ... nor the role's distributed function Citus delegates to a worker node
# as "SELECT f(...)", inlined there into a direct metadata call (review
# round 61, C61-1): the statement must be Citus's own metadata command
as('regress_app', q{CREATE FUNCTION app.m61(k int, s bigint) RETURNS void LANGUAGE sql VOLATILE
		AS $$ SELECT citus_internal.delete_shard_metadata(s) $$;
	SELECT create_distributed_function('app.m61(int,bigint)', 'k', colocate_with := 'app.m59', force_delegation := true);
	SET citus.enable_ddl_propagation = off;
	CREATE OR REPLACE FUNCTION app.m61(k int, s bigint) RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog
		AS $$ SELECT citus_internal.delete_shard_metadata(s) $$});
my $m61 = $coord->safe_psql('postgres', q{SELECT get_shard_id_for_distribution_column('app.m59', 1)});
like(as('regress_app', qq{BEGIN; CREATE TABLE app.t61c (a int); SELECT app.m61(1, $m61); COMMIT}, err => 1),
	qr/may change Citus's metadata on a worker node only for the coordinator/,
	'Citus: nor the role\'s delegated function, inlined on the worker node');
is($coord->safe_psql('postgres', qq{SELECT result FROM run_command_on_workers(\$\$SELECT count(*) FROM pg_dist_shard WHERE shardid = $m61\$\$)}),
	"1\n1", 'the shard is still known on every worker node');
# a superuser's row-reading ALTER TABLE on a worker node of a role's table
# the node does not know as a Citus table (a shard whose metadata was
# dropped there) checks its rows as the owner (review round 61, C61-2)
$w1->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off;
	CREATE FUNCTION app.who61(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
	BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN RAISE EXCEPTION 'ran as superuser'; END IF;
	RETURN true; END $f$;
	CREATE TABLE app.l61 (a int); INSERT INTO app.l61 VALUES (1);
	ALTER TABLE app.l61 OWNER TO regress_app; ALTER FUNCTION app.who61(int) OWNER TO regress_app});
$w1->psql('postgres', q{SET citus.enable_ddl_propagation = off; ALTER TABLE app.l61 ADD CONSTRAINT c61 CHECK (app.who61(a))},
	stderr => \my $err61c);
unlike($err61c, qr/ran as superuser/, 'Citus: a superuser\'s ALTER of a role\'s unknown table on a worker node checks it as the owner');
is($w1->safe_psql('postgres', q{SELECT count(*) FROM pg_constraint WHERE conname = 'c61'}), '1', '... and the constraint is made');
$w1->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; DROP TABLE app.l61; DROP FUNCTION app.who61(int)});
# the tag never reaches the role: not in the worker nodes' pg_stat_activity
# (or pg_stat_statements) of its Citus connections, not through
# pg_read_all_settings (review round 60, C60-3)
$coord->safe_psql('postgres', 'GRANT pg_read_all_settings TO regress_app');
{
	local $ENV{PGUSER} = 'regress_app';
	my $bg = $coord->background_psql('postgres');
	$bg->query_safe('BEGIN; SELECT count(*) FROM app.m59; CREATE TABLE app.t61 (id int)');
	is($bg->query_safe(q{SELECT current_setting('crm_purge.citus_metadata')}), '(hidden)',
		'Citus: pg_read_all_settings does not read the tag');
	is($w1->safe_psql('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity
		WHERE usename = 'regress_app' AND application_name LIKE 'citus_internal%'},
		extra_params => ['-U', 'regress_app']), 't', 'the role\'s Citus connections are open on the worker node');
	is($w1->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
		WHERE usename = 'regress_app' AND application_name LIKE 'citus_internal%' AND coalesce(query, '') <> ''},
		extra_params => ['-U', 'regress_app']), '0', 'Citus: they show no statement there');
	is($w1->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%citus_metadata%' AND pid <> pg_backend_pid()},
		extra_params => ['-U', 'regress_app']), '0', 'Citus: the worker node shows the role no tag in pg_stat_activity');
	$bg->query_safe('ROLLBACK');
	$bg->quit;
}
$coord->safe_psql('postgres', 'REVOKE pg_read_all_settings FROM regress_app');
as('regress_app', q{CREATE TABLE app.x56 (account_id int PRIMARY KEY, v int);
	SELECT create_distributed_table('app.x56', 'account_id', colocate_with => 'app.h55');
	INSERT INTO app.x56 SELECT g, 0 FROM generate_series(1, 40) g;
	CREATE FUNCTION app.swap56() RETURNS trigger LANGUAGE plpgsql AS $f$
	DECLARE r record;
	BEGIN
		FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				 WHERE n.nspname = 'app' AND c.relname ~ '^h55_[0-9]+$' AND c.relkind = 'r' LOOP
			EXECUTE format('ALTER TABLE %s RENAME COLUMN v TO tmp_v', r.t);
			EXECUTE format('ALTER TABLE %s RENAME COLUMN w TO v', r.t);
			EXECUTE format('ALTER TABLE %s RENAME COLUMN tmp_v TO w', r.t);
		END LOOP;
		RETURN NEW;
	END $f$;
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER swap56 BEFORE UPDATE ON app.x56 FOR EACH ROW EXECUTE FUNCTION app.swap56()});
like(as('regress_app', q{BEGIN; ALTER TABLE app.x56 ADD COLUMN z int; UPDATE app.x56 SET v = 1 WHERE account_id = 1; COMMIT}, err => 1),
	qr/cannot change the columns of app.h55_\d+ on a Citus worker node/,
	'Citus: another table\'s checked change in the transaction lets no shard of the held table change');
as('regress_app', q{SET citus.enable_unsafe_triggers = on; DROP TRIGGER swap56 ON app.x56});
as('regress_admin', q{SELECT crm_purge_request('app.h55', '1 day', 'delete_only', 'modified_at')});
$coord->poll_query_until('postgres', q{SELECT status = 'success' FROM crm_purge.requests WHERE tbl = 'app.h55'::regclass})
	or die 'the request did not end';
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.h55}), '10', 'the request kept the held rows');

# a role's partitioned distributed table with a primary key: metadata sync
# re-makes its table on a worker node and adds the key as a superuser, the
# rows counted in its partitions (review round 67, C67-1: a scan of the
# partitioned table itself crashed the worker node)
as('regress_app', q{CREATE TABLE app.ev67 (account_id int, day date, note text, PRIMARY KEY (account_id, day)) PARTITION BY RANGE (day);
	CREATE TABLE app.ev67_2026 PARTITION OF app.ev67 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	SELECT create_distributed_table('app.ev67', 'account_id')});
$coord->safe_psql('postgres', sprintf(q{SELECT start_metadata_sync_to_node(nodename, nodeport) FROM pg_dist_node WHERE nodeport = %d}, $w1->port));
is($w1->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE oid = 'app.ev67'::regclass}), '1',
	'Citus: metadata sync of a role\'s partitioned table with a primary key goes through');

# a role's table on the coordinator referencing the coordinator's copy of a
# superuser's reference table, with a TRUNCATE trigger whose WHEN calls
# built-ins only: the superuser's TRUNCATE of the reference table reached
# it through Citus's CASCADE, as the superuser (review round 71, C71-1)
$coord->safe_psql('postgres', q{CREATE TABLE public.ref71 (id int PRIMARY KEY);
	SELECT create_reference_table('public.ref71');
	INSERT INTO public.ref71 VALUES (1);
	GRANT SELECT, REFERENCES ON public.ref71 TO regress_app});
my $ref71_shard = $coord->safe_psql('postgres', q{SELECT shard_name('public.ref71'::regclass, shardid) FROM pg_dist_shard WHERE logicalrelid = 'public.ref71'::regclass});
as('regress_app', qq{CREATE TABLE app.kid71 (x int REFERENCES $ref71_shard (id));
	CREATE TRIGGER t71 BEFORE TRUNCATE ON app.kid71 FOR EACH STATEMENT
		WHEN (pg_catalog.pg_backend_pid() > 0) EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()});
like(($coord->psql('postgres', q{TRUNCATE public.ref71}))[2],
	qr/a superuser may not truncate table app\.kid71: a TRUNCATE trigger of its owner on it/,
	'Citus: a superuser\'s TRUNCATE reaching a role\'s table through Citus\'s CASCADE on the coordinator is refused');
as('regress_app', q{DROP TABLE app.kid71});

# a coordinator that holds shards: the owner's TRUNCATE of its protected
# table's shard there, or a change of crm_purge's triggers on it, deleted
# held rows past the trash (review round 71, C71-2), as on a worker node
$coord->safe_psql('postgres', sprintf(q{SELECT citus_set_node_property(nodename, nodeport, 'shouldhaveshards', true) FROM pg_dist_node WHERE groupid = 0}));
as('regress_app', q{CREATE TABLE app.co71 (id int PRIMARY KEY, v int);
	SELECT create_distributed_table('app.co71', 'id', colocate_with => 'none', shard_count => 8);
	INSERT INTO app.co71 SELECT g, g FROM generate_series(1, 60) g;
	GRANT SELECT, DELETE ON app.co71 TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('app.co71')});
{
	my $co_shard = $coord->safe_psql('postgres', sprintf(q{SELECT shard_name('app.co71'::regclass, s.shardid)
		FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
		WHERE s.logicalrelid = 'app.co71'::regclass AND n.nodeport = %d LIMIT 1}, $coord->port));
	isnt($co_shard, '', 'the coordinator holds a shard');
	my ($r1, $o1, $e1) = $coord->psql('postgres', qq{SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on; TRUNCATE $co_shard});
	like($e1, qr/cannot truncate .*: it is a shard of a table protected by crm_purge/, 'Citus: the owner\'s TRUNCATE of its shard on the coordinator is refused');
	my ($r2, $o2, $e2) = $coord->psql('postgres', qq{SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on; ALTER TABLE $co_shard DISABLE TRIGGER ALL});
	like($e2, qr/cannot change crm_purge's triggers on .*: it is a shard of a table protected by crm_purge/, 'Citus: nor a change of crm_purge\'s triggers on it');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.co71}), '60', 'no row went');
}
$coord->safe_psql('postgres', sprintf(q{SELECT citus_set_node_property(nodename, nodeport, 'shouldhaveshards', false) FROM pg_dist_node WHERE groupid = 0}));

# a superuser's truncate_local_data_after_distributing_table of a role's
# table: Citus truncates it without a TRUNCATE statement, past the check,
# and the role's TRUNCATE trigger's WHEN ran as the superuser (review round
# 72, C72-1): every truncation is checked
as('regress_app', q{CREATE TABLE app.tl72 (id int PRIMARY KEY);
	INSERT INTO app.tl72 VALUES (1);
	SELECT create_distributed_table('app.tl72', 'id');
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER t72 BEFORE TRUNCATE ON app.tl72 FOR EACH STATEMENT
		WHEN (pg_catalog.pg_backend_pid() > 0) EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()});
like(($coord->psql('postgres', q{SELECT truncate_local_data_after_distributing_table('app.tl72')}))[2],
	qr/a superuser may not truncate Citus table app\.tl72: a TRUNCATE trigger of its owner on it/,
	'Citus: a superuser\'s truncate_local_data_after_distributing_table does not run a role\'s TRUNCATE trigger');

# a superuser's DROP of its reference table: Citus undistributes a role's
# table whose last foreign key to it goes, copying its rows by INSERT ...
# SELECT inside the DROP, as the superuser: the owner's CHECK ran as the
# superuser (review round 72, C72-2)
$coord->safe_psql('postgres', q{CREATE TABLE public.tiers72 (code text PRIMARY KEY);
	SELECT create_reference_table('public.tiers72');
	INSERT INTO public.tiers72 VALUES ('gold');
	GRANT SELECT, REFERENCES ON public.tiers72 TO regress_app});
as('regress_app', q{CREATE TABLE app.subs72 (id int PRIMARY KEY, tier text REFERENCES public.tiers72 (code),
		CHECK (current_user = 'regress_app'));
	INSERT INTO app.subs72 VALUES (1, 'gold')});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'app.subs72'::regclass}), '1',
	'a role\'s table referencing a reference table is a Citus local table');
like(($coord->psql('postgres', q{DROP TABLE public.tiers72 CASCADE}))[2],
	qr/a superuser's DDL on a Citus node may not write table app\.subs72_\d+, owned by regress_app/,
	'Citus: a superuser\'s DROP of a reference table does not copy a role\'s table as the superuser');
as('regress_app', q{ALTER TABLE app.subs72 DROP CONSTRAINT subs72_tier_fkey});
$coord->safe_psql('postgres', q{DROP TABLE public.tiers72});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.subs72}), '1', 'after the owner dropped its key, the DROP runs; the row stays');

# a superuser's SELECT of a role's distributed table: Citus reads the rows
# back on the coordinator through the column's type's input function, and
# the role's domain CHECK (built-ins only) ran as the superuser (review
# round 73, C73-1)
as('regress_app', q{CREATE DOMAIN app.note73 AS text CHECK (VALUE <> '' AND current_user = 'regress_app');
	CREATE TABLE app.notes73 (id int PRIMARY KEY, note app.note73);
	SELECT create_distributed_table('app.notes73', 'id');
	INSERT INTO app.notes73 VALUES (1, 'a'), (2, 'b')});
like(($coord->psql('postgres', q{SELECT * FROM app.notes73}))[2],
	qr/a superuser may not read note of type app\.note73 through Citus: it is checked by a domain of role regress_app/,
	'Citus: a superuser\'s read of a role\'s domain column through Citus is refused');
is($coord->safe_psql('postgres', q{SELECT string_agg(note::text, ',' ORDER BY id) FROM app.notes73}), 'a,b',
	'read as its base type, it runs');
is($coord->safe_psql('postgres', q{SET ROLE regress_app; SELECT string_agg(note, ',' ORDER BY id) FROM app.notes73}), 'a,b',
	'its owner reads it');
as('regress_app', q{DROP TABLE app.notes73; DROP DOMAIN app.note73});

# an erase of a distributed table: the owner's implicit cast of its enum
# key type, run on a worker node for each row the foreign keys' queries
# read, moved a held row under a row that went (review round 73, B73-4),
# and made another the hold keeps (round 74, C74-2): the held rows' keys
# are read again after the DELETE
as('regress_app', q{CREATE TABLE app.p73 (tenant int, id int, PRIMARY KEY (tenant, id));
	CREATE TABLE app.c73 (tenant int, id int, p_id int, PRIMARY KEY (tenant, id));
	CREATE TABLE app.g73 (tenant int, id int, c_id int, note text, PRIMARY KEY (tenant, id));
	SELECT create_distributed_table('app.p73', 'tenant');
	SELECT create_distributed_table('app.c73', 'tenant', colocate_with => 'app.p73');
	SELECT create_distributed_table('app.g73', 'tenant', colocate_with => 'app.p73');
	ALTER TABLE app.c73 ADD FOREIGN KEY (tenant, p_id) REFERENCES app.p73 ON DELETE CASCADE;
	ALTER TABLE app.g73 ADD FOREIGN KEY (tenant, c_id) REFERENCES app.c73 ON DELETE CASCADE;
	INSERT INTO app.p73 VALUES (7, 1), (7, 2), (7, 3);
	INSERT INTO app.c73 VALUES (7, 1, 1), (7, 2, 2), (7, 3, 3);
	INSERT INTO app.g73 VALUES (7, 1, 1, 'g1'), (7, 2, 2, 'g2'), (7, 99, 3, 'held');
	CREATE TYPE app.e73 AS ENUM ('one', 'two', 'three');
	CREATE TABLE app.arm73 (x int);
	SELECT create_reference_table('app.arm73')});
{
	my $g_shard = $coord->safe_psql('postgres', q{SELECT shard_name('app.g73'::regclass, get_shard_id_for_distribution_column('app.g73', 7))});
	as('regress_app', qq{CREATE FUNCTION app.e73_int(app.e73) RETURNS int LANGUAGE plpgsql AS \$f\$
		BEGIN
			IF pg_trigger_depth() > 0 AND to_regclass('$g_shard') IS NOT NULL AND EXISTS (SELECT FROM app.arm73) THEN
				UPDATE $g_shard SET c_id = 2 WHERE tenant = 7 AND id = 99 AND c_id = 3;
				-- (and a decoy the hold keeps instead: counted, the held rows seemed kept, C74-2)
				INSERT INTO $g_shard SELECT 7, 100, 3, 'held' WHERE NOT EXISTS (SELECT FROM $g_shard WHERE tenant = 7 AND id = 100);
			END IF;
			RETURN array_position(enum_range(NULL::app.e73), \$1);
		END \$f\$;
		CREATE CAST (app.e73 AS int) WITH FUNCTION app.e73_int(app.e73) AS IMPLICIT});
	$_->safe_psql('postgres', q{SET ROLE regress_app; CREATE CAST (app.e73 AS int) WITH FUNCTION app.e73_int(app.e73) AS IMPLICIT})
		for ($w1, $w2);
	as('regress_app', q{CREATE TABLE app.s73 (tenant int, id int, p_id app.e73, PRIMARY KEY (tenant, id));
		SELECT create_distributed_table('app.s73', 'tenant', colocate_with => 'app.p73');
		ALTER TABLE app.s73 ADD FOREIGN KEY (tenant, p_id) REFERENCES app.p73 ON DELETE NO ACTION;
		INSERT INTO app.s73 VALUES (7, 3, 'three');
		INSERT INTO app.arm73 VALUES (1);
		GRANT SELECT, DELETE ON app.p73, app.c73, app.g73, app.s73 TO regress_admin});
	as('regress_admin', q{SELECT crm_purge_hold('app.g73', $$note = 'held'$$, NULL, 'litigation')});
	like(($coord->psql('postgres', q{SET ROLE regress_admin; SELECT crm_purge_erase('app.p73', 'tenant = 7 AND id IN (1, 2)', 'GDPR')}))[2],
		qr/legal hold \d+ keeps rows of table app\.g73 that the DELETE removed/,
		'Citus: an erase whose DELETE removed a held row the owner\'s cast moved is refused');
	is($coord->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM app.g73}), '1,2,99', 'nothing was erased');
	# (nor by a delete to the trash, or by keys: B74-7)
	like(($coord->psql('postgres', q{SET ROLE regress_admin; SELECT crm_purge_delete_where('app.p73', 'tenant = 7 AND id IN (1, 2)')}))[2],
		qr/legal hold \d+ keeps rows of table app\.g73 that the DELETE removed/,
		'Citus: nor a delete_where');
	like(($coord->psql('postgres', q{SET ROLE regress_admin; SELECT * FROM crm_purge_delete_keys('app.p73', ARRAY['(7,1)', '(7,2)'])}))[2],
		qr/legal hold \d+ keeps rows of table app\.g73 that the DELETE removed/,
		'Citus: nor a delete_keys');
	is($coord->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM app.g73}), '1,2,99', 'nothing was deleted');
	# (nor when the held row's key is changed and another row made under
	# it: held rows are compared whole, not by key: round 75, B75-2)
	as('regress_app', qq{CREATE OR REPLACE FUNCTION app.e73_int(app.e73) RETURNS int LANGUAGE plpgsql AS \$f\$
		BEGIN
			IF pg_trigger_depth() > 0 AND to_regclass('$g_shard') IS NOT NULL AND EXISTS (SELECT FROM app.arm73) THEN
				UPDATE $g_shard SET id = 98, c_id = 2 WHERE tenant = 7 AND id = 99 AND c_id = 3;
				INSERT INTO $g_shard SELECT 7, 99, NULL, 'fake' WHERE NOT EXISTS (SELECT FROM $g_shard WHERE tenant = 7 AND id = 99);
			END IF;
			RETURN array_position(enum_range(NULL::app.e73), \$1);
		END \$f\$});
	$coord->safe_psql('postgres', q{UPDATE crm_purge.holds SET released_at = now() WHERE tbl = 'app.g73'::regclass});
	as('regress_admin', q{SELECT crm_purge_hold('app.g73', 'id = 99', NULL, 'litigation')});
	like(($coord->psql('postgres', q{SET ROLE regress_admin; SELECT crm_purge_erase('app.p73', 'tenant = 7 AND id IN (1, 2)', 'GDPR')}))[2],
		qr/legal hold \d+ keeps rows of table app\.g73 that the DELETE removed/,
		'Citus: nor when the held row\'s key is changed and another row made under it');
	is($coord->safe_psql('postgres', q{SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM app.g73}), '1:g1,2:g2,99:held', 'nothing was erased');
	# (nor when one of two identical held rows goes: compared as many
	# times as they were there, round 76, C76-1)
	as('regress_app', qq{ALTER TABLE app.g73 DROP CONSTRAINT g73_pkey;
		INSERT INTO app.g73 VALUES (7, 99, 3, 'held');
		CREATE OR REPLACE FUNCTION app.e73_int(app.e73) RETURNS int LANGUAGE plpgsql AS \$f\$
		BEGIN
			IF pg_trigger_depth() > 0 AND to_regclass('$g_shard') IS NOT NULL AND EXISTS (SELECT FROM app.arm73) THEN
				UPDATE $g_shard SET c_id = 2 WHERE ctid = (SELECT min(ctid) FROM $g_shard WHERE tenant = 7 AND id = 99 AND c_id = 3)
					AND (SELECT count(*) FROM $g_shard WHERE tenant = 7 AND id = 99 AND c_id = 3) = 2;
			END IF;
			RETURN array_position(enum_range(NULL::app.e73), \$1);
		END \$f\$});
	like(($coord->psql('postgres', q{SET ROLE regress_admin; SELECT crm_purge_erase('app.p73', 'tenant = 7 AND id IN (1, 2)', 'GDPR')}))[2],
		qr/legal hold \d+ keeps rows of table app\.g73 that the DELETE removed/,
		'Citus: nor when one of two identical held rows goes');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.g73 WHERE id = 99}), '2', 'both stay');
}

# rows Citus moves between nodes as intermediate results are read back
# through their types' input functions on the receiving node: a
# superuser's join of a role's local table with its distributed table ran
# the role's domain CHECK on the worker nodes (review round 74, C74-1)
as('regress_app', q{CREATE DOMAIN app.note74 AS text CHECK (VALUE <> '' AND current_user = 'regress_app');
	CREATE TABLE app.notes74 (id int PRIMARY KEY, body app.note74);
	SELECT create_distributed_table('app.notes74', 'id');
	INSERT INTO app.notes74 SELECT g, 'n' || g FROM generate_series(1, 20) g;
	CREATE TABLE app.loc74 (id int, body app.note74);
	INSERT INTO app.loc74 SELECT g, 'n' || g FROM generate_series(1, 5) g});
like(($coord->psql('postgres', q{SELECT count(*) FROM app.loc74 l JOIN app.notes74 n ON l.body = n.body}))[2],
	qr/a superuser may not read (values|body) of type app\.note74 through Citus: it is checked by a domain of role regress_app/,
	'Citus: a superuser\'s join of a role\'s local table with its distributed table is refused where the domain is read');
is($coord->safe_psql('postgres', q{SET ROLE regress_app; SELECT count(*) FROM app.loc74 l JOIN app.notes74 n ON l.body = n.body}), '5',
	'its owner runs it');
as('regress_app', q{DROP TABLE app.notes74, app.loc74; DROP DOMAIN app.note74});

# a role's domain nested 17 composite types deep, or read in an anonymous
# record (ROW(col)), was not seen (review round 75, C75-1, C75-2)
as('regress_app', q{CREATE DOMAIN app.d75 AS text CHECK (VALUE <> '' AND current_user = 'regress_app');
	CREATE TYPE app.n75_1 AS (v app.d75);
	SELECT format('CREATE TYPE app.n75_%s AS (v app.n75_%s)', i, i - 1) FROM generate_series(2, 17) i \gexec
	CREATE TABLE app.deep75 (id int PRIMARY KEY, v app.n75_17, body app.d75);
	SELECT create_distributed_table('app.deep75', 'id');
	INSERT INTO app.deep75 VALUES (1, NULL, 'x')});
like(($coord->psql('postgres', q{SELECT v FROM app.deep75}))[2],
	qr/a superuser may not read v of type app\.n75_17 through Citus: it is checked by a domain of role regress_app/,
	'Citus: a role\'s domain 17 composite types deep is seen');
like(($coord->psql('postgres', q{SELECT ROW(body, 1) FROM app.deep75}))[2],
	qr/a superuser may not read "row" of type pg_catalog\.record through Citus: it is checked by a domain of role regress_app/,
	'Citus: a role\'s domain in an anonymous record is seen');
as('regress_app', q{DROP TABLE app.deep75; DROP DOMAIN app.d75 CASCADE});

# a request's round on a distributed table took the lock on the table's
# holds outside any subtransaction: a hold being made in a transaction left
# open made the worker exit at its lock timeout, over and over (review
# round 76, B76-1); the round waits, the tick goes on
as('regress_app', q{CREATE TABLE app.m76 (id int PRIMARY KEY, modified_at timestamptz, note text);
	SELECT create_distributed_table('app.m76', 'id');
	INSERT INTO app.m76 SELECT g, now() - interval '2 years', 'n' FROM generate_series(1, 20) g;
	GRANT SELECT, DELETE ON app.m76 TO regress_admin});
{
	my $holder = $coord->background_psql('postgres');
	$holder->query_safe(q{SET client_min_messages = warning; SET ROLE regress_admin; BEGIN; SELECT crm_purge_hold('app.m76', 'id = 1', NULL, 'litigation')});
	my $req = as('regress_admin', q{SELECT crm_purge_request('app.m76', '1 year', 'delete_only')});
	chomp $req;
	my ($rc, $out, $err) = $coord->psql('postgres', q{SET lock_timeout = '300ms'; SELECT crm_purge_tick() IS NOT NULL});
	is($rc, 0, 'Citus: a tick waiting for the lock on a table\'s holds does not fail') or diag($err);
	$holder->query_safe('ROLLBACK');
	$holder->quit;
	$coord->poll_query_until('postgres', qq{SELECT crm_purge_tick() IS NOT NULL AND (SELECT status FROM crm_purge_requests WHERE id = $req) = 'success'});
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.m76}), '0', 'the request ran once the hold\'s transaction ended');
}

# a Citus request whose shard's trigger keeps rows it takes: the last pass
# on the shard left them, and the request said success (review round 76,
# C76-3): it fails, naming them
as('regress_app', q{CREATE TABLE app.tf76 (account_id int PRIMARY KEY, modified_at timestamptz NOT NULL);
	SELECT create_distributed_table('app.tf76', 'account_id', shard_count => 1);
	INSERT INTO app.tf76 SELECT g, now() - interval '1 year' FROM generate_series(1, 4) g;
	GRANT SELECT, DELETE ON app.tf76 TO regress_admin;
	CREATE FUNCTION app.keep76() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN IF OLD.account_id % 2 = 0 THEN RETURN NULL; END IF; RETURN OLD; END $$;
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER a_keep BEFORE DELETE ON app.tf76 FOR EACH ROW EXECUTE FUNCTION app.keep76()});
{
	my $req = as('regress_admin', q{SELECT crm_purge_request('app.tf76', '1 day', 'delete_only')});
	chomp $req;
	$coord->poll_query_until('postgres', qq{SELECT crm_purge_tick() IS NOT NULL AND (SELECT status FROM crm_purge_requests WHERE id = $req) NOT IN ('queued', 'in_progress')});
	like($coord->safe_psql('postgres', qq{SELECT status || ': ' || error FROM crm_purge_requests WHERE id = $req}),
		qr/^failed: .*rows the request takes are still there after \d+ scans/,
		'Citus: a request whose shard kept rows it takes fails, naming them');
	# (kept with the placement's state: a reply lost with its round named
	# them nowhere, round 77, B77-1)
	my $port = $coord->safe_psql('postgres', q{SELECT n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
		JOIN pg_dist_node n USING (groupid) WHERE s.logicalrelid = 'app.tf76'::regclass});
	my $wn = $port == $w1->port ? $w1 : $w2;
	like($wn->safe_psql('postgres', qq{SELECT left_note FROM crm_purge.shard_requests WHERE request_id = $req}),
		qr/rows the request takes are still there/, 'the worker node keeps the note with the placement');
}

done_testing();
