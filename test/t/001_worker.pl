# The background worker: one per database with crm_purge, none elsewhere,
# none on a standby; it survives SIGHUP, follows crm_purge.databases, comes
# back after being terminated or killed, does the due work by itself, and
# never blocks DROP DATABASE (nor RENAME, nor CREATE DATABASE ... TEMPLATE).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;
use Time::HiRes qw(time usleep);

my $node = crm_purge_node('primary', streaming => 1, conf => qq{
restart_after_crash = on
});

# true when database $db has $count crm_purge workers
sub workers
{
	my ($db, $count) = @_;
	return qq{SELECT count(*) = $count FROM pg_stat_activity
		WHERE backend_type = 'crm_purge worker' AND datname = '$db'};
}

sub worker_pid
{
	my ($n, $db) = @_;
	return $n->safe_psql('postgres', qq{SELECT pid FROM pg_stat_activity
		WHERE backend_type = 'crm_purge worker' AND datname = '$db'});
}

# Waits until the worker of $db (with pid $pid, when given) has started and
# finished a cycle after now: its batch began later, so it saw what was
# committed before.  query_start is the start of the worker's last batch.
sub wait_for_cycle
{
	my ($n, $db, $pid) = @_;
	my $t = $n->safe_psql('postgres', 'SELECT clock_timestamp()');
	my $and_pid = defined $pid ? "AND pid = $pid" : '';
	return $n->poll_query_until('postgres', qq{
		SELECT query_start > '$t' AND state = 'idle' FROM pg_stat_activity
		WHERE backend_type = 'crm_purge worker' AND datname = '$db' $and_pid});
}

ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'crm_purge launcher'}),
	'the launcher runs');

$node->safe_psql('postgres', 'CREATE DATABASE crm');
$node->safe_psql('crm', 'CREATE EXTENSION crm_purge');
ok($node->poll_query_until('postgres', workers('crm', 1)),
	'a worker serves the database with the extension');
is($node->safe_psql('postgres', q{SELECT backend_type || '|' || application_name
		FROM pg_stat_activity WHERE datname = 'crm' AND backend_type LIKE 'crm_purge%'}),
	'crm_purge worker|crm_purge worker', 'it shows as "crm_purge worker"');

# "plain" says in the log when its worker finds no crm_purge; the launcher
# ignores it until it takes connections, so its first look is logged
$node->safe_psql('postgres', 'CREATE DATABASE plain ALLOW_CONNECTIONS false');
$node->safe_psql('postgres', 'ALTER DATABASE plain SET log_min_messages = debug1');
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER DATABASE plain ALLOW_CONNECTIONS true');
$node->wait_for_log(qr/crm_purge is not installed in database "plain"; its worker exits/, $log_offset);
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
		WHERE backend_type = 'crm_purge worker' AND datname IN ('plain', 'postgres')}),
	'no worker where crm_purge is not installed');

# the worker does due work by itself: trash past its retention goes
$node->safe_psql('crm', q{
	CREATE TABLE t (id int PRIMARY KEY);
	INSERT INTO t SELECT generate_series(1, 100);
	SELECT crm_purge_protect('t', '1 hour');
	DELETE FROM t;
	UPDATE crm_trash.public__t SET deleted_at = now() - interval '2 hours';
	UPDATE crm_purge.trash_segments SET created_at = now() - interval '2 hours';
});
ok($node->poll_query_until('crm', q{SELECT count(*) = 0 FROM crm_trash.public__t}),
	'the worker expires trash by itself');
is($node->safe_psql('crm', q{SELECT action, rows FROM crm_purge.history WHERE action = 'trash expiry'}),
	'trash expiry|100', 'and records it');

