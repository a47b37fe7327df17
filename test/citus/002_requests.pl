# Requests on Citus distributed tables: a batch per shard on its node,
# added up on the coordinator; legal holds and filters kept; a shard moved,
# a worker node crashing in a batch and one stopped in the middle of a
# request: every deleted row exported exactly once.  The coordinator's
# worker serves no database here: the test runs each round (crm_purge_tick)
# itself, as a non-superuser admin.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use CitusTest;

my ($coord, $w1, $w2, $as) = citus_cluster(q{
crm_purge.batch_size = 300
crm_purge.idle_batch_size = 300
crm_purge.max_rows_per_request = 1000000
restart_after_crash = on
});
sub as { $as->(@_) }
# shard_of: the shard holding distribution value 1 of a table, and its node's port
sub shard_of
{
	my ($tbl) = @_;
	return split /\|/, $coord->safe_psql('postgres', qq{
		SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
		WHERE s.shardid = get_shard_id_for_distribution_column('$tbl', 1)});
}
$coord->safe_psql('postgres', q{ALTER SYSTEM SET crm_purge.databases = 'no_such_database'; SELECT pg_reload_conf()});

# events: 4 shards on 2 workers, 4000 rows, 2000 of them older than 30 days
sub make_table
{
	my ($name, $rows) = @_;
	$rows //= 4000;
	as('regress_app', qq{
		CREATE TABLE $name (account_id int, id int, modified_at timestamptz, body text, PRIMARY KEY (account_id, id));
		SELECT create_distributed_table('$name', 'account_id');
		INSERT INTO $name SELECT g % 40, g, now() - (CASE WHEN g % 2 = 0 THEN 60 ELSE 1 END) * interval '1 day',
			CASE WHEN g % 10 = 4 THEN 'keep' ELSE 'b' || g END
		FROM generate_series(1, $rows) g;
		GRANT SELECT, DELETE ON $name TO regress_admin;
	});
}

# runs steps of due work (as CALL crm_purge_run() does: one round of a
# request each) until the request ends, or has run n rounds; its status
sub rounds
{
	my ($id, $n) = @_;
	for (1 .. 200)
	{
		# a step fails at commit while a node it touched is down (Citus);
		# the next one does its work again
		$coord->psql('postgres', q{SET ROLE regress_admin; SELECT crm_purge._tick_step(false)});
		my ($status, $batches) = split /\|/,
		  $coord->safe_psql('postgres', "SELECT status, batches FROM crm_purge.requests WHERE id = $id");
		return $status if $status =~ /success|failed/ || (defined $n && $batches >= $n);
	}
	return 'timeout';
}

# every part's rows, read as the admin from the coordinator, against the
# ids expected: "rows N, twice D, missing M, extra E"
sub exported
{
	my ($id, $expected) = @_;
	my $out = as('regress_admin', qq{
		SELECT string_agg(split_part(line, ',', 2), ' ')
		FROM crm_purge_export_files($id) f,
		     regexp_split_to_table(crm_purge_export_read($id, f.part), E'\\n') WITH ORDINALITY l(line, n)
		WHERE l.n > 1 AND line <> ''});
	my (%seen, %want);
	my @ids = split / /, $out;
	$seen{$_}++ for @ids;
	$want{$_} = 1 for split / /, $expected;
	return sprintf('rows %d, twice %d, missing %d, extra %d', scalar @ids,
		scalar(grep { $seen{$_} > 1 } keys %seen), scalar(grep { !$seen{$_} } keys %want),
		scalar(grep { !$want{$_} } keys %seen));
}

# the ids the request must delete: old, not 'keep', not held (id 8)
my $expected = join ' ', grep { $_ % 2 == 0 && $_ % 10 != 4 && $_ != 8 } 1 .. 4000;

# --- a request, with a filter and a legal hold
make_table('events');
as('regress_admin', q{SELECT crm_purge_protect('events')});
as('regress_admin', q{SELECT crm_purge_hold('events', 'id = 8', NULL, 'litigation')});
my $id = as('regress_admin', q{SELECT crm_purge_request('events', '30 days', 'export_and_delete', 'modified_at', $$body <> 'keep'$$)});
is($coord->safe_psql('postgres', "SELECT rows FROM crm_purge.requests WHERE id = $id"), '1600', 'the request counts its rows');
is(rounds($id), 'success', 'a request on a distributed table succeeds');
is(exported($id, $expected), 'rows 1599, twice 0, missing 0, extra 0', 'every deleted row exported exactly once; filtered and held rows kept');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM events WHERE modified_at < now() - interval '30 days'}),
	'401', 'the old rows left are the filtered and the held ones');
is($coord->safe_psql('postgres', "SELECT rows_done || ' ' || (SELECT sum(rows) FROM crm_purge_report($id))
	|| ' ' || (SELECT sum(rows) FROM crm_purge.export_parts WHERE request_id = $id)
	|| ' ' || (SELECT sum(rows_done) FROM crm_purge.request_shards WHERE request_id = $id)
	|| ' ' || (SELECT count(*) FROM crm_purge.request_shards WHERE request_id = $id)
	FROM crm_purge.requests WHERE id = $id"), '1599 1599 1599 1599 4',
	'rows_done, the report, the parts and the shards add up on the coordinator');
ok($coord->safe_psql('postgres', "SELECT batches FROM crm_purge.requests WHERE id = $id") > 1,
	'the request ran in several rounds');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.app__events}), '0',
	'requests bypass the trash');
is($w1->safe_psql('postgres', "SELECT count(*) FROM crm_purge.shard_requests WHERE request_id = $id AND done"), '2',
	'each worker node saved its shards\' positions');
like(as('regress_admin', q{SELECT * FROM crm_purge._citus_shard_part(1, 1, 1)}, err => 1),
	qr/permission denied for function/, 'an admin cannot call the node-side functions');
like($w1->psql('postgres', q{SET ROLE regress_admin; SELECT count(*) FROM crm_purge.shard_parts}, on_error_stop => 1) ? 'refused' : 'read',
	qr/refused/, 'nor read the export parts a worker node keeps');

