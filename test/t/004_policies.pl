# Policies run by themselves through pg_cron and the worker; a dump and a
# restore into a new cluster keeps every crm_purge setting working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;

my $node = crm_purge_node('cron', cron => 1);
$node->safe_psql('postgres', 'CREATE DATABASE crm');
$node->safe_psql('crm', q{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION crm_purge;
	CREATE ROLE alice LOGIN IN ROLE crm_purge_admin;
	CREATE TABLE logs (id int PRIMARY KEY, modified_at timestamptz NOT NULL, note text);
	INSERT INTO logs SELECT g, now() - CASE WHEN g <= 60 THEN interval '90 days' ELSE interval '1 day' END, 'n'
		FROM generate_series(1, 100) g;
	ALTER TABLE logs OWNER TO alice;
});
# a non-superuser admin schedules; pg_cron and the worker run it as her
my $policy = $node->safe_psql('crm',
	q{SET ROLE alice; SELECT crm_purge_schedule('logs', '30 days', '* * * * *', 'delete_only')});
is($node->safe_psql('crm', qq{SELECT username FROM cron.job j JOIN crm_purge.policies p ON p.jobid = j.jobid
	WHERE p.id = $policy}), 'alice', 'the job runs as the policy\'s creator');
is($node->safe_psql('crm', qq{SELECT j.schedule, j.database, j.command FROM cron.job j
	JOIN crm_purge.policies p ON p.jobid = j.jobid WHERE p.id = $policy}),
	"* * * * *|crm|SELECT crm_purge._run_policy($policy)", 'the policy owns a pg_cron job in its database');
ok($node->poll_query_until('crm', q{SELECT count(*) = 40 FROM logs}),
	'pg_cron queued a request and the worker deleted the old rows');
is($node->safe_psql('crm', qq{SELECT last_request_id IS NOT NULL, last_outcome LIKE 'queued request %'
	FROM crm_purge_policies WHERE id = $policy}), 't|t', 'the policy records its run');
ok($node->poll_query_until('crm', q{SELECT created_by::text || ':' || status FROM crm_purge.requests ORDER BY id LIMIT 1},
	'alice:success'), 'the request is hers and it succeeded');

# everything a DBA set up, to survive the dump
$node->safe_psql('crm', q{
	CREATE TABLE people (id int PRIMARY KEY, name text);
	CREATE TABLE notes (id int PRIMARY KEY, person_id int REFERENCES people ON DELETE SET NULL, body text);
	INSERT INTO people SELECT g, 'p' || g FROM generate_series(1, 10) g;
	INSERT INTO notes SELECT g, g, 'secret' FROM generate_series(1, 10) g;
	SELECT crm_purge_protect('people', '10 days');
	SELECT crm_purge_relate('people', 'notes', 'anonymize');
	SELECT crm_purge_anonymize('notes', 'body', 'fixed:-');
	SELECT crm_purge_guard('people');
	SELECT crm_purge_erase('people', 'id = 1', 'GDPR');
	SELECT crm_purge_hold('people', 'id = 2', NULL, 'audit');
	DELETE FROM people WHERE id = 3;
});
my $dump = $node->basedir . '/crm.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('crm') ], 'pg_dump');

