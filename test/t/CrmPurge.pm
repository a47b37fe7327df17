# Shared set-up of the TAP tests: a started node with crm_purge preloaded.
package CrmPurge;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(crm_purge_node);

# crm_purge_node(NAME, conf => 'extra settings', cron => 1, streaming => 1):
# crm_purge (and with cron, pg_cron for database "crm") preloaded, the
# worker looking for work every second.
sub crm_purge_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init($opt{streaming} ? (allows_streaming => 1) : ());
	my $conf = "shared_preload_libraries = '" . ($opt{cron} ? 'pg_cron,' : '') . "crm_purge'\n"
	  . "crm_purge.naptime = 1\nmax_worker_processes = 20\n";
	$conf .= "cron.database_name = 'crm'\ncron.use_background_workers = on\n" if $opt{cron};
	$node->append_conf('postgresql.conf', $conf . ($opt{conf} // ''));
	$node->start;
	return $node;
}

1;