# --- a shard moved in the middle of a request
make_table('moved');
$id = as('regress_admin', q{SELECT crm_purge_request('moved', '30 days', 'export_and_delete', 'modified_at', $$body <> 'keep'$$)});
is(rounds($id, 2), 'in_progress', 'two rounds (the first records the placements): the request is in progress');
my ($shard, $from) = split /\|/, $coord->safe_psql('postgres', q{
	SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.logicalrelid = 'moved'::regclass ORDER BY s.shardid LIMIT 1});
my $to = $from == $w1->port ? $w2->port : $w1->port;
$coord->safe_psql('postgres', "SELECT citus_move_shard_placement($shard, '127.0.0.1', $from, '127.0.0.1', $to, shard_transfer_mode => 'block_writes')");
is(rounds($id), 'success', 'the request ends after a shard moved');
my $expected_moved = join ' ', grep { $_ % 2 == 0 && $_ % 10 != 4 } 1 .. 4000;
is(exported($id, $expected_moved), 'rows 1600, twice 0, missing 0, extra 0', 'every row exported exactly once across the move');
is($coord->safe_psql('postgres', "SELECT count(*) FROM moved WHERE modified_at < now() - interval '30 days' AND body <> 'keep'"),
	'0', 'no old row left');
is($coord->safe_psql('postgres', "SELECT rows_done = (SELECT sum(rows) FROM crm_purge.export_parts WHERE request_id = $id) FROM crm_purge.requests WHERE id = $id"),
	't', 'rows_done counts the rows of both nodes');

# --- moved away and back: the shard that returns is a new placement, scanned anew
make_table('roundtrip');
$id = as('regress_admin', q{SELECT crm_purge_request('roundtrip', '30 days', 'export_and_delete', 'modified_at', $$body <> 'keep'$$)});
rounds($id, 2);
my ($rt_shard, $rt_from) = split /\|/, $coord->safe_psql('postgres', q{
	SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.logicalrelid = 'roundtrip'::regclass ORDER BY s.shardid LIMIT 1});
my $rt_to = $rt_from == $w1->port ? $w2->port : $w1->port;
$coord->safe_psql('postgres', "SELECT citus_move_shard_placement($rt_shard, '127.0.0.1', $rt_from, '127.0.0.1', $rt_to, shard_transfer_mode => 'block_writes')");
rounds($id, 4);
$coord->safe_psql('postgres', "CALL citus_cleanup_orphaned_resources()");
$coord->safe_psql('postgres', "SELECT citus_move_shard_placement($rt_shard, '127.0.0.1', $rt_to, '127.0.0.1', $rt_from, shard_transfer_mode => 'block_writes')");
is(rounds($id), 'success', 'a request across a shard moved away and back ends');
is(exported($id, $expected_moved), 'rows 1600, twice 0, missing 0, extra 0', 'every row exported exactly once');
is($coord->safe_psql('postgres', "SELECT count(*) FROM roundtrip WHERE modified_at < now() - interval '30 days' AND body <> 'keep'"),
	'0', 'no old row left on the shard that came back');

# --- a round the coordinator lost (the nodes committed), then a move
make_table('lost');
$id = as('regress_admin', q{SELECT crm_purge_request('lost', '30 days', 'export_and_delete', 'modified_at', $$body <> 'keep'$$)});
rounds($id, 2);
$coord->safe_psql('postgres', q{SET ROLE regress_admin; BEGIN; SELECT crm_purge._tick_step(false); ROLLBACK;});
my ($lost_shard, $lost_from) = split /\|/, $coord->safe_psql('postgres', q{
	SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.logicalrelid = 'lost'::regclass ORDER BY s.shardid LIMIT 1});
my $lost_to = $lost_from == $w1->port ? $w2->port : $w1->port;
$coord->safe_psql('postgres', "SELECT citus_move_shard_placement($lost_shard, '127.0.0.1', $lost_from, '127.0.0.1', $lost_to, shard_transfer_mode => 'block_writes')");
is(rounds($id), 'success', 'a request whose round was lost, then whose shard moved, ends');
is(exported($id, $expected_moved), 'rows 1600, twice 0, missing 0, extra 0',
	'the lost round\'s parts are found on the old node: every row exported exactly once');

# --- a row an application has locked: the round waits (lock_timeout), then goes on
make_table('locked');
$id = as('regress_admin', q{SELECT crm_purge_request('locked', '30 days', 'delete_only', 'modified_at')});
rounds($id, 1);
my $locker = $coord->background_psql('postgres');
$locker->query_safe(q{BEGIN; SELECT * FROM locked WHERE account_id = 2 AND id = 2 FOR UPDATE});
$coord->psql('postgres', q{SET ROLE regress_admin; SET lock_timeout = '300ms'; SELECT crm_purge._tick_step(false)});
like($coord->safe_psql('postgres', "SELECT outcome FROM crm_purge_report($id) ORDER BY batch DESC LIMIT 1"),
	qr/^waiting: placement \d+: canceling statement due to lock timeout/, 'a locked row makes the round wait');
$locker->query_safe('COMMIT');
$locker->quit;
is(rounds($id), 'success', 'and the request ends once the lock is gone');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM crm_purge.errors WHERE task = 'request batch' AND tbl = 'locked'::regclass}),
	'0', 'and its wait is no longer listed in crm_purge_errors');
is($coord->safe_psql('postgres', "SELECT count(*) FROM locked WHERE modified_at < now() - interval '30 days'"), '0', 'every old row deleted');

# --- a round the coordinator gave up on (its step ended) while a batch of it
# still runs on a node: the table owner's trigger there turns the connection
# check off and catches the cancel.  A legal hold made meanwhile fences the
# round off: that batch fails instead of deleting held rows with the holds it
# was given (review round 77, C77-2)
make_table('gaveup');
my ($slow_shard, $slow_port) = split /\|/, $coord->safe_psql('postgres', q{
	SELECT s.shardid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.shardid = get_shard_id_for_distribution_column('gaveup', 2)});