# requests wait outside the processing window
my $h = (gmtime(time + 7200))[2];
$node->append_conf('postgresql.conf', sprintf("timezone = 'UTC'\ncrm_purge.processing_window = '%02d:00-%02d:30'\n", $h, $h));
$node->reload;
$node->poll_query_until('crm', q{SELECT current_setting('crm_purge.processing_window') <> ''});
$node->safe_psql('crm', q{
	CREATE TABLE w (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
	INSERT INTO w SELECT g, now() - interval '1 year' FROM generate_series(1, 10) g;
	SELECT crm_purge_request('w', '30 days', 'delete_only');
});
ok(wait_for_cycle($node, 'crm'), 'the worker ran after the request was queued');
is($node->safe_psql('crm', q{SELECT status FROM crm_purge.requests WHERE tbl = 'w'::regclass}),
	'queued', 'outside the processing window a request waits');
$node->append_conf('postgresql.conf', "crm_purge.processing_window = ''\n");
$node->reload;
ok($node->poll_query_until('crm', q{SELECT status = 'success' FROM crm_purge.requests WHERE tbl = 'w'::regclass}),
	'inside it, it runs');

# any role may LISTEN: the NOTIFY payload names the event only, the rest is
# in crm_purge.notifications, under its row-level security (review round
# 55, A55-2: a failed request's error quoted a row's value to any listener)
{
	my $out = $node->safe_psql('crm', q{LISTEN crm_purge;
		INSERT INTO w SELECT g, now() - interval '1 year' FROM generate_series(100, 109) g;
		SELECT crm_purge_request('w', '30 days', 'delete_only', filter => 'true');
		SELECT 1;});
	like($out, qr/Asynchronous notification "crm_purge" with payload "\{"event": "request created", "purge_id": null, "request_id": \d+\}"/,
		'the NOTIFY payload holds the event and the request');
	unlike($out, qr/"(table|rows|error|recipients)"/, 'and nothing of the table or its rows');
	ok($node->poll_query_until('crm', q{SELECT count(*) = 0 FROM crm_purge.requests WHERE status NOT IN ('success', 'failed')}),
		'that request ends');
}

# while nothing else runs in the database, batches grow from batch_size to
# idle_batch_size: fewer, larger transactions
$node->append_conf('postgresql.conf', "crm_purge.batch_size = 100\ncrm_purge.idle_batch_size = 1600\n");
$node->reload;
$node->poll_query_until('crm', q{SELECT current_setting('crm_purge.idle_batch_size') = '1600'});
$node->safe_psql('crm', q{
	CREATE TABLE grow (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
	INSERT INTO grow SELECT g, now() - interval '1 year' FROM generate_series(1, 3000) g;
	SELECT crm_purge_request('grow', '30 days', 'delete_only');
});
ok($node->poll_query_until('crm', q{SELECT status = 'success' FROM crm_purge.requests WHERE tbl = 'grow'::regclass}),
	'a request on an idle database finishes');
is($node->safe_psql('crm', q{SELECT min(b.rows) FILTER (WHERE b.batch = 1) < 400, max(b.rows) >= 700, count(*) < 10, sum(b.rows)
	FROM crm_purge.request_batches b JOIN crm_purge.requests r ON r.id = b.request_id WHERE r.tbl = 'grow'::regclass}),
	't|t|t|3000', 'its batches start near batch_size and grow');
$node->append_conf('postgresql.conf', "crm_purge.batch_size = 10000\ncrm_purge.idle_batch_size = 100000\n");
$node->reload;

# SIGHUP: settings reload, the worker stays and goes on working
my $pid = worker_pid($node, 'crm');
$node->append_conf('postgresql.conf', "crm_purge.naptime = 2\n");
$node->reload;
ok($node->poll_query_until('crm', q{SELECT current_setting('crm_purge.naptime') = '2s'}),
	'the new naptime is in force');
ok(wait_for_cycle($node, 'crm', $pid), 'the worker survives a reload and works on');

# a database without the extension is not looked at every naptime (nothing
# woke the launcher since "plain" was looked at)
my @seen = slurp_file($node->logfile) =~ /crm_purge is not installed in database "plain"/g;
is(scalar(@seen), 1, 'a database without crm_purge is not checked again every naptime');

# crm_purge.databases: only the listed databases are served
$node->append_conf('postgresql.conf', "crm_purge.naptime = 1\ncrm_purge.databases = 'postgres'\n");
$node->reload;
ok($node->poll_query_until('postgres', workers('crm', 0)),
	'a database taken off crm_purge.databases loses its worker');
$node->append_conf('postgresql.conf', "crm_purge.databases = ''\n");
$node->reload;
ok($node->poll_query_until('postgres', workers('crm', 1)),
	'and gets it back when it is served again');

# terminated: the launcher starts it again
$pid = worker_pid($node, 'crm');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres', workers('crm', 1) . qq{ AND NOT EXISTS
		(SELECT FROM pg_stat_activity WHERE pid = $pid)}),
	'a terminated worker comes back');

