# The background worker: one per database with crm_purge, none elsewhere,
# none on a standby; it survives SIGHUP, comes back after being terminated
# or killed, does the due work by itself, and never blocks DROP DATABASE.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'crm_purge'
crm_purge.naptime = 1
max_worker_processes = 16
restart_after_crash = on
});
$node->start;

my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'crm_purge worker'};

ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'crm_purge launcher'}),
	'the launcher runs');

$node->safe_psql('postgres', 'CREATE DATABASE crm');
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('crm', 'CREATE EXTENSION crm_purge');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'crm'}),
	'a worker serves the database with the extension');

# give the launcher a few naptimes to look at "plain" too
sleep(3);
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname IN ('plain', 'postgres')}),
	'0', 'no worker where crm_purge is not installed');

# the worker does due work by itself: trash past its retention goes
$node->safe_psql('crm', q{
	CREATE TABLE t (id int PRIMARY KEY);
	INSERT INTO t SELECT generate_series(1, 100);
	SELECT crm_purge_protect('t', '1 hour');
	DELETE FROM t;
	UPDATE crm_trash.public__t SET deleted_at = now() - interval '2 hours';
});
ok($node->poll_query_until('crm', q{SELECT count(*) = 0 FROM crm_trash.public__t}),
	'the worker expires trash by itself');
is($node->safe_psql('crm', q{SELECT action, rows FROM crm_purge.history WHERE action = 'trash expiry'}),
	'trash expiry|100', 'and records it');

# requests wait outside the processing window
my $h = (gmtime(time + 7200))[2];
$node->append_conf('postgresql.conf', sprintf("timezone = 'UTC'\ncrm_purge.processing_window = '%02d:00-%02d:30'\n", $h, $h));
$node->reload;
$node->safe_psql('crm', q{
	CREATE TABLE w (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
	INSERT INTO w SELECT g, now() - interval '1 year' FROM generate_series(1, 10) g;
	SELECT crm_purge_request('w', '30 days', 'delete_only');
});
sleep(3);
is($node->safe_psql('crm', q{SELECT status FROM crm_purge.requests WHERE tbl = 'w'::regclass}),
	'queued', 'outside the processing window a request waits');
$node->append_conf('postgresql.conf', "crm_purge.processing_window = ''\n");
$node->reload;
ok($node->poll_query_until('crm', q{SELECT status = 'success' FROM crm_purge.requests WHERE tbl = 'w'::regclass}),
	'inside it, it runs');

# SIGHUP: settings reload, the worker stays
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'crm'});
$node->append_conf('postgresql.conf', "crm_purge.naptime = 2\n");
$node->reload;
sleep(1);
is($node->safe_psql('postgres',
	qq{SELECT count(*) FROM pg_stat_activity WHERE pid = $pid}), '1', 'the worker survives a reload');
is($node->safe_psql('crm', 'SHOW crm_purge.naptime'), '2s', 'and the new naptime is in force');

# terminated: the launcher starts it again
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'crm' AND pid <> $pid}),
	'a terminated worker comes back');

# killed: the postmaster restarts everything, the worker comes back
$pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'crm'});
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'crm' AND pid <> $pid}),
	'a killed worker comes back after the crash restart');

# DROP DATABASE is not blocked by the worker; nor is DROP EXTENSION
$node->safe_psql('postgres', 'CREATE DATABASE gone');
$node->safe_psql('gone', 'CREATE EXTENSION crm_purge');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'gone'}),
	'a worker serves the new database');
my ($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE gone');
is($ret, 0, 'DROP DATABASE is not blocked by the worker') or diag($err);
$node->safe_psql('postgres', 'CREATE DATABASE dropext');
$node->safe_psql('dropext', 'CREATE EXTENSION crm_purge');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'dropext'}),
	'a worker serves that database');
($ret, $out, $err) = $node->psql('dropext', 'DROP EXTENSION crm_purge', timeout => 30);
is($ret, 0, 'DROP EXTENSION is not blocked by the worker') or diag($err);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'dropext'}),
	'and the worker leaves');

# a standby: no launcher, no worker; after promotion both run
$node->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b1', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
sleep(2);
is($standby->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'crm_purge%'}),
	'0', 'nothing of crm_purge runs on a standby');
is($standby->safe_psql('crm', q{SELECT crm_purge_tick() ->> 'standby'}), 'true',
	'crm_purge_tick() does nothing on a standby');
$node->stop;
$standby->promote;
ok($standby->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'crm_purge worker' AND datname = 'crm'}),
	'after promotion the worker runs');

$standby->stop;
done_testing();