my $new = crm_purge_node('restored', cron => 1);
$new->safe_psql('postgres', 'CREATE DATABASE crm');
# roles are not in a database dump (pg_dumpall --globals-only brings them)
$new->safe_psql('postgres', 'CREATE ROLE crm_purge_admin NOLOGIN; CREATE ROLE alice LOGIN IN ROLE crm_purge_admin');
# as pg_restore names itself when PGAPPNAME is not set (the harness sets it):
# the owner's code, run while an admin's delete is planned, cannot schedule
# a pg_cron job: it would run later as the admin, in a session of its own
$node->safe_psql('crm', q{
	CREATE ROLE mallory LOGIN;
	CREATE SCHEMA m AUTHORIZATION mallory;
	GRANT USAGE ON SCHEMA m TO alice;
	GRANT USAGE ON SCHEMA cron TO alice, mallory;
});
$node->safe_psql('crm', q{SET ROLE mallory;
	CREATE TABLE m.t (id int PRIMARY KEY);
	INSERT INTO m.t VALUES (1), (2);
	GRANT SELECT, DELETE ON m.t TO alice;
	CREATE FUNCTION m.plant() RETURNS int LANGUAGE plpgsql AS $f$
	BEGIN
		IF current_user <> 'mallory' THEN
			PERFORM cron.schedule('later', '* * * * *', 'SELECT 1');
		END IF;
		RETURN 0;
	END $f$;
	CREATE FUNCTION m.plant_i(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN RETURN m.plant(); END $f$;
	CREATE INDEX ON m.t ((id + m.plant_i(0)))});
my (undef, undef, $cron_err) = $node->psql('crm', q{SET ROLE alice; SELECT crm_purge_delete_where('m.t', 'id = 1')});
# (refused before it is called: a third role's function never runs with the admin's rights there)
like($cron_err, qr/cannot run function m\.plant_i\(integer\) of role mallory with the rights of role alice/,
	'the owner\'s code cannot schedule a pg_cron job as the admin');
is($node->safe_psql('crm', q{SELECT count(*) FROM cron.job WHERE jobname = 'later'}), '0', 'no job was made');

# the worker leaves cron.job alone while a restore is connected
{
	local $ENV{PGAPPNAME} = 'pg_restore';
	$new->command_ok([ 'pg_restore', '-d', $new->connstr('crm'), $dump ], 'pg_restore into a new cluster');
}

is($new->safe_psql('crm', q{SELECT string_agg(tbl::text, ',' ORDER BY tbl::text) FROM crm_purge.protected_tables}),
	'people', 'protected tables survive');
is($new->safe_psql('crm', q{SELECT count(*) FROM crm_trash.public__people}), '1', 'their trash survives');
$new->safe_psql('crm', q{DELETE FROM people WHERE id = 4});
is($new->safe_psql('crm', q{SELECT count(*) FROM crm_trash.public__people}), '2', 'DELETE still goes to the trash');
is($new->safe_psql('crm', q{SELECT crm_purge_restore('people', 'id = 3')}), '1', 'and restore works');
$new->safe_psql('crm', q{INSERT INTO people VALUES (1, 'back')});
is($new->safe_psql('crm', q{SELECT count(*) FROM people WHERE id = 1}), '0',
	'the tombstone and the guard survive: the erased key stays out');
my ($ret, $out, $err) = $new->psql('crm', q{SELECT crm_purge_erase('people', 'id = 2', 'x')});
like($err, qr/legal hold 1 keeps them \(audit\)/, 'the hold survives');
is($new->safe_psql('crm', q{SELECT parent || '>' || child || ':' || on_erase FROM crm_purge.relations}),
	'people>notes:anonymize', 'the cascade rules survive');
is($new->safe_psql('crm', q{SELECT count(*) FROM crm_purge.history WHERE action = 'erase'}), '1', 'the history survives');
is($new->safe_psql('crm', q{SELECT count(*) FROM crm_purge.policies}), '1', 'the policy survives');

# its pg_cron job is made again in the new cluster, and it runs
$new->safe_psql('crm', q{INSERT INTO logs SELECT g, now() - interval '90 days', 'n' FROM generate_series(1001, 1010) g});
ok($new->poll_query_until('crm', q{SELECT count(*) = 0 FROM logs WHERE id > 1000}),
	'the restored policy runs by itself');

# dropping the extension takes the policy's job with it
$new->safe_psql('crm', q{DROP EXTENSION crm_purge CASCADE});
is($new->safe_psql('crm', q{SELECT count(*) FROM cron.job WHERE jobname LIKE 'crm_purge_policy_%'}),
	'0', 'DROP EXTENSION removes the pg_cron jobs');

# a role's session named pg_restore kept the worker from making a policy's
# missing job again, for as long as it stayed open (review round 60,
# A60-1): only a superuser's restore (which alone writes cron.job) counts
$node->safe_psql('crm', qq{SELECT cron.unschedule(jobid) FROM crm_purge.policies WHERE id = $policy});
my $fake = do {
	local $ENV{PGAPPNAME} = 'pg_restore';
	local $ENV{PGUSER} = 'alice';
	$node->background_psql('crm');
};
$fake->query_safe('SELECT 1');
ok($node->poll_query_until('crm', qq{SELECT count(*) = 1 FROM cron.job j JOIN crm_purge.policies p ON p.jobid = j.jobid
	WHERE p.id = $policy}), 'a role\'s session named pg_restore does not stop the policies\' repair');
$fake->quit;

$new->stop;
$node->stop;
done_testing();
