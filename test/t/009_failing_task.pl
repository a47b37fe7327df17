# A piece of due work that always fails (here: one table's trash expiry,
# guarded by a legal hold that cannot be checked) is shown in
# crm_purge_errors and retried with backoff, while the worker goes on with
# everything else: another table's expiry, a request, a pending purge.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;

my $node = crm_purge_node('failing');
$node->safe_psql('postgres', q{
	CREATE EXTENSION crm_purge;
	CREATE ROLE former LOGIN IN ROLE crm_purge_admin;
	CREATE TABLE stuck (id int PRIMARY KEY);
	CREATE TABLE expires (id int PRIMARY KEY);
	CREATE TABLE requested (id int PRIMARY KEY, modified_at timestamptz NOT NULL DEFAULT now() - interval '1 year');
	CREATE TABLE purged (id int PRIMARY KEY);
	INSERT INTO stuck SELECT generate_series(1, 10);
	INSERT INTO expires SELECT generate_series(1, 10);
	INSERT INTO requested SELECT generate_series(1, 10);
	INSERT INTO purged SELECT generate_series(1, 10);
	GRANT SELECT ON stuck TO former;
	SELECT crm_purge_protect('stuck', '1 second');
	SELECT crm_purge_protect('expires', '1 second');
	SELECT crm_purge_protect('purged');
	SET ROLE former;
	SELECT crm_purge_hold('stuck', 'id = 1', NULL, 'audit');
	RESET ROLE;
	REVOKE crm_purge_admin FROM former;
	DELETE FROM stuck;
	DELETE FROM expires;
	DELETE FROM purged;
	SET crm_purge.pending_period = 0;
	SELECT crm_purge_mark('purged', 'true');
	SELECT crm_purge_activate();
	SELECT crm_purge_request('requested', '30 days', 'delete_only');
});
ok($node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM crm_trash.public__expires) = 0
	   AND (SELECT count(*) FROM crm_trash.public__purged) = 0
	   AND (SELECT status FROM crm_purge.requests) = 'success'
	   AND (SELECT status FROM crm_purge.purges) = 'done'}),
	'expiry of another table, the request and the purge all ran');
is($node->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.public__stuck}), '10',
	'the table whose hold cannot be checked keeps its trash');
ok($node->poll_query_until('postgres', q{
	SELECT retries >= 1 FROM crm_purge_errors WHERE task = 'trash expiry' AND "table" = 'stuck'::regclass}),
	'its failure is on view and retried');
like($node->safe_psql('postgres', q{SELECT error FROM crm_purge_errors}), qr/legal hold \d+ on table public.stuck cannot be checked/,
	'with its error');
is($node->safe_psql('postgres', q{SELECT next_try > since FROM crm_purge_errors}), 't', 'with backoff');
# fixed: the error goes, the trash expires
$node->safe_psql('postgres', q{GRANT crm_purge_admin TO former; DELETE FROM crm_purge.errors});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM crm_trash.public__stuck}),
	'once the hold can be checked, the rest expires and the held row stays');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM crm_purge_errors}), 'and the error is gone');
$node->stop;
done_testing();