# someone who may not drop the database cannot stop its worker that way
$pid = worker_pid($node, 'crm');
$node->safe_psql('postgres', 'CREATE ROLE mallory LOGIN CREATEDB');
my ($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE crm',
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/must be owner of database crm/, 'DROP DATABASE by a non-owner fails');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM pg_stat_activity WHERE pid = $pid}),
	'1', 'and leaves the worker alone');

# commands that need the database to themselves are not blocked either, and
# the worker is back as soon as they are done
my $release_log_offset = -s $node->logfile;
my $t0 = time;
($ret, $out, $err) = $node->psql('postgres', 'CREATE DATABASE crm_copy TEMPLATE crm');
is($ret, 0, 'CREATE DATABASE ... TEMPLATE is not blocked by the worker') or diag($err);
ok($node->poll_query_until('postgres', workers('crm', 1)),
	'the worker of the template comes back');
cmp_ok(time - $t0, '<', 30, 'as soon as the command is done');
ok($node->poll_query_until('postgres', workers('crm_copy', 1)),
	'the copy gets a worker of its own');
($ret, $out, $err) = $node->psql('postgres', 'ALTER DATABASE crm_copy RENAME TO crm_renamed');
is($ret, 0, 'ALTER DATABASE ... RENAME is not blocked by the worker') or diag($err);
ok($node->poll_query_until('postgres', workers('crm_renamed', 1)),
	'the renamed database has its worker back');

# DROP DATABASE is not blocked by the worker; nor is DROP EXTENSION
$node->safe_psql('postgres', 'CREATE DATABASE gone');
$node->safe_psql('gone', 'CREATE EXTENSION crm_purge');
ok($node->poll_query_until('postgres', workers('gone', 1)),
	'a worker serves the new database');
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE gone');
is($ret, 0, 'DROP DATABASE is not blocked by the worker') or diag($err);
$node->safe_psql('postgres', 'CREATE DATABASE dropext');
$node->safe_psql('dropext', 'CREATE EXTENSION crm_purge');
ok($node->poll_query_until('postgres', workers('dropext', 1)),
	'a worker serves that database');
($ret, $out, $err) = $node->psql('dropext', 'DROP EXTENSION crm_purge', timeout => 30);
is($ret, 0, 'DROP EXTENSION is not blocked by the worker') or diag($err);
ok($node->poll_query_until('postgres', workers('dropext', 0)),
	'and the worker leaves');
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE crm_renamed');
is($ret, 0, 'nor DROP DATABASE of the renamed copy') or diag($err);

# those expected releases are logged at LOG, never FATAL
ok($node->log_contains(qr/LOG:  crm_purge worker of database "crm" stops: a command needs the database to itself/,
	$release_log_offset), 'an idle worker released for a command says so at LOG');
ok(!$node->log_contains(qr/FATAL:  terminating background worker "crm_purge worker"/,
	$release_log_offset), 'and no FATAL is logged');

# a worker released in the middle of a batch: LOG too, and the batch runs again
$node->safe_psql('postgres', 'CREATE DATABASE busy');
$node->safe_psql('busy', q{
	CREATE EXTENSION crm_purge;
	CREATE TABLE slow (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
	INSERT INTO slow SELECT g, now() - interval '1 year' FROM generate_series(1, 200) g;
	SELECT crm_purge_protect('slow');
	SELECT crm_purge_request('slow', '30 days', 'delete_only', filter => 'pg_sleep(0.1) IS NOT NULL');
});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'crm_purge worker' AND datname = 'busy' AND wait_event = 'PgSleep'}),
	'the worker of "busy" is inside a batch');
$release_log_offset = -s $node->logfile;
($ret, $out, $err) = $node->psql('postgres', 'CREATE DATABASE busy_copy TEMPLATE busy');
is($ret, 0, 'CREATE DATABASE ... TEMPLATE releases a busy worker') or diag($err);
ok($node->log_contains(qr/LOG:  crm_purge worker of database "busy" stops: a command needs the database to itself/,
	$release_log_offset), 'a busy worker released for a command says so at LOG');
ok(!$node->log_contains(qr/FATAL:  terminating background worker "crm_purge worker"/,
	$release_log_offset), 'and no FATAL is logged for it either');
my @busy_lines = slurp_file($node->logfile, $release_log_offset) =~ /worker of database "busy" stops/g;
is(scalar @busy_lines, 1, 'once');
is($node->safe_psql('busy_copy', 'SELECT count(*) FROM slow'), '200',
	'the interrupted batch left every row in place');
