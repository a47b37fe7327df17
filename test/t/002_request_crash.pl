# An export_and_delete request run by the worker, with the server stopped
# by -m immediate twice in the middle: it resumes by itself, and at the end
# every deleted row is in the export exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;

my $node = crm_purge_node('crash', conf => qq{
crm_purge.batch_size = 500
crm_purge.idle_batch_size = 500
crm_purge.batch_delay = 100
crm_purge.max_rows_per_request = 1000000
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION crm_purge;
	CREATE TABLE acts (id int PRIMARY KEY, modified_at timestamptz NOT NULL, note text);
	INSERT INTO acts
		SELECT g, now() - CASE WHEN g % 3 = 0 THEN interval '1 day' ELSE interval '400 days' END,
		       CASE WHEN g % 7 = 0 THEN 'a, "quoted"' || E'\n' || 'note' ELSE 'note ' || g END
		FROM generate_series(1, 30000) g;
	CREATE TABLE original AS SELECT * FROM acts;
});
my $rid = $node->safe_psql('postgres', q{SELECT crm_purge_request('acts', '100 days')});
is($rid, '1', 'the request is queued');
ok($node->poll_query_until('postgres',
	q{SELECT status = 'in_progress' AND rows_done > 0 FROM crm_purge.requests WHERE id = 1}),
	'the worker picks the request up by itself');

for my $round (1 .. 2)
{
	my ($status, $before) = split /\|/,
	  $node->safe_psql('postgres', q{SELECT status, rows_done FROM crm_purge.requests WHERE id = 1});
	is($status, 'in_progress', "stop $round comes in the middle of the request (at $before rows)");
	$node->stop('immediate');
	$node->start;
	ok($node->poll_query_until('postgres',
		qq{SELECT rows_done > $before OR status = 'success' FROM crm_purge.requests WHERE id = 1}),
		"after immediate stop $round the request goes on");
}
ok($node->poll_query_until('postgres', q{SELECT status = 'success' FROM crm_purge.requests WHERE id = 1}),
	'the request finishes');

# load the export back
$node->safe_psql('postgres', q{
	CREATE TABLE exported (LIKE acts);
	DO $$
	DECLARE p record;
	BEGIN
		FOR p IN SELECT * FROM crm_purge_export_files(1) LOOP
			EXECUTE format('COPY exported FROM %L CSV HEADER', p.path);
		END LOOP;
	END $$;
});
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM exported}),
	'20000|20000', 'every deleted row is in the export, once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT * FROM original EXCEPT SELECT * FROM acts EXCEPT SELECT * FROM exported) lost}),
	'0', 'nothing was lost: each row is live or exported');
is($node->safe_psql('postgres', q{SELECT count(*) FROM (SELECT * FROM exported INTERSECT SELECT * FROM acts) x}),
	'0', 'no row is both live and exported');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT * FROM exported EXCEPT SELECT * FROM original) changed}),
	'0', 'the export holds the rows as they were, newlines and quotes included');
is($node->safe_psql('postgres', q{SELECT rows_done, (SELECT sum(rows) FROM crm_purge_export_files(1)) FROM crm_purge.requests WHERE id = 1}),
	'20000|20000', 'the request counts them right');
is($node->safe_psql('postgres', q{
	SELECT bool_and(sha256 = encode(sha256(convert_to(crm_purge_export_read(1, part), 'UTF8')), 'hex'))
	FROM crm_purge_export_files(1)}), 't', 'every part matches its checksum');
like($node->safe_psql('postgres', q{SELECT max(finished_at - started_at) FROM crm_purge_report(1)}),
	qr/^00:00:0/, 'no batch transaction took a second');
# analyze_count counts ANALYZE commands only (autovacuum has its own counter)
ok($node->poll_query_until('postgres',
	q{SELECT r.analyzed_at IS NOT NULL AND s.analyze_count > 0
	  FROM crm_purge.requests r, pg_stat_user_tables s WHERE r.id = 1 AND s.relname = 'acts'}),
	'the table was analyzed at the end, in a transaction of its own');

$node->stop;
done_testing();