my $slow_node = $slow_port == $w1->port ? $w1 : $w2;
my $until = $coord->safe_psql('postgres', q{SELECT clock_timestamp() + interval '12 s'});
as('regress_app', qq{
	CREATE FUNCTION gaveup_slow() RETURNS trigger LANGUAGE plpgsql AS \$f\$
	BEGIN
		IF TG_TABLE_NAME = 'gaveup_$slow_shard' THEN
			PERFORM set_config('client_connection_check_interval', '0', false);
			WHILE clock_timestamp() < '$until'::timestamptz LOOP
				BEGIN PERFORM pg_sleep(0.2); EXCEPTION WHEN query_canceled THEN NULL; END;
			END LOOP;
		END IF;
		RETURN OLD;
	END \$f\$;
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER gaveup_slow BEFORE DELETE ON gaveup FOR EACH ROW EXECUTE FUNCTION gaveup_slow();
});
$id = as('regress_admin', q{SELECT crm_purge_request('gaveup', '30 days', 'export_and_delete', 'modified_at')});
rounds($id, 1);
# the coordinator gives the round up: its backend ends (the worker's step
# timeout or a crash do the same), its lock on the table's holds with it
my $step = $coord->background_psql('postgres', on_error_stop => 0);
$step->query_until(qr/stepping/, q{\echo stepping
	SET ROLE regress_admin;
	SELECT crm_purge._tick_step(false);
});
ok($slow_node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'SELECT crm_purge._citus_shard_batch(%'}),
	'the round\'s batch runs on the node');
$coord->safe_psql('postgres', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE query LIKE '%crm_purge._tick_step(false)%' AND pid <> pg_backend_pid()});
$step->quit;
ok($coord->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
		WHERE query LIKE '%crm_purge._tick_step(false)%' AND pid <> pg_backend_pid()}), 'the coordinator gave the round up');
like($slow_node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT crm_purge._citus_shard_batch(%'}),
	qr/^[1-9]/, 'its batch still runs on the node');
as('regress_admin', q{SELECT crm_purge_hold('gaveup', 'account_id = 2', NULL, 'litigation')});
ok($slow_node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE 'SELECT crm_purge._citus_shard_batch(%'}),
	'the batch ended');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM gaveup WHERE account_id = 2}), '100',
	'it deleted no row the hold made meanwhile keeps');
is(rounds($id), 'success', 'the request goes on and ends');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM gaveup WHERE account_id = 2}) . ' '
	. $coord->safe_psql('postgres', q{SELECT count(*) FROM gaveup WHERE modified_at < now() - interval '30 days'}),
	'100 100', 'the held rows are all there, and only they are left');
is(exported($id, join(' ', grep { $_ % 2 == 0 && $_ % 40 != 2 } 1 .. 4000)), 'rows 1900, twice 0, missing 0, extra 0',
	'every deleted row exported exactly once');
my @gaveup_files = glob($slow_node->data_dir . "/crm_purge_exports/*_request${id}_*");
is(scalar(@gaveup_files) . '', $slow_node->safe_psql('postgres',
		"SELECT count(*) FROM crm_purge.shard_parts WHERE request_id = $id AND path IS NOT NULL"),
	'the failed batch\'s export file is not left on its node');

# --- a long table name: Citus hashes its shards' names
make_table('a_very_long_table_name_for_customer_events_archive_2024_q1');
$id = as('regress_admin', q{SELECT crm_purge_request('a_very_long_table_name_for_customer_events_archive_2024_q1', '30 days', 'delete_only', 'modified_at')});
is(rounds($id), 'success', 'a table whose shard names Citus hashes');
is($coord->safe_psql('postgres', "SELECT rows_done FROM crm_purge.requests WHERE id = $id"), '2000', 'its rows deleted');

