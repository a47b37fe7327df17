# After an erase, no crm_purge table, no trash table and no server log line
# holds the erased row's key or contents, and the guard keeps it out.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CrmPurge;

my $node = crm_purge_node('erase', conf => qq{
log_min_messages = debug1
log_min_error_statement = panic
log_statement = 'none'
});
my $key = '7301944';
my $email = 'zz-secret-mail\@example.org';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION crm_purge;
	CREATE TABLE people (id bigint PRIMARY KEY, email text, name text);
	CREATE TABLE mails (id bigint PRIMARY KEY, person_id bigint REFERENCES people ON DELETE CASCADE, body text);
	SELECT crm_purge_protect('people');
	SELECT crm_purge_protect('mails');
	SELECT crm_purge_relate('people', 'mails', 'delete');
	INSERT INTO people VALUES ($key, '$email', 'Secret Name'), (1, 'one\@example.org', 'One');
	INSERT INTO mails VALUES (1, $key, 'Secret body'), (2, 1, 'plain');
	DELETE FROM mails WHERE id = 1;
	SELECT crm_purge_guard('people', 'error');
});
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT crm_purge_erase('people', 'name = ''Secret Name''', 'GDPR request 1')});
is($ret, 0, 'the erase runs') or diag($err);
($ret, $out, $err) = $node->psql('postgres', qq{INSERT INTO people VALUES ($key, 'again', 'x')});
isnt($ret, 0, 'the guard refuses the erased key');
unlike($err, qr/$key/, 'its error does not name the key');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM people WHERE id = $key}), '0', 'the row is gone');

# the highest erased integer key is kept as a number, so that the sequence
# never hands it out again: an id, not the person's data
is($node->safe_psql('postgres', q{SELECT floor FROM crm_purge.key_floors WHERE tbl = 'people'::regclass}),
	$key, 'the key floor is the highest erased id');

# every other crm_purge catalog and every trash table, as text
my $dump = $node->safe_psql('postgres', q{
	DO $$
	DECLARE t record; txt text; all_text text := '';
	BEGIN
		FOR t IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				 WHERE n.nspname IN ('crm_purge', 'crm_trash') AND c.relkind = 'r'
				   AND c.oid <> 'crm_purge.key_floors'::regclass LOOP
			EXECUTE format('SELECT string_agg(x::text, E''\n'') FROM %s x', t.rel) INTO txt;
			all_text := all_text || coalesce(txt, '');
		END LOOP;
		CREATE TEMP TABLE everything AS SELECT all_text AS t;
	END $$;
	SELECT t FROM everything;
});
ok(length($dump) > 0, 'the catalogs were read');
unlike($dump, qr/$key/, 'no crm_purge or trash table holds the key');
unlike($dump, qr/zz-secret|Secret Name|Secret body/, 'nor the contents');

# with the default log settings (set again over the ones above), a re-import of the erased person by INSERT
# and by COPY is refused without their data in the log (no STATEMENT line,
# no COPY context line)
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET log_min_messages = 'warning';
	ALTER SYSTEM SET log_min_error_statement = 'error';
	SELECT pg_reload_conf();
});
is($node->safe_psql('postgres', 'SHOW log_min_error_statement'), 'error', 'default log settings');
($ret, $out, $err) = $node->psql('postgres', qq{INSERT INTO people VALUES ($key, '$email', 'Secret Name')});
isnt($ret, 0, 'INSERT of the erased person is refused');
my $csv = $node->basedir . '/reimport.csv';
open(my $fh, '>', $csv) or die;
print $fh "$key,$email,Secret Name\n";
close($fh);
($ret, $out, $err) = $node->psql('postgres', qq{COPY people FROM '$csv' CSV});
isnt($ret, 0, 'COPY of the erased person is refused');

$node->stop;
my $log = slurp_file($node->logfile);
like($log, qr/belongs to an erased record/, 'the refusals are logged');
unlike($log, qr/$key/, 'no server log line holds the key');
unlike($log, qr/zz-secret|Secret Name|Secret body/, 'nor the contents');
done_testing();