$node->safe_psql('postgres', 'DROP DATABASE busy_copy');
$node->safe_psql('postgres', 'DROP DATABASE busy');

# test databases made by a non-superuser get the extension from template1;
# template1 itself has no worker, so it never blocks CREATE DATABASE
$node->safe_psql('template1', 'CREATE EXTENSION crm_purge');
($ret, $out, $err) = $node->psql('postgres', 'CREATE DATABASE test_app',
	extra_params => [ '-U', 'mallory' ]);
is($ret, 0, 'a non-superuser creates a database from template1') or diag($err);
is($node->safe_psql('test_app', q{SELECT extversion FROM pg_extension WHERE extname = 'crm_purge'}),
	'1.1', 'and it has crm_purge');
ok($node->poll_query_until('postgres', workers('test_app', 1) . q{ AND NOT EXISTS
		(SELECT FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'template1')}),
	'with a worker of its own, and none for template1');
$node->safe_psql('test_app', q{
	CREATE TABLE t (id int PRIMARY KEY);
	INSERT INTO t VALUES (1);
	SELECT crm_purge_protect('t');
	DELETE FROM t;
});
is($node->safe_psql('test_app', 'SELECT count(*) FROM crm_trash.public__t'), '1',
	'its recycle bin works');
$node->safe_psql('postgres', 'DROP DATABASE test_app');
$node->safe_psql('template1', 'DROP EXTENSION crm_purge');

# a database owner's defaults: read-only transactions made the worker exit
# at every start, REPEATABLE READ let a segment merge copy erased rows back
# (review round 77, A77-1, A77-2): the worker's own transactions are READ
# COMMITTED and writable whatever the database sets
$node->safe_psql('crm', q{ALTER DATABASE crm SET default_transaction_read_only = on;
	ALTER DATABASE crm SET default_transaction_isolation = 'repeatable read'});
$pid = worker_pid($node, 'crm');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->safe_psql('crm', q{SET default_transaction_read_only = off;
	CREATE TABLE ro_t (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
	INSERT INTO ro_t SELECT g, now() - interval '2 years' FROM generate_series(1, 10) g;
	SELECT crm_purge_request('ro_t', '1 year', 'delete_only')});
ok($node->poll_query_until('crm', q{SELECT status = 'success' FROM crm_purge_requests ORDER BY id DESC LIMIT 1}),
	'with read-only, REPEATABLE READ defaults the worker does the due work');
$node->safe_psql('crm', q{SET default_transaction_read_only = off; ALTER DATABASE crm RESET default_transaction_read_only;
	ALTER DATABASE crm RESET default_transaction_isolation; DROP TABLE ro_t});

# an error a step does not catch: the step is rolled back and the worker
# stays, naps and goes on; exiting, it was restarted to fail again
$pid = worker_pid($node, 'crm');
$log_offset = -s $node->logfile;
open(my $armed, '>', $node->data_dir . '/crm_purge_fault_armed') or die;
close($armed);
$node->safe_psql('postgres', q{ALTER SYSTEM SET crm_purge.fault_point = 'step_error'; SELECT pg_reload_conf()});
ok($node->poll_query_until('postgres', q{SELECT (pg_stat_file('crm_purge_fault_armed', true)).size IS NULL}),
	'the step_error fault point fired');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET crm_purge.fault_point; SELECT pg_reload_conf()});
ok($node->log_contains(qr/ERROR:  crm_purge fault point "step_error" reached/, $log_offset),
	'the step failed with the fault point\'s error');