# --- refused, or stopped: replicated shards; a shard whose own row-level
# security would run as the request's creator, unattended
as('regress_app', q{SET citus.shard_replication_factor = 2;
	CREATE TABLE replicated (account_id int, id int, modified_at timestamptz, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('replicated', 'account_id');
	GRANT SELECT, DELETE ON replicated TO regress_admin});
like(as('regress_admin', q{SELECT crm_purge_request('replicated', '30 days', 'delete_only', 'modified_at')}, err => 1),
	qr/cannot make a request on table app.replicated: its shards have several placements/, 'replicated shards are refused');
make_table('policed');
$coord->safe_psql('postgres', q{CREATE ROLE regress_admin2 LOGIN; GRANT crm_purge_admin TO regress_admin2});
as('regress_app', q{
	GRANT USAGE ON SCHEMA app TO regress_admin2;
	GRANT SELECT, DELETE ON policed TO regress_admin2;
	CREATE FUNCTION app.spy() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
	CREATE POLICY p ON policed USING (app.spy());
	ALTER TABLE policed ENABLE ROW LEVEL SECURITY;
	SET citus.enable_ddl_propagation = off;
	ALTER TABLE policed DISABLE ROW LEVEL SECURITY;
});
# an admin who is not a member of the owner's role: its filter is read on
# no distributed table of another role's (the owner's shard code, policies
# included, would run with its rights on the worker nodes)
like(as('regress_admin2', q{SELECT crm_purge_request('policed', '30 days', 'export_and_delete', 'modified_at', 'id > 0')}, err => 1),
	qr/cannot read Citus table app.policed by your filter: you are not a member of its owner's role regress_app/,
	'an admin outside the owner\'s role makes no request on its distributed table');
is($coord->safe_psql('postgres', "SELECT count(*) FROM policed"), '4000', 'nothing was deleted');

# --- a worker node crashes in a batch (its part written, not committed),
# another is stopped immediately in the middle of the request; both
# restart.  While a node is down, a step that touched it fails at commit
# (Citus), and the next does its work again.
make_table('crashed', 12000);
$id = as('regress_admin', q{SELECT crm_purge_request('crashed', '30 days', 'export_and_delete', 'modified_at', $$body <> 'keep'$$)});
is(rounds($id, 2), 'in_progress', 'two rounds (the first records the placements): the request is in progress');
$w1->append_conf('postgresql.conf', "crm_purge.fault_point = 'export_written'");
$w1->reload;
open(my $fh, '>', $w1->data_dir . '/crm_purge_fault_armed') or die;
close $fh;
$coord->psql('postgres', q{SET ROLE regress_admin; SELECT crm_purge._tick_step(false)});
ok(!-e $w1->data_dir . '/crm_purge_fault_armed', 'worker node 1 crashed after writing a part, before its batch committed');
$w1->poll_query_until('postgres', 'SELECT true');
is(rounds($id, 3), 'in_progress', 'the request goes on');
$w2->stop('immediate');
$coord->psql('postgres', q{SET ROLE regress_admin; SELECT crm_purge._tick_step(false)});
is($coord->safe_psql('postgres', "SELECT status FROM crm_purge.requests WHERE id = $id"), 'in_progress',
	'a node that is down does not fail the request');
$w2->start;
is(rounds($id), 'success', 'the request ends once both nodes are back');
my $expected_crashed = join ' ', grep { $_ % 2 == 0 && $_ % 10 != 4 } 1 .. 12000;
is(exported($id, $expected_crashed), 'rows 4800, twice 0, missing 0, extra 0', 'every deleted row exported exactly once');
is($coord->safe_psql('postgres', "SELECT count(*) FROM crashed WHERE modified_at < now() - interval '30 days' AND body <> 'keep'"),
	'0', 'no old row left');
is($coord->safe_psql('postgres', "SELECT rows_done || ' ' || (SELECT sum(rows) FROM crm_purge_report($id)) FROM crm_purge.requests WHERE id = $id"),
	'4800 4800', 'rows_done and the report add up');

# --- export expiry removes the parts on the worker nodes
$coord->safe_psql('postgres', "UPDATE crm_purge.requests SET export_expires_at = now() - interval '1 second' WHERE id = $id");
# (export expiry runs every naptime)
my $expired = 'f';
for (1 .. 20)
{
	as('regress_admin', q{SELECT crm_purge_tick()});
	$expired = $coord->safe_psql('postgres', "SELECT export_expired FROM crm_purge.requests WHERE id = $id");
	last if $expired eq 't';
	sleep 1;
}
is($expired, 't', 'the export expired');
is($w1->safe_psql('postgres', "SELECT count(*) FROM crm_purge.shard_parts WHERE request_id = $id")
	. $w2->safe_psql('postgres', "SELECT count(*) FROM crm_purge.shard_parts WHERE request_id = $id"), '00',
	'its parts are gone from the worker nodes');
like(as('regress_admin', "SELECT crm_purge_export_read($id, 1)", err => 1), qr/expired/, 'reading says it expired');

# --- shards of a protected, guarded table of a role's: an online (logical)
# move is refused (Citus subscribes once per table owner, and writes made
# meanwhile to the table or its trash were lost); a blocking one moves them,
# the guard's trigger made on the new node as the owner
as('regress_app', q{
	CREATE TABLE gm (account_id int, id int, v text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('gm', 'account_id');
	INSERT INTO gm SELECT g % 40, g, 'v' FROM generate_series(1, 100) g;
});
as('regress_admin', q{SELECT crm_purge_protect('gm'); SELECT crm_purge_guard('gm', 'error');
	SELECT crm_purge_erase('gm', 'account_id = 1 AND id = 1', 'GDPR')});
my ($gm_shard, $gm_from) = shard_of('gm');
my $gm_to = $gm_from == $w1->port ? $w2->port : $w1->port;
my ($gm_out, $gm_err);
$coord->psql('postgres', "SELECT citus_move_shard_placement($gm_shard, '127.0.0.1', $gm_from, '127.0.0.1', $gm_to, shard_transfer_mode => 'force_logical')",
	stdout => \$gm_out, stderr => \$gm_err);
like($gm_err, qr/cannot publish crm_purge's trash for logical replication/, 'an online move of a protected table\'s shards is refused');
$coord->safe_psql('postgres', "SELECT citus_move_shard_placement($gm_shard, '127.0.0.1', $gm_from, '127.0.0.1', $gm_to, shard_transfer_mode => 'block_writes')");
is($coord->safe_psql('postgres', "SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) WHERE p.shardid = $gm_shard"),
	$gm_to, 'a blocking move of a guarded table\'s shard owned by a role goes through');
like(as('regress_app', q{INSERT INTO gm VALUES (1, 1, 'back')}, err => 1), qr/belongs to an erased record/,
	'the erased key is refused on the moved shard');
is(as('regress_app', q{SELECT count(*) FROM gm}), '99', 'the other rows moved with it');

# --- role OIDs differ from node to node (a role made on one only): a trash
# row's deleter went by OID in Citus's binary protocol, in a shard move and
# in results sent to the coordinator; the rows then named another role
$w1->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; CREATE ROLE regress_oid_shift});
$coord->safe_psql('postgres', q{CREATE ROLE regress_deleter LOGIN; CREATE ROLE regress_bystander LOGIN;
	GRANT USAGE ON SCHEMA app TO regress_deleter, regress_bystander});
isnt($w1->safe_psql('postgres', q{SELECT oid FROM pg_roles WHERE rolname = 'regress_deleter'}),
	$w2->safe_psql('postgres', q{SELECT oid FROM pg_roles WHERE rolname = 'regress_deleter'}),
	'the deleter has another OID on each worker node');
