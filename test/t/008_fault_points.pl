# Deterministic crashes at the two points exactly-once depends on: right
# after a batch's export part is durable but before the batch commits, and
# right after the commit.  For both export storages, every deleted row ends
# up in the export exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;
use Time::HiRes qw(usleep);

my $node = crm_purge_node('faults', conf => qq{
crm_purge.batch_size = 500
crm_purge.idle_batch_size = 500
crm_purge.max_rows_per_request = 1000000
restart_after_crash = on
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION crm_purge;
	CREATE TABLE acts (id int PRIMARY KEY, modified_at timestamptz NOT NULL, note text);
});
my $marker = $node->data_dir . '/crm_purge_fault_armed';

# read_export(request, table, like): the request's export parts, read back
# through crm_purge_export_read, loaded into a new table shaped like another
sub read_export
{
	my ($rid, $table, $like) = @_;
	my @parts = split /\n/, $node->safe_psql('postgres',
		qq{SELECT part FROM crm_purge_export_files($rid) ORDER BY part});
	$node->safe_psql('postgres', qq{DROP TABLE IF EXISTS $table; CREATE TABLE $table (LIKE $like)});
	for my $part (@parts)
	{
		my $csv = $node->safe_psql('postgres', qq{SELECT crm_purge_export_read($rid, $part)});
		my $file = $node->basedir . "/${table}_${rid}_$part.csv";
		open(my $out, '>', $file) or die;
		$csv .= "\n" unless $csv =~ /\n\z/;
		print $out $csv;
		close($out);
		$node->safe_psql('postgres', qq{COPY $table FROM '$file' CSV HEADER});
	}
}
my $req = 0;

for my $storage ('directory', 'database')
{
	for my $point ('export_written', 'batch_committed')
	{
		$req++;
		my $lo = $req * 10000;
		$node->safe_psql('postgres', qq{
			TRUNCATE acts;
			INSERT INTO acts SELECT g, now() - CASE WHEN g % 4 = 0 THEN interval '1 day' ELSE interval '400 days' END,
				'note ' || g FROM generate_series($lo + 1, $lo + 4000) g;
			DROP TABLE IF EXISTS original;
			CREATE TABLE original AS SELECT * FROM acts;
			ALTER SYSTEM SET crm_purge.export_storage = '$storage';
			ALTER SYSTEM SET crm_purge.fault_point = '$point';
			SELECT pg_reload_conf();
		});
		# armed once: the worker crashes the server at the point, the marker goes
		my $log_offset = -s $node->logfile;
		open(my $fh, '>', $marker) or die "cannot arm: $!";
		close($fh);
		my $rid = $node->safe_psql('postgres', q{SELECT crm_purge_request('acts', '100 days')});
		my $waited = 0;
		while (-e $marker && $waited++ < 600) { usleep(100_000); }
		ok(!-e $marker, "$storage/$point: the fault point fired");
		ok($node->poll_query_until('postgres', qq{SELECT status = 'success' FROM crm_purge.requests WHERE id = $rid}),
			"$storage/$point: after crash recovery the request finishes");
		ok($node->log_contains(qr/PANIC:  crm_purge fault point "$point" reached/, $log_offset),
			"$storage/$point: the crash was the fault point's");

		# the export, read back through crm_purge_export_read (both storages)
		read_export($rid, 'exported', 'acts');
		is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM exported}),
			'3000|3000', "$storage/$point: every deleted row is in the export, once");
		is($node->safe_psql('postgres', q{
			SELECT count(*) FROM (SELECT * FROM original EXCEPT SELECT * FROM acts EXCEPT SELECT * FROM exported) lost}),
			'0', "$storage/$point: nothing lost");
		is($node->safe_psql('postgres', qq{SELECT rows_done FROM crm_purge.requests WHERE id = $rid}),
			'3000', "$storage/$point: rows_done adds up");
	}
}

# A partitioned table: the crash comes after the whole partition's export
# is durable, before its DETACH and DROP commit.  After recovery the
# partition is taken again, and its rows are in the export once.
{
	$node->safe_psql('postgres', q{
		ALTER SYSTEM SET crm_purge.export_storage = 'directory';
		ALTER SYSTEM SET crm_purge.fault_point = 'export_written';
		SELECT pg_reload_conf();
		CREATE TABLE pacts (id int, modified_at timestamptz NOT NULL, note text, PRIMARY KEY (id, modified_at))
			PARTITION BY RANGE (modified_at);
		CREATE TABLE pacts_old PARTITION OF pacts FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
		CREATE TABLE pacts_new PARTITION OF pacts FOR VALUES FROM ('2001-01-01') TO ('2200-01-01');
		INSERT INTO pacts SELECT g, timestamptz '2000-01-01' + make_interval(hours => g), 'old ' || g FROM generate_series(1, 2000) g;
		INSERT INTO pacts SELECT g, CASE WHEN g % 2 = 0 THEN timestamptz '2001-06-01' ELSE now() END, 'new ' || g
			FROM generate_series(3001, 4000) g;
		CREATE TABLE poriginal AS SELECT * FROM pacts;
	});
	my $log_offset = -s $node->logfile;
	open(my $fh, '>', $marker) or die "cannot arm: $!";
	close($fh);
	my $rid = $node->safe_psql('postgres', q{SELECT crm_purge_request('pacts', '100 days')});
	my $waited = 0;
	while (-e $marker && $waited++ < 600) { usleep(100_000); }
	ok(!-e $marker, 'partitioned: the fault point fired');
	ok($node->poll_query_until('postgres', qq{SELECT status = 'success' FROM crm_purge.requests WHERE id = $rid}),
		'partitioned: after crash recovery the request finishes');
	ok($node->log_contains(qr/PANIC:  crm_purge fault point "export_written" reached/, $log_offset),
		'partitioned: the crash was the fault point\'s');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'pacts_old'}), '0',
		'partitioned: the old partition was dropped');
	read_export($rid, 'pexported', 'pacts');
	is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM pexported}),
		'2500|2500', 'partitioned: every deleted row is in the export, once');
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT * FROM poriginal EXCEPT SELECT * FROM pacts EXCEPT SELECT * FROM pexported) lost}),
		'0', 'partitioned: nothing lost');
	is($node->safe_psql('postgres', qq{SELECT rows_done FROM crm_purge.requests WHERE id = $rid}),
		'2500', 'partitioned: rows_done adds up');
}

