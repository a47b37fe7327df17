# A table owner's slow code, reached by an admin's request (here a trigger
# that sleeps for an hour), delays only its own request: the batch is
# cancelled after crm_purge.step_timeout, shown in crm_purge_errors and
# tried again with backoff, while another request, trash expiry and the
# admin's crm_purge_revoke go on.  Without the timeout it held up all of
# the database's due work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;

my $node = crm_purge_node('step_timeout', conf => "crm_purge.step_timeout = '2s'\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION crm_purge;
	CREATE ROLE owner LOGIN;
	CREATE ROLE adm LOGIN IN ROLE crm_purge_admin;
	CREATE SCHEMA app AUTHORIZATION owner;
	GRANT USAGE ON SCHEMA app TO adm;
	SET ROLE owner;
	CREATE TABLE app.stall (id int PRIMARY KEY, modified_at timestamptz NOT NULL DEFAULT now() - interval '1 year');
	CREATE TABLE app.quick (id int PRIMARY KEY, modified_at timestamptz NOT NULL DEFAULT now() - interval '1 year');
	CREATE TABLE app.expires (id int PRIMARY KEY);
	INSERT INTO app.stall SELECT generate_series(1, 10);
	INSERT INTO app.quick SELECT generate_series(1, 10);
	INSERT INTO app.expires SELECT generate_series(1, 10);
	GRANT SELECT, DELETE ON app.stall, app.quick TO adm;
	CREATE FUNCTION app.forever() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_sleep(3600); RETURN OLD; END$$;
	CREATE TRIGGER forever BEFORE DELETE ON app.stall FOR EACH ROW EXECUTE FUNCTION app.forever();
	RESET ROLE;
	SELECT crm_purge_protect('app.expires', '1 second');
	SET ROLE adm;
	SELECT crm_purge_request('app.stall', '30 days', 'delete_only');
	SELECT crm_purge_request('app.quick', '30 days', 'delete_only');
});
$node->safe_psql('postgres', q{SET ROLE owner; DELETE FROM app.expires});

ok($node->poll_query_until('postgres', q{
	SELECT (SELECT status FROM crm_purge.requests WHERE id = 2) = 'success'
	   AND (SELECT count(*) FROM crm_trash.app__expires) = 0}),
	'the other request and trash expiry ran past the stalled batch');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM crm_purge_errors
	 WHERE task = 'request batch' AND "table" = 'app.stall'::regclass AND error ~ 'statement timeout'}),
	'the stalled batch is cancelled and on view');
is($node->safe_psql('postgres', q{SELECT status, rows_done FROM crm_purge.requests WHERE id = 1}), 'in_progress|0',
	'its request waits, nothing deleted');
like($node->safe_psql('postgres', q{SELECT string_agg(outcome, ';') FROM crm_purge.request_batches WHERE request_id = 1}),
	qr/^waiting: canceling statement due to statement timeout/, 'its batches say why');
is($node->safe_psql('postgres', q{SELECT count(*) FROM app.stall}), '10', 'its rows are all there');

# the admin is answered at once, not after the owner's trigger
my ($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '20s'; SET ROLE adm; SELECT crm_purge_revoke(1)});
like($err, qr/request 1 is in_progress; only a queued request can be revoked/, 'revoke says why, without waiting');

# the owner mends its trigger: the request finishes
$node->safe_psql('postgres', q{SET ROLE owner; DROP TRIGGER forever ON app.stall});
ok($node->poll_query_until('postgres', q{SELECT status = 'success' FROM crm_purge.requests WHERE id = 1}),
	'after the trigger is gone, the request finishes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM app.stall}), '0', 'every row deleted');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM crm_purge_errors}), 'and the error is gone');
$node->stop;
done_testing();