as('regress_app', q{
	CREATE TABLE dr (account_id int, id int, v text, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('dr', 'account_id');
	INSERT INTO dr SELECT g % 40, g, 'v' FROM generate_series(1, 100) g;
	GRANT SELECT, INSERT, DELETE ON dr TO regress_deleter, regress_bystander;
	CREATE TABLE dl (account_id int, id int, v text, PRIMARY KEY (account_id, id));
	INSERT INTO dl SELECT g % 40, g, 'v' FROM generate_series(1, 100) g;
	GRANT SELECT, INSERT, DELETE ON dl TO regress_deleter, regress_bystander;
});
as('regress_admin', q{SELECT crm_purge_protect('dr'); SELECT crm_purge_protect('dl')});
as('regress_deleter', q{DELETE FROM dr WHERE account_id = 1; DELETE FROM dl WHERE account_id = 2});
my ($dr_shard, $dr_from) = shard_of('dr');
my $dr_to = $dr_from == $w1->port ? $w2->port : $w1->port;
$coord->safe_psql('postgres', "SELECT citus_move_shard_placement($dr_shard, '127.0.0.1', $dr_from, '127.0.0.1', $dr_to, shard_transfer_mode => 'block_writes')");
is($coord->safe_psql('postgres', q{SELECT DISTINCT deleted_by FROM crm_trash.app__dr}), 'regress_deleter',
	'after a shard move the coordinator names the deleter');
is(as('regress_bystander', q{SELECT crm_purge_restore('dr', 'account_id = 1')}), '0', 'another user restores none of its rows');
is(as('regress_deleter', q{SELECT crm_purge_restore('dr', 'account_id = 1')}), '3', 'the deleter restores them');
# a table protected before it was distributed: its trash, rows and all, is distributed by the next tick
as('regress_app', q{SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('dl', 'account_id')});
as('regress_admin', q{SELECT crm_purge_tick()});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'crm_trash.app__dl'::regclass}), '1',
	'the trash of a table distributed after it was protected is distributed');
is($coord->safe_psql('postgres', q{SELECT DISTINCT deleted_by FROM crm_trash.app__dl}), 'regress_deleter',
	'its rows name their deleter on the worker nodes');
is(as('regress_bystander', q{SELECT crm_purge_restore('dl', 'account_id = 2')}), '0', 'another user restores none of them');
is(as('regress_deleter', q{SELECT crm_purge_restore('dl', 'account_id = 2')}), '3', 'the deleter restores them');

# --- a table owner's index on its own shard (made on the worker node):
# planning the shard copy's SELECT on the source node (a blocking move, run
# as the superuser) folds it; planned as the owner, it never runs as the
# superuser
as('regress_app', q{
	CREATE TABLE sc (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('sc', 'account_id');
	INSERT INTO sc SELECT g % 40, g FROM generate_series(1, 100) g;
});
as('regress_admin', q{SELECT crm_purge_protect('sc')});
my ($sc_shard, $sc_from) = shard_of('sc');
my ($sc_node, $sc_to) = $sc_from == $w1->port ? ($w1, $w2->port) : ($w2, $w1->port);
$sc_node->safe_psql('postgres', qq{
	SET citus.enable_ddl_propagation = off;
	SET citus.enable_manual_changes_to_shards = on;
	SET citus.override_table_visibility = off;
	SET ROLE regress_app;
	CREATE TABLE app.sc_log (who name);
	CREATE FUNCTION app.sc_note() RETURNS int LANGUAGE plpgsql AS \$f\$ BEGIN INSERT INTO app.sc_log VALUES (current_user); RETURN 1; END \$f\$;
	CREATE FUNCTION app.sc_fold(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS \$f\$ BEGIN PERFORM app.sc_note(); RETURN x; END \$f\$;
	CREATE INDEX sc_owner_code ON app.sc_$sc_shard ((id + app.sc_fold(1)));
	TRUNCATE app.sc_log;
});
$coord->safe_psql('postgres', "SELECT citus_move_shard_placement($sc_shard, '127.0.0.1', $sc_from, '127.0.0.1', $sc_to, shard_transfer_mode => 'block_writes')");
is($sc_node->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.sc_log}), 'regress_app',
	'the owner\'s index code folded while a shard copy is planned runs as the owner');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM sc}), '100', 'the rows moved');

# --- the other half of a shard copy: the target node takes the rows by
# COPY in Citus's session, as the superuser, checking the owner's CHECK
# constraint; it runs as the owner
for my $n ($w1, $w2)
{
	$n->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; SET ROLE regress_app;
		CREATE TABLE app.copy_log (who name, what text)});
}
as('regress_app', q{
	CREATE FUNCTION copy_note(what text) RETURNS boolean LANGUAGE plpgsql AS $f$
	BEGIN
		IF pg_catalog.to_regclass('app.copy_log') IS NOT NULL THEN
			EXECUTE 'INSERT INTO app.copy_log VALUES (current_user, $1)' USING what;
		END IF;
		RETURN true;
	END $f$;
	CREATE TABLE sk (account_id int, id int, PRIMARY KEY (account_id, id), CHECK (copy_note('check')));
	SELECT create_distributed_table('sk', 'account_id');
	INSERT INTO sk SELECT g % 40, g FROM generate_series(1, 100) g;
});
$_->safe_psql('postgres', 'TRUNCATE app.copy_log') for ($w1, $w2);
my ($sk_shard, $sk_from) = shard_of('sk');
my ($sk_src, $sk_dst, $sk_to) = $sk_from == $w1->port ? ($w1, $w2, $w2->port) : ($w2, $w1, $w1->port);
$coord->safe_psql('postgres', "SELECT citus_move_shard_placement($sk_shard, '127.0.0.1', $sk_from, '127.0.0.1', $sk_to, shard_transfer_mode => 'block_writes')");
is($sk_dst->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.copy_log WHERE what = 'check'}),
	'regress_app', 'the owner\'s CHECK constraint checked as rows arrive at the target node runs as the owner');