$node->safe_psql('crm', q{CREATE TABLE se_t (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
	INSERT INTO se_t SELECT g, now() - interval '2 years' FROM generate_series(1, 10) g;
	SELECT crm_purge_request('se_t', '1 year', 'delete_only')});
ok($node->poll_query_until('crm', q{SELECT status = 'success' FROM crm_purge_requests ORDER BY id DESC LIMIT 1}),
	'after the failed step the worker does the due work');
is(worker_pid($node, 'crm'), $pid, 'the same worker: it did not exit');
$node->safe_psql('crm', 'DROP TABLE se_t');

# such an error raised inside SPI (PL/pgSQL's context on the error context
# stack; a superuser's trigger on crm_purge's catalog here, failing the
# records of two requests): the stack is reset, and the next step's error is
# logged too; the worker looped for ever in the next error's context
# callbacks, locks held (round 78, A78-1).  A request whose step fails so is
# passed over for a while: the same request first at every step held up all
# other due work (round 79, B79-2)
$log_offset = -s $node->logfile;
$node->safe_psql('crm', q{
	CREATE TABLE fail_ids (id bigint);
	CREATE FUNCTION fail_rb() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.request_id IN (SELECT id FROM public.fail_ids) THEN RAISE EXCEPTION 'boom from request_batches'; END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER fail_rb BEFORE INSERT ON crm_purge.request_batches FOR EACH ROW EXECUTE FUNCTION fail_rb();
	CREATE TABLE se_t (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
	INSERT INTO se_t SELECT g, now() - interval '2 years' FROM generate_series(1, 10) g;
	CREATE TABLE se_t2 (LIKE se_t INCLUDING ALL);
	INSERT INTO se_t2 SELECT * FROM se_t;
	CREATE TABLE se_t3 (LIKE se_t INCLUDING ALL);
	INSERT INTO se_t3 SELECT * FROM se_t;
	BEGIN;
	INSERT INTO fail_ids SELECT crm_purge_request('se_t', '1 year', 'delete_only');
	INSERT INTO fail_ids SELECT crm_purge_request('se_t2', '1 year', 'delete_only');
	COMMIT});
my $booms = 0;
for (1 .. 300)
{
	$booms = () = slurp_file($node->logfile, $log_offset) =~ /ERROR:  boom from request_batches/g;
	last if $booms >= 2;
	usleep(100_000);
}
ok($booms >= 2, 'a second uncaught error in SPI is logged: the worker did not hang');
ok($node->log_contains(qr/crm_purge request \d+ is passed over for 30 s: its step failed/, $log_offset),
	'the failing request is passed over for a while');
ok($node->poll_query_until('crm', q{SELECT string_agg("table"::text, ',' ORDER BY "table"::text) FROM crm_purge_errors
		WHERE task = 'request batch' AND error = 'boom from request_batches'}, 'se_t,se_t2'),
	'the failures are shown in crm_purge_errors');
my $third = $node->safe_psql('crm', q{SELECT crm_purge_request('se_t3', '1 year', 'delete_only')});
ok($node->poll_query_until('crm', qq{SELECT status = 'success' FROM crm_purge_requests WHERE id = $third}),
	'meanwhile another request is done');
is($node->safe_psql('crm', q{SELECT string_agg(status, ',' ORDER BY id) FROM crm_purge_requests
		WHERE id IN (SELECT id FROM fail_ids)}), 'queued,queued', 'the failing ones wait, nothing of their steps kept');
is(worker_pid($node, 'crm'), $pid, 'in the same worker');
$node->safe_psql('crm', q{DROP TRIGGER fail_rb ON crm_purge.request_batches; DROP FUNCTION fail_rb();
	UPDATE crm_purge.requests SET status = 'failed' WHERE id IN (SELECT id FROM fail_ids);
	DELETE FROM crm_purge.errors WHERE tbl IN ('se_t'::regclass, 'se_t2'::regclass);
	DROP TABLE se_t, se_t2, se_t3, fail_ids});

# killed: the postmaster restarts everything, the worker comes back
$pid = worker_pid($node, 'crm');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', workers('crm', 1) . qq{ AND NOT EXISTS
		(SELECT FROM pg_stat_activity WHERE pid = $pid)}),
	'a killed worker comes back after the crash restart');

# a standby: no launcher, no worker; after promotion both run
$node->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b1', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
# a launcher would start within a naptime of the standby being up
$standby->poll_query_until('postgres',
	q{SELECT now() - pg_postmaster_start_time() > interval '3 s'});
is($standby->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'crm_purge%'}),
	'0', 'nothing of crm_purge runs on a standby');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'crm_purge launcher'
		OR (backend_type = 'crm_purge worker' AND datname = 'crm')}),
	'2', 'while the primary runs its launcher and worker');
is($standby->safe_psql('crm', q{SELECT crm_purge_tick() ->> 'standby'}), 'true',
	'crm_purge_tick() does nothing on a standby');
$node->stop;
$standby->promote;
ok($standby->poll_query_until('postgres', workers('crm', 1)),
	'after promotion the worker runs');

$standby->stop;
done_testing();
