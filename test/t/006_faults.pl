# Faults: an immediate shutdown in the middle of trash expiry, of a purge and
# of an erase; a full export directory.  Afterwards every row is in exactly
# one place (live, trash, export) or intentionally gone, and the work ends.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;

my $node = crm_purge_node('faults', conf => qq{
crm_purge.batch_size = 200
crm_purge.idle_batch_size = 200
crm_purge.batch_delay = 50
crm_purge.max_rows_per_request = 1000000
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION crm_purge;
	CREATE TABLE t (id int PRIMARY KEY, modified_at timestamptz NOT NULL DEFAULT now(), note text);
	INSERT INTO t (id, note) SELECT g, repeat('x', 50) FROM generate_series(1, 12000) g;
	SELECT crm_purge_protect('t', '1 hour');
});

# trash expiry, stopped in the middle
$node->safe_psql('postgres', q{
	DELETE FROM t WHERE id <= 6000;
	UPDATE crm_trash.public__t SET deleted_at = now() - interval '2 hours';
	UPDATE crm_purge.trash_segments SET created_at = now() - interval '2 hours';
});
ok($node->poll_query_until('postgres',
	q{SELECT count(*) BETWEEN 1 AND 5800 FROM crm_trash.public__t}, 't'), 'trash expiry is under way');
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM crm_trash.public__t}),
	'after the restart the expiry finishes');
is($node->safe_psql('postgres', q{SELECT count(*), min(id) FROM t}), '6000|6001',
	'live rows are untouched');

# a purge, stopped in the middle
$node->safe_psql('postgres', q{
	DELETE FROM t WHERE id <= 9000;
	SELECT crm_purge_mark('t', 'id <= 8000');
	SET crm_purge.pending_period = 0;
	SELECT crm_purge_activate();
});
ok($node->poll_query_until('postgres',
	q{SELECT status = 'running' FROM crm_purge.purges ORDER BY id DESC LIMIT 1}), 'the purge is under way');
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres',
	q{SELECT status = 'done' FROM crm_purge.purges ORDER BY id DESC LIMIT 1}), 'after the restart the purge finishes');
is($node->safe_psql('postgres', q{SELECT count(*), min(id), max(id) FROM crm_trash.public__t}),
	'1000|8001|9000', 'exactly the unmarked rows stay in the trash');
is($node->safe_psql('postgres', q{SELECT count(*), min(id) FROM t}), '3000|9001', 'live rows are untouched');

# an erase cut short by a crash changes nothing
my $session = $node->background_psql('postgres');
$session->query_safe(q{BEGIN});
$session->query_safe(q{SELECT crm_purge_erase('t', 'id BETWEEN 9001 AND 9100', 'GDPR')});
$node->stop('immediate');
$session->{run}->finish;
$node->start;
is($node->safe_psql('postgres', q{SELECT count(*) FROM t WHERE id BETWEEN 9001 AND 9100}), '100',
	'an erase that did not commit leaves every row in place');
is($node->safe_psql('postgres', q{SELECT count(*) FROM crm_purge.tombstones}), '0', 'and no tombstone');
is($node->safe_psql('postgres', q{SELECT crm_purge_erase('t', 'id BETWEEN 9001 AND 9100', 'GDPR')}), '100',
	'the erase, run again, erases');

# a full export directory fails the request, and deletes nothing unexported
SKIP:
{
	my $dir = $ENV{CRM_PURGE_SMALL_DIR};
	skip 'CRM_PURGE_SMALL_DIR (a small writable file system) is not set', 4
	  unless $dir && -d $dir && -w $dir;
	$node->append_conf('postgresql.conf', "crm_purge.export_directory = '$dir'\n");
	$node->reload;
	$node->safe_psql('postgres', q{
		CREATE TABLE big (id int PRIMARY KEY, modified_at timestamptz NOT NULL, payload text);
		INSERT INTO big SELECT g, now() - interval '1 year', repeat(md5(g::text), 40) FROM generate_series(1, 20000) g;
		CREATE TABLE big_original AS SELECT * FROM big;
		SELECT crm_purge_request('big', '30 days');
	});
	ok($node->poll_query_until('postgres',
		q{SELECT status = 'failed' FROM crm_purge.requests WHERE tbl = 'big'::regclass}),
		'the request fails when the export directory is full');
	like($node->safe_psql('postgres', q{SELECT error FROM crm_purge.requests WHERE tbl = 'big'::regclass}),
		qr/could not (write|create|fsync)/, 'with an error that says why');
	$node->safe_psql('postgres', q{
		CREATE TABLE big_exported (LIKE big);
		DO $$
		DECLARE p record;
		BEGIN
			FOR p IN SELECT * FROM crm_purge_export_files((SELECT id FROM crm_purge.requests WHERE tbl = 'big'::regclass)) LOOP
				EXECUTE format('COPY big_exported FROM %L CSV HEADER', p.path);
			END LOOP;
		END $$;
	});
	is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM big) + (SELECT count(*) FROM big_exported)}),
		'20000', 'every row is live or in the export');
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT * FROM big_original EXCEPT SELECT * FROM big EXCEPT SELECT * FROM big_exported) x}),
		'0', 'nothing was deleted without its export');
}

$node->stop;
done_testing();