# --- and a view the owner made of its (empty) shard on the source node:
# the copy's SELECT runs it, as the owner
as('regress_app', q{
	CREATE TABLE sv (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('sv', 'account_id');
});
my ($sv_shard, $sv_from) = shard_of('sv');
my ($sv_node, $sv_to) = $sv_from == $w1->port ? ($w1, $w2->port) : ($w2, $w1->port);
$sv_node->safe_psql('postgres', qq{
	SET citus.enable_ddl_propagation = off;
	SET citus.enable_manual_changes_to_shards = on;
	SET citus.override_table_visibility = off;
	SET ROLE regress_app;
	ALTER TABLE app.sv_$sv_shard DROP CONSTRAINT sv_pkey_$sv_shard;
	VACUUM app.sv_$sv_shard;
	CREATE RULE "_RETURN" AS ON SELECT TO app.sv_$sv_shard DO INSTEAD
		SELECT 1::int AS account_id, 7::int AS id WHERE app.copy_note('view');
	TRUNCATE app.copy_log;
});
$coord->psql('postgres', "SELECT citus_move_shard_placement($sv_shard, '127.0.0.1', $sv_from, '127.0.0.1', $sv_to, shard_transfer_mode => 'block_writes')");
is($sv_node->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.copy_log WHERE what = 'view'}),
	'regress_app', 'a view the owner made of its shard runs as the owner when the shard is copied');

# --- a superuser's column change of a protected distributed table (the
# README's way on Citus) re-checks the owner's CHECK on the shards' rows:
# as the owner
as('regress_app', q{
	CREATE TABLE sa (account_id int, id int, n int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('sa', 'account_id');
	INSERT INTO sa SELECT g % 40, g, g FROM generate_series(1, 20) g;
	ALTER TABLE sa ADD CONSTRAINT sa_chk CHECK (n IS NULL OR copy_note('alter'));
});
as('regress_admin', q{SELECT crm_purge_protect('sa')});
$_->safe_psql('postgres', 'TRUNCATE app.copy_log') for ($w1, $w2);
$coord->safe_psql('postgres', q{ALTER TABLE app.sa ALTER COLUMN n TYPE bigint});
is(join(',', map { $_->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.copy_log WHERE what = 'alter'}) } ($w1, $w2)),
	'regress_app,regress_app', 'the owner\'s CHECK re-checked by a superuser\'s column change runs as the owner on the worker nodes');

# ... and of a partitioned one (its shards are partitioned tables)
as('regress_app', q{
	CREATE TABLE spp (account_id int, id int, n int, PRIMARY KEY (account_id, id)) PARTITION BY RANGE (id);
	CREATE TABLE spp_1 PARTITION OF spp FOR VALUES FROM (0) TO (1000);
	SELECT create_distributed_table('spp', 'account_id');
	INSERT INTO spp SELECT g % 40, g, g FROM generate_series(1, 20) g;
	ALTER TABLE spp ADD CONSTRAINT spp_chk CHECK (n IS NULL OR copy_note('alter part'));
});
$_->safe_psql('postgres', 'TRUNCATE app.copy_log') for ($w1, $w2);
$coord->safe_psql('postgres', q{ALTER TABLE app.spp ALTER COLUMN n TYPE bigint});
is(join(',', map { $_->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.copy_log WHERE what = 'alter part'}) } ($w1, $w2)),
	'regress_app,regress_app', 'the same change of a partitioned distributed table runs the CHECK as the owner');

# --- a superuser's TRUNCATE of a protected distributed table (with
# crm_purge.allow_truncate, a superuser's only): a TRUNCATE trigger the
# owner made on its shard on a worker node runs as the owner
as('regress_app', q{
	CREATE FUNCTION trunc_note() RETURNS trigger LANGUAGE plpgsql AS $f$
	BEGIN PERFORM app.copy_note('truncate'); RETURN NULL; END $f$;
	CREATE TABLE st (account_id int, id int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('st', 'account_id');
	INSERT INTO st SELECT g % 40, g FROM generate_series(1, 20) g;
});
as('regress_admin', q{SELECT crm_purge_protect('st')});
{
	my ($st_shard, $st_port) = shard_of('st');
	my $st_node = $st_port == $w1->port ? $w1 : $w2;
	$st_node->safe_psql('postgres', qq{SET ROLE regress_app; SET citus.enable_manual_changes_to_shards = on;
		CREATE TRIGGER hidden BEFORE TRUNCATE ON app.st_$st_shard FOR EACH STATEMENT EXECUTE FUNCTION app.trunc_note()});
	$st_node->safe_psql('postgres', 'TRUNCATE app.copy_log');
	$coord->safe_psql('postgres', q{SET crm_purge.allow_truncate = on; TRUNCATE app.st});
	is($st_node->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.copy_log WHERE what = 'truncate'}),
		'regress_app', 'the owner\'s TRUNCATE trigger on its shard runs as the owner in a superuser\'s TRUNCATE');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.st}), '0', 'the table was truncated');
}

# --- a superuser's blocking split of a table partitioned by an owner's
# function: the split partitions are attached again on the worker nodes,
# the partition key checked over their rows: as the owner
as('regress_app', q{
	CREATE FUNCTION pkey_note(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
	BEGIN PERFORM app.copy_note('pkey'); RETURN x; END $f$;
	CREATE TABLE spl (account_id int, id int, v text) PARTITION BY RANGE ((app.pkey_note(id)));
	CREATE TABLE spl_1 PARTITION OF spl FOR VALUES FROM (0) TO (1000);
	SELECT create_distributed_table('spl', 'account_id', colocate_with => 'none');
	INSERT INTO spl SELECT g % 40, g, 'v' FROM generate_series(1, 100) g;
});
$_->safe_psql('postgres', 'TRUNCATE app.copy_log') for ($w1, $w2);
{
	my ($spl_shard, $spl_port) = shard_of('spl');
	my $mid = $coord->safe_psql('postgres', qq{SELECT ((shardminvalue::bigint + shardmaxvalue::bigint) / 2)::text FROM pg_dist_shard WHERE shardid = $spl_shard});
	my $nodes = $coord->safe_psql('postgres', qq{SELECT string_agg(nodeid::text, ',') FROM (SELECT nodeid FROM pg_dist_node WHERE nodeport = $spl_port LIMIT 1) n});
	$coord->safe_psql('postgres', qq{SELECT citus_split_shard_by_split_points($spl_shard, ARRAY['$mid'], ARRAY[$nodes, $nodes], shard_transfer_mode => 'block_writes')});
	is(join(',', map { $_->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.copy_log WHERE what = 'pkey' AND who <> 'regress_app'}) } ($w1, $w2)),
		'none,none', 'the owner\'s partition key function runs as the owner in a superuser\'s split');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.spl}), '100', 'the split kept the rows');
}

