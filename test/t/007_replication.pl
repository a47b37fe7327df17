# A streaming standby receives the trash, the catalogs and the effects of
# requests; nothing of crm_purge runs there; after a failover the promoted
# node's worker finishes the request that was running, and with
# export_storage = database every deleted row is exported exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;

my $conf = qq{
crm_purge.batch_size = 300
crm_purge.idle_batch_size = 300
crm_purge.batch_delay = 100
crm_purge.export_storage = database
crm_purge.max_rows_per_request = 1000000
};
my $primary = crm_purge_node('primary', streaming => 1, conf => $conf);
$primary->safe_psql('postgres', q{
	CREATE EXTENSION crm_purge;
	CREATE TABLE contacts (id int PRIMARY KEY, name text);
	INSERT INTO contacts SELECT g, 'c' || g FROM generate_series(1, 100) g;
	SELECT crm_purge_protect('contacts');
	CREATE TABLE acts (id int PRIMARY KEY, modified_at timestamptz NOT NULL, note text);
	INSERT INTO acts SELECT g, now() - interval '1 year', 'note ' || g FROM generate_series(1, 15000) g;
	CREATE TABLE original AS SELECT * FROM acts;
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{DELETE FROM contacts WHERE id <= 10});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT count(*) FROM crm_trash.public__contacts}), '10',
	'the standby receives the trash');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM crm_purge.protected_tables}), '1',
	'and the catalogs');

$primary->safe_psql('postgres', q{SELECT crm_purge_request('acts', '30 days')});
ok($primary->poll_query_until('postgres',
	q{SELECT rows_done >= 3000 FROM crm_purge.requests WHERE id = 1}), 'the request runs on the primary');
$primary->wait_for_catchup($standby);
ok($standby->safe_psql('postgres', q{SELECT rows_done > 0 FROM crm_purge.requests WHERE id = 1}) eq 't'
	&& $standby->safe_psql('postgres', q{SELECT count(*) < 15000 FROM acts}) eq 't',
	'the standby receives its effects');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'crm_purge%'}),
	'0', 'nothing of crm_purge runs on the standby');

# failover in the middle of the request
is($primary->safe_psql('postgres', q{SELECT status FROM crm_purge.requests WHERE id = 1}), 'in_progress',
	'the primary fails in the middle of the request');
$primary->stop('immediate');
$standby->promote;
ok($standby->poll_query_until('postgres', q{SELECT status = 'success' FROM crm_purge.requests WHERE id = 1}),
	'the promoted node finishes the request');
$standby->safe_psql('postgres', q{
	CREATE TABLE exported (LIKE acts);
	DO $$
	DECLARE p record;
	BEGIN
		FOR p IN SELECT * FROM crm_purge_export_files(1) LOOP
			EXECUTE format('COPY exported FROM PROGRAM %L CSV HEADER',
						   'echo ' || quote_literal(encode(convert_to(crm_purge_export_read(1, p.part), 'UTF8'), 'base64'))
						   || ' | base64 -d');
		END LOOP;
	END $$;
});
is($standby->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM exported}), '15000|15000',
	'every deleted row is exported exactly once across the failover');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM acts}), '0', 'and deleted');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM (SELECT * FROM original EXCEPT SELECT * FROM exported) x}),
	'0', 'as it was');

$standby->stop;
done_testing();
