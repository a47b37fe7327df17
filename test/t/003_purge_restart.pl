# A pending purge survives a restart: it stays pending, and the worker runs
# it by itself once due; unmarked trash and live rows are untouched.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;

my $node = crm_purge_node('purge');
$node->safe_psql('postgres', q{
	CREATE EXTENSION crm_purge;
	CREATE TABLE deals (id int PRIMARY KEY);
	INSERT INTO deals SELECT generate_series(1, 100);
	SELECT crm_purge_protect('deals');
	DELETE FROM deals WHERE id <= 50;
	SELECT crm_purge_mark('deals', 'id <= 30');
});
my $pid = $node->safe_psql('postgres', q{
	SET crm_purge.pending_period = '8s';
	SELECT crm_purge_activate();
});
$node->restart;
is($node->safe_psql('postgres', "SELECT status FROM crm_purge.purges WHERE id = $pid"),
	'pending', 'after a restart the purge is still pending');
is($node->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.public__deals}),
	'50', 'and nothing is purged before it is due');
ok($node->poll_query_until('postgres', "SELECT status = 'done' FROM crm_purge.purges WHERE id = $pid"),
	'the worker runs it when due');
is($node->safe_psql('postgres', q{SELECT min(id), max(id), count(*) FROM crm_trash.public__deals}),
	'31|50|20', 'the marked rows are gone, the others stay in the trash');
is($node->safe_psql('postgres', q{SELECT count(*) FROM deals}), '50', 'live rows are untouched');
is($node->safe_psql('postgres',
	"SELECT string_agg(event, ',' ORDER BY id) FROM crm_purge.notifications WHERE purge_id = $pid AND recipient = current_user"),
	'purge activated,purge done', 'admins were told of the activation and the completion');

$node->stop;
done_testing();