# a typed literal of a type holding the owner's domain, in a column default
# or a CHECK, is read through the type's input (the domain's CHECK, the
# owner's code) when DDL is parsed: a superuser's split re-creates the
# shards, and a superuser's column change re-reads the table's stored
# expressions, over Citus's superuser connections (review round 39,
# C39-2, C39-3): refused on every node
as('regress_app', q{
	CREATE FUNCTION app.lit_note(x int) RETURNS boolean LANGUAGE plpgsql AS $f$
	BEGIN PERFORM app.copy_note('literal'); RETURN true; END $f$;
	CREATE DOMAIN app.lit_d AS int CHECK (app.lit_note(VALUE));
	CREATE TYPE app.lit_c AS (x app.lit_d);
	CREATE TABLE app.lit (account_id int, id int, v int DEFAULT (('(1)'::app.lit_c).x), w int,
		PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.lit', 'account_id', colocate_with => 'none');
	INSERT INTO app.lit (account_id, id) SELECT g % 10, g FROM generate_series(1, 20) g;
	ALTER TABLE app.lit ADD CONSTRAINT lit_ck CHECK (w <> (('(1)'::app.lit_c).x) - 1000);
});
$_->safe_psql('postgres', 'TRUNCATE app.copy_log') for ($w1, $w2);
$coord->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; SET ROLE regress_app;
	CREATE TABLE app.copy_log (who name, what text)});
{
	my ($lit_shard, $lit_port) = shard_of('app.lit');
	my $mid = $coord->safe_psql('postgres', qq{SELECT ((shardminvalue::bigint + shardmaxvalue::bigint) / 2)::text FROM pg_dist_shard WHERE shardid = $lit_shard});
	my $nodes = $coord->safe_psql('postgres', qq{SELECT string_agg(nodeid::text, ',') FROM (SELECT nodeid FROM pg_dist_node WHERE nodeport = $lit_port LIMIT 1) n});
	my ($rc, $out, $err) = $coord->psql('postgres', qq{SELECT citus_split_shard_by_split_points($lit_shard, ARRAY['$mid'], ARRAY[$nodes, $nodes], shard_transfer_mode => 'block_writes')});
	like($err, qr/a superuser may not run DDL that reads a value of type app.lit_c on a Citus node/,
		'Citus: a superuser\'s split re-creating shards with the owner\'s typed literal: refused');
	($rc, $out, $err) = $coord->psql('postgres', q{ALTER TABLE app.lit ALTER COLUMN w TYPE bigint});
	like($err, qr/a superuser may not run DDL that reads a value of type app.lit_c on a Citus node/,
		'Citus: a superuser\'s column change re-reading the owner\'s typed literal: refused');
	is(join(',', map { $_->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.copy_log WHERE what = 'literal' AND who <> 'regress_app'}) } ($coord, $w1, $w2)),
		'none,none,none', 'the owner\'s domain CHECK ran as no one else');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM app.lit}), '20', 'the table is as it was');
	as('regress_app', q{DROP TABLE app.lit; DROP TYPE app.lit_c; DROP DOMAIN app.lit_d});
	$coord->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; DROP TABLE app.copy_log});
}

# --- a coordinator that holds shards runs a superuser's column change of
# its shards in the superuser's own session (local execution): the owner's
# CHECK still runs as the owner there
$coord->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; SET ROLE regress_app;
	CREATE TABLE app.copy_log (who name, what text)});
$coord->safe_psql('postgres', qq{SELECT citus_set_node_property('127.0.0.1', ${\ $coord->port}, 'shouldhaveshards', true)});
as('regress_app', q{
	CREATE TABLE sl (account_id int, id int, n int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('sl', 'account_id', colocate_with => 'none');
	INSERT INTO sl SELECT g % 40, g, g FROM generate_series(1, 40) g;
	ALTER TABLE sl ADD CONSTRAINT sl_chk CHECK (n IS NULL OR app.copy_note('local'));
});
as('regress_admin', q{SELECT crm_purge_protect('sl')});
is($coord->safe_psql('postgres', q{SELECT count(*) > 0 FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.logicalrelid = 'app.sl'::regclass AND n.nodeport = } . $coord->port), 't', 'the coordinator holds shards of app.sl');
$coord->safe_psql('postgres', 'TRUNCATE app.copy_log');
$coord->safe_psql('postgres', q{ALTER TABLE app.sl ALTER COLUMN n TYPE bigint});
is($coord->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT who::text, ','), 'none') FROM app.copy_log WHERE what = 'local'}),
	'regress_app', 'a superuser\'s column change of the coordinator\'s shards runs the owner\'s CHECK as the owner');
$coord->safe_psql('postgres', qq{SELECT citus_set_node_property('127.0.0.1', ${\ $coord->port}, 'shouldhaveshards', false)});

