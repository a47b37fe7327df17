# The cluster of the Citus suite: a coordinator and two worker nodes on
# loopback (citus first in shared_preload_libraries, as Citus requires),
# with the roles the tests act as.  skip_all where Citus is not installed.
package CitusTest;
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';
our @EXPORT = qw(citus_cluster);

for my $method (qw(start restart))
{
	my $orig = PostgreSQL::Test::Cluster->can($method);
	no strict 'refs';
	no warnings 'redefine';
	*{"PostgreSQL::Test::Cluster::$method"} = sub {
		local %ENV = %ENV;
		delete $ENV{PGOPTIONS};
		return $orig->(@_);
	};
}

# citus_cluster(extra_conf): ($coord, $w1, $w2, \&as), crm_purge created,
# regress_app (owns schema app and the tables in it; no CREATE on public) and regress_admin (a non-superuser member
# of crm_purge_admin and of regress_app) made.
sub citus_cluster
{
	my ($extra) = @_;
	my $sharedir = `pg_config --sharedir`;
	chomp $sharedir;
	plan skip_all => "Citus is not installed ($sharedir/extension/citus.control is missing): see README, section Citus"
	  unless -e "$sharedir/extension/citus.control";
	my @nodes;
	for my $name (qw(coordinator worker1 worker2))
	{
		my $node = PostgreSQL::Test::Cluster->new($name);
		$node->init;
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus,crm_purge'
listen_addresses = '127.0.0.1'
max_prepared_transactions = 20
max_worker_processes = 20
citus.shard_count = 4
crm_purge.naptime = 1
} . ($extra // ''));
		$node->start;
		$node->safe_psql('postgres', 'CREATE EXTENSION citus');
		push @nodes, $node;
	}
	my ($coord, $w1, $w2) = @nodes;
	$coord->safe_psql('postgres', sprintf(q{
		SELECT citus_set_coordinator_host('127.0.0.1', %d);
		SELECT citus_add_node('127.0.0.1', %d);
		SELECT citus_add_node('127.0.0.1', %d);
	}, $coord->port, $w1->port, $w2->port));
	$coord->safe_psql('postgres', q{
		CREATE EXTENSION crm_purge;
		CREATE ROLE regress_app LOGIN;  -- Citus connects to the worker nodes as the current role
		CREATE ROLE regress_admin LOGIN;
		GRANT crm_purge_admin TO regress_admin;
		GRANT regress_app TO regress_admin;  -- protects the app's tables: a member of their owner
		CREATE SCHEMA app AUTHORIZATION regress_app;  -- its tables; public stays closed (README, Citus)
	});
	# The tests' own sessions find the app's tables and functions unqualified;
	# the servers never get this search_path (Citus's connections would read
	# PGOPTIONS), so nodes are started and restarted without it.
	$ENV{PGOPTIONS} = '-c search_path=app,public';
	# psql as a role, through TCP as Citus's own connections are
	my $as = sub {
		my ($role, $sql, %opt) = @_;
		my ($out, $err);
		# all_sets: the superuser lets the role's SETs reach the worker nodes
		# (crm_purge.citus_set_propagation), to try crm_purge's own checks
		my $pre = $opt{all_sets} ? "SET crm_purge.citus_set_propagation = 'all';\n" : '';
		my $rc = $coord->psql('postgres', "${pre}SET ROLE $role;\n$sql", stdout => \$out, stderr => \$err,
			on_error_stop => 1);
		return $opt{err} ? $err : ($rc == 0 ? $out : die "as $role failed: $err\n$sql");
	};
	return ($coord, $w1, $w2, $as);
}

1;
