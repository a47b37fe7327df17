# A Citus node drained and removed in the middle of a request: the request
# ends, every old row deleted and counted once, the placements of the removed
# node taken as they last reported.  (A cluster of its own: draining moves
# every table's shards.)
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
});
sub as { $as->(@_) }
$coord->safe_psql('postgres', q{ALTER SYSTEM SET crm_purge.databases = 'no_such_database'; SELECT pg_reload_conf()});
as('regress_app', q{
	CREATE TABLE drained (account_id int, id int, modified_at timestamptz, PRIMARY KEY (account_id, id));
	SELECT create_distributed_table('drained', 'account_id');
	INSERT INTO drained SELECT g % 40, g, now() - (CASE WHEN g % 2 = 0 THEN 60 ELSE 1 END) * interval '1 day'
	FROM generate_series(1, 8000) g;
	GRANT SELECT, DELETE ON drained TO regress_admin;
});
my $id = as('regress_admin', q{SELECT crm_purge_request('drained', '30 days', 'delete_only', 'modified_at')});
# two steps: the placements recorded, then a first batch on each
as('regress_admin', q{SELECT crm_purge._tick_step(false)}) for 1 .. 2;
ok($coord->safe_psql('postgres', "SELECT rows_done FROM crm_purge.requests WHERE id = $id") > 0, 'the request is under way');
$coord->safe_psql('postgres', sprintf(q{SELECT citus_drain_node('127.0.0.1', %d, shard_transfer_mode => 'block_writes')}, $w2->port));
$coord->safe_psql('postgres', 'CALL citus_cleanup_orphaned_resources()');
$coord->safe_psql('postgres', sprintf(q{SELECT citus_remove_node('127.0.0.1', %d)}, $w2->port));
my $status = '';
for (1 .. 100)
{
	as('regress_admin', q{SELECT crm_purge._tick_step(false)});
	$status = $coord->safe_psql('postgres', "SELECT status FROM crm_purge.requests WHERE id = $id");
	last if $status =~ /success|failed/;
}
is($status, 'success', 'a request whose node was drained and removed ends');
is($coord->safe_psql('postgres', "SELECT rows_done || ' ' || (SELECT count(*) FROM drained WHERE modified_at < now() - interval '30 days')
	FROM crm_purge.requests WHERE id = $id"), '4000 0', 'every old row deleted, each counted once');
like($coord->safe_psql('postgres', "SELECT string_agg(outcome, ' / ') FROM crm_purge_report($id)"),
	qr/placements on removed nodes taken as last reported/, 'the report says so');
done_testing();