# a trash's rows copied into a node as the superuser (a block_writes
# move): on that node the owner gave the name of a trash column's enum to a
# domain of its own, whose CHECK ran as the superuser (review round 41,
# C41-4): the copy is refused whatever renamed the type
as('regress_app', q{
	CREATE TYPE app.st41 AS ENUM ('a', 'b');
	CREATE TABLE app.t41 (account_id int, id int, s app.st41, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('app.t41', 'account_id', colocate_with => 'none');
	INSERT INTO app.t41 SELECT g % 8, g, 'a' FROM generate_series(1, 40) g;
});
as('regress_admin', q{SELECT crm_purge_protect('app.t41')});
as('regress_app', q{DELETE FROM app.t41 WHERE id <= 20});
{
	my ($t41_shard, $t41_port) = shard_of('app.t41');
	my ($target, $target_port) = $t41_port == $w1->port ? ($w2, $w2->port) : ($w1, $w1->port);
	$target->safe_psql('postgres', q{SET ROLE regress_app; SET citus.enable_ddl_propagation = off;
		CREATE TABLE app.log41 (who name, su boolean);
		GRANT INSERT ON app.log41 TO PUBLIC;
		CREATE FUNCTION app.evil41(v text) RETURNS boolean LANGUAGE plpgsql AS $f$
		BEGIN INSERT INTO app.log41 SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user; RETURN true; END $f$;
		GRANT EXECUTE ON FUNCTION app.evil41(text) TO PUBLIC});
	# (the owner's own rename there is refused now (001_citus.pl); done as
	# the superuser, this tests the copy's own check)
	$target->safe_psql('postgres', q{SET citus.enable_ddl_propagation = off; ALTER TYPE app.st41 RENAME TO st41_orig;
		SET ROLE regress_app; CREATE DOMAIN app.st41 AS text CHECK (app.evil41(VALUE))});
	my ($rc, $out, $err) = $coord->psql('postgres', qq{SELECT citus_move_shard_placement($t41_shard, '127.0.0.1', $t41_port, '127.0.0.1', $target_port, shard_transfer_mode => 'block_writes')});
	like($err, qr/cannot copy rows into trash crm_trash\.app__t41\w*: its column s has type app\.st41/,
		'Citus: a trash\'s rows are not copied into a node whose type of the trash column runs a role\'s code');
	is($target->safe_psql('postgres', q{SELECT count(*) FROM app.log41 WHERE who <> 'regress_app'}), '0',
		'the owner\'s CHECK ran as no one else');
	# (the move's half-made shards on the target hold the domain until Citus cleans them up)
	$target->psql('postgres', q{SET citus.enable_ddl_propagation = off; DROP TABLE app.log41});
}

# a foreign key ON DELETE CASCADE the owner made between its shards on a
# worker node (the distributed tables have none): a batch there removed a
# protected child's held rows past its trash (review round 40, C40-3). The
# batch now fails on such a key.
make_table('fk_par');
as('regress_app', q{
	CREATE TABLE fk_kid (account_id int, id int, pid int, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('fk_kid', 'account_id', colocate_with => 'fk_par');
	INSERT INTO fk_kid SELECT account_id, id, id FROM fk_par;
	GRANT SELECT, DELETE ON fk_kid TO regress_admin});
as('regress_admin', q{SELECT crm_purge_protect('fk_kid')});
as('regress_admin', q{SELECT crm_purge_hold('fk_kid', 'account_id = 2', NULL, 'litigation')});
foreach my $pair (split /\n/, $coord->safe_psql('postgres', q{
	SELECT n.nodeport || ' ' || p.shardid || ' ' || k.shardid
	FROM pg_dist_shard p JOIN pg_dist_shard k ON k.logicalrelid = 'fk_kid'::regclass AND k.shardminvalue = p.shardminvalue
	JOIN pg_dist_placement pl ON pl.shardid = p.shardid JOIN pg_dist_node n USING (groupid)
	WHERE p.logicalrelid = 'fk_par'::regclass}))
{
	my ($port, $par, $kid) = split / /, $pair;
	my $node = $port == $w1->port ? $w1 : $w2;
	$node->safe_psql('postgres', qq{SET ROLE regress_app;
		ALTER TABLE app.fk_kid_$kid ADD FOREIGN KEY (account_id, pid) REFERENCES app.fk_par_$par ON DELETE CASCADE});
}
$id = as('regress_admin', q{SELECT crm_purge_request('fk_par', '30 days', 'delete_only', 'modified_at', 'account_id = 2')});
is(rounds($id), 'failed', 'Citus: a request whose shard a key made on a worker node cascades from fails');
like($coord->safe_psql('postgres', "SELECT error FROM crm_purge.requests WHERE id = $id"),
	qr/shard app\.fk_par_\d+ is referenced by foreign key \S+ of app\.fk_kid_\d+, made on this worker node, with an ON DELETE action/,
	'and names the key');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM fk_kid WHERE account_id = 2}), '100',
	'the held child rows are all there');

# a view the owner put under a shard's name on a worker node: the batch
# took it for the shard, found no block and reported success with the
# shard's rows left (review round 43, C43-3)
make_table('vw_t', 400);
as('regress_admin', q{SELECT crm_purge_protect('vw_t')});
{
	my ($vw_shard, $vw_port) = shard_of('app.vw_t');
	my $node = $vw_port == $w1->port ? $w1 : $w2;
	# (the role may not rename a shard on a worker node now: review round
	# 57, C57-2; a superuser did here)
	$node->psql('postgres', qq{SET ROLE regress_app; SET citus.enable_ddl_propagation = off;
		SET citus.enable_manual_changes_to_shards = on;
		ALTER TABLE app.vw_t_$vw_shard RENAME TO vw_t_hidden}, stderr => \my $vw_err);
	like($vw_err, qr/cannot rename, move or change the type or parent of app\.vw_t_\d+ on a Citus worker node/,
		'Citus: a role renames no shard on a worker node');
	$node->safe_psql('postgres', qq{SET citus.enable_manual_changes_to_shards = on; ALTER TABLE app.vw_t_$vw_shard RENAME TO vw_t_hidden;
		SET ROLE regress_app; SET citus.enable_ddl_propagation = off;
		CREATE VIEW app.vw_t_$vw_shard AS SELECT * FROM app.vw_t_hidden WHERE false});
	$id = as('regress_admin', q{SELECT crm_purge_request('vw_t', '30 days', 'delete_only', 'modified_at')});
	is(rounds($id), 'failed', 'Citus: a request whose shard is a view on its node fails');
	like($coord->safe_psql('postgres', "SELECT error FROM crm_purge.requests WHERE id = $id"),
		qr/shard app\.vw_t_\d+ of placement \d+ is not a table on this node/, 'and says so');
}

# no batch leaves a resource behind (a part abandoned by an empty batch
# once left its hash context: a warning at every commit)
is(join('', map { scalar(() = slurp_file($_->logfile) =~ /reference leak/g) } ($coord, $w1, $w2)), '000',
	'no resource leak warned of on any node');

done_testing();