# A crash between a batch's parts and its commit, and the cascade reaching
# nothing when the batch runs again (the children moved meanwhile): the
# first attempt's cascade part stayed on disk, unlisted and never expired,
# holding rows never deleted (review round 55, B55-3).  The worker is kept
# out so that the children move between the crash and the batch's redo.
{
	$node->safe_psql('postgres', q{
		ALTER SYSTEM SET crm_purge.databases = 'nodb';
		ALTER SYSTEM SET crm_purge.export_storage = 'directory';
		ALTER SYSTEM SET crm_purge.fault_point = 'export_written';
		SELECT pg_reload_conf();
		CREATE TABLE ob (id int PRIMARY KEY, modified_at timestamptz NOT NULL);
		CREATE TABLE obc (id int PRIMARY KEY, p int REFERENCES ob ON DELETE CASCADE, secret text);
		INSERT INTO ob SELECT g, now() - interval '400 days' FROM generate_series(1, 100) g;
		INSERT INTO ob VALUES (1000, now());
		INSERT INTO obc SELECT g, g, 'child-secret-' || g FROM generate_series(1, 5) g;
	});
	$node->poll_query_until('postgres', q{SELECT current_setting('crm_purge.databases') = 'nodb'});
	my $rid = $node->safe_psql('postgres', q{SELECT crm_purge_request('ob', '1 year')});
	open(my $fh, '>', $marker) or die "cannot arm: $!";
	close($fh);
	$node->psql('postgres', q{SELECT crm_purge_tick()});
	ok(!-e $marker, 'cascade part: the fault point fired');
	$node->poll_query_until('postgres', q{SELECT true});
	my $dir = $node->safe_psql('postgres', q{SELECT current_setting('data_directory') || '/crm_purge_exports'});
	opendir(my $dh, $dir) or die "cannot read $dir: $!";
	my @before = grep { /_request${rid}_part\d+_public\.obc\.csv$/ } readdir($dh);
	closedir($dh);
	is(scalar(@before), 1, 'cascade part: the crashed attempt left its cascade part');
	$node->safe_psql('postgres', q{UPDATE obc SET p = 1000; SELECT crm_purge_tick()});
	is($node->safe_psql('postgres', qq{SELECT status, rows_done FROM crm_purge.requests WHERE id = $rid}), 'success|100',
		'cascade part: the request ran again without the children');
	opendir($dh, $dir) or die "cannot read $dir: $!";
	my @files = sort grep { /_request${rid}_part/ } readdir($dh);
	closedir($dh);
	my @listed = sort map { s{.*/}{}r } split /\n/, $node->safe_psql('postgres', qq{SELECT path FROM crm_purge_export_files($rid)});
	is("@files", "@listed", 'cascade part: every export file of the request is a listed part');

	# the same for a whole partition's parts: the rows moved out of it before
	# the step ran again, and the request ended with them on disk (review
	# round 56, B56-3)
	$node->safe_psql('postgres', q{
		CREATE TABLE pq (id int, modified_at timestamptz NOT NULL, PRIMARY KEY (id, modified_at)) PARTITION BY RANGE (modified_at);
		CREATE TABLE pq_old PARTITION OF pq FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
		CREATE TABLE pq_new PARTITION OF pq FOR VALUES FROM ('2001-01-01') TO ('2200-01-01');
		INSERT INTO pq SELECT g, timestamptz '2000-01-01' + make_interval(hours => g) FROM generate_series(1, 2000) g;
	});
	$rid = $node->safe_psql('postgres', q{SELECT crm_purge_request('pq', '100 days')});
	open($fh, '>', $marker) or die "cannot arm: $!";
	close($fh);
	$node->psql('postgres', q{SELECT crm_purge_tick()});
	ok(!-e $marker, 'partition parts: the fault point fired');
	$node->poll_query_until('postgres', q{SELECT true});
	opendir($dh, $dir) or die "cannot read $dir: $!";
	my @left = grep { /_request${rid}_part/ } readdir($dh);
	closedir($dh);
	ok(scalar(@left) >= 1, 'partition parts: the crashed attempt left its parts');
	$node->safe_psql('postgres', q{UPDATE pq SET modified_at = now()});
	$node->poll_query_until('postgres', qq{SELECT crm_purge_tick() IS NOT NULL AND status = 'success' FROM crm_purge.requests WHERE id = $rid})
		or die 'the request did not end';
	opendir($dh, $dir) or die "cannot read $dir: $!";
	@files = sort grep { /_request${rid}_part/ } readdir($dh);
	closedir($dh);
	@listed = sort map { s{.*/}{}r } split /\n/, $node->safe_psql('postgres', qq{SELECT path FROM crm_purge_export_files($rid)});
	is("@files", "@listed", 'partition parts: every export file of the request is a listed part');
	$node->safe_psql('postgres', q{
		ALTER SYSTEM RESET crm_purge.databases;
		ALTER SYSTEM RESET crm_purge.fault_point;
		SELECT pg_reload_conf();
	});
}

$node->stop;
done_testing();
