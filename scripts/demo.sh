#!/usr/bin/env bash
# crm_purge demo: installs what is needed, builds and installs the extension,
# starts a throwaway PostgreSQL cluster (unix socket only, in a temp
# directory) and walks through every feature on a small CRM: recycle bin
# and restore, an export-and-delete request and its CSV, a pending purge and
# its cancellation, a legal hold, erasure with preview and the guard, deletion
# by list.
#
#   sudo bash scripts/demo.sh
#
# Environment: PG_MAJOR (15), PORT (5499), DEMO_DIR (default: a new
# /tmp/crm_purge_demo.XXXXXX), SKIP_APT=1 (never call apt-get).
# The cluster is left running; the script ends by saying how to connect and
# how to stop it.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PORT=${PORT:-5499}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config
PACKAGES=(build-essential "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
          "postgresql-$PG_MAJOR-cron" libipc-run-perl
          libkrb5-dev)  # libpq-be.h includes gssapi/gssapi.h
DB=crm_demo

. "$REPO/scripts/common.sh"
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo bash scripts/demo.sh): it installs packages and runs the cluster as user postgres"

# --- packages ----------------------------------------------------------------
ensure_packages "${PACKAGES[@]}"
[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found"

pg_environment "$PG_BINDIR"

# --- the throwaway directory: build copy, data, socket, log -----------------
if [ -n "${DEMO_DIR:-}" ]; then
	DIR=$DEMO_DIR
	[ -e "$DIR/data" ] && die "$DIR/data already exists; stop that cluster and remove it, or pick another DEMO_DIR"
	mkdir -p "$DIR"
else
	DIR=$(mktemp -d /tmp/crm_purge_demo.XXXXXX)
fi
chown postgres: "$DIR"
chmod 755 "$DIR"
pg() { runuser -u postgres -- env HOME=/var/lib/postgresql "$@"; }

# --- build and install (in a copy, so the checkout gets no root-owned files) -
say "building crm_purge"
copy_tree "$DIR/build" postgres:
pg make -s -C "$DIR/build" PG_CONFIG="$PG_CONFIG"
make -s -C "$DIR/build" install PG_CONFIG="$PG_CONFIG"

# --- the cluster ---------------------------------------------------------------
say "creating a cluster in $DIR/data (port $PORT, unix socket in $DIR, no TCP)"
pg initdb -D "$DIR/data" -U postgres --auth-local=peer --auth-host=reject \
	--encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log"
cat >>"$DIR/data/postgresql.conf" <<EOF

# --- crm_purge demo ---
listen_addresses = ''
port = $PORT
unix_socket_directories = '$DIR'
shared_preload_libraries = 'pg_cron,crm_purge'
cron.database_name = '$DB'
cron.host = '$DIR'            # pg_cron connects through the unix socket: there is no TCP
crm_purge.naptime = '1s'
EOF
pg pg_ctl -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null ||
	{ tail -n 30 "$DIR/server.log"; die "the server did not start"; }
pg createdb -h "$DIR" -p "$PORT" "$DB"

# --- the walk-through ----------------------------------------------------------
say "walk-through (psql -e: each statement, then its result)"
pg psql -X -h "$DIR" -p "$PORT" -d "$DB" -e -v ON_ERROR_STOP=1 -P pager=off <<'SQL'
\set SHOW_CONTEXT never
\echo '\n--- extensions: pg_cron (schedules) and crm_purge'
CREATE EXTENSION pg_cron;
CREATE EXTENSION crm_purge;

\echo '\n--- a small CRM: contacts, their emails (ON DELETE CASCADE), activities (ON DELETE SET NULL)'
CREATE TABLE contacts (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    modified_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE emails (
    id          bigint PRIMARY KEY,
    contact_id  bigint NOT NULL REFERENCES contacts ON DELETE CASCADE,
    subject     text,
    sent_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE activities (
    id          bigint PRIMARY KEY,
    contact_id  bigint REFERENCES contacts ON DELETE SET NULL,
    kind        text NOT NULL,
    note        text
);
INSERT INTO contacts (id, name, email) VALUES
    (1, 'Ada Lovelace',    'ada@example.com'),
    (2, 'Grace Hopper',    'grace@example.com'),
    (3, 'Alan Turing',     'alan@example.org'),
    (4, 'Edsger Dijkstra', 'edsger@example.org'),
    (5, 'Barbara Liskov',  'barbara@example.com');
INSERT INTO emails (id, contact_id, subject) VALUES
    (10, 1, 'Welcome'), (11, 1, 'Invoice 2024-01'),
    (20, 2, 'Welcome'), (21, 2, 'COBOL training'),
    (30, 3, 'Welcome'), (31, 3, 'Meeting notes'), (32, 3, 'Re: Meeting notes'),
    (40, 4, 'Welcome'),
    (50, 5, 'Welcome');
INSERT INTO activities (id, contact_id, kind, note) VALUES
    (100, 1, 'call',    'intro call'),
    (101, 2, 'meeting', 'demo'),
    (102, 3, 'call',    'follow-up'),
    (103, 3, 'task',    'send quote'),
    (104, 5, 'meeting', 'kick-off');

\echo '\n--- protect the three tables: from now on a plain DELETE moves rows into crm_trash'
SELECT crm_purge_protect('contacts');
SELECT crm_purge_protect('emails', retention => interval '30 days');
SELECT crm_purge_protect('activities');

\echo '\n--- the application deletes as always: one plain DELETE'
DELETE FROM contacts WHERE id IN (2, 3);
SELECT * FROM contacts ORDER BY id;

\echo '\n--- the deleted contacts are in the trash, with the same columns plus deleted_at, deleted_by, deletion_id'
SELECT * FROM crm_trash.public__contacts ORDER BY id;

\echo '\n--- the emails removed by ON DELETE CASCADE are in the trash too, with the same deletion_id'
SELECT id, contact_id, subject, deleted_by, deletion_id FROM crm_trash.public__emails ORDER BY id;

\echo '\n--- ON DELETE SET NULL unlinked the activities (crm_purge remembers the links)'
SELECT * FROM activities ORDER BY id;

\echo '\n--- restore one contact by a condition on the trash table'
SELECT crm_purge_restore('contacts', 'id = 2');
SELECT * FROM contacts ORDER BY id;
SELECT id, name, deletion_id FROM crm_trash.public__contacts ORDER BY id;

\echo '\n--- restore everything else that DELETE trashed, across tables, parents first, re-linking activities'
SELECT deletion_id FROM crm_trash.public__contacts LIMIT 1 \gset
SELECT crm_purge_restore_deletion(:deletion_id);
SELECT * FROM contacts ORDER BY id;
SELECT id, contact_id, subject FROM emails ORDER BY id;
SELECT * FROM activities ORDER BY id;
SELECT (SELECT count(*) FROM crm_trash.public__contacts) AS contacts_trash,
       (SELECT count(*) FROM crm_trash.public__emails)   AS emails_trash;

\echo '\n--- what happened (history, without any row contents) and where things stand'
SELECT action, "table", rows, actor, deletion_id FROM crm_purge_history;
SELECT "table", live_rows, trashed_rows, marked_rows, pending_purge_id FROM crm_purge_overview;

\echo '\n--- TRUNCATE would bypass the trash, so it is refused (this error is expected)'
\set ON_ERROR_STOP 0
TRUNCATE emails;
\set ON_ERROR_STOP 1
SELECT count(*) AS emails_still_there FROM emails;

\echo '\n=== 2. bulk export and delete (LeadSquared): emails not sent for a year, exported to CSV, then deleted'
UPDATE emails SET sent_at = now() - interval '2 years' WHERE id IN (11, 21, 31);
SELECT crm_purge_request('emails', interval '1 year', modified_column => 'sent_at') AS request_id \gset
\echo 'the worker runs the request in batches; waiting for it...'
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN (SELECT status FROM crm_purge.requests ORDER BY id DESC LIMIT 1) IN ('success', 'failed');
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT id, status, rows_done FROM crm_purge.requests WHERE id = :request_id;
SELECT batch, rows, outcome FROM crm_purge_report(:request_id);
SELECT part, rows, bytes FROM crm_purge_export_files(:request_id);
\echo 'the exported CSV (a header, then the rows as they were):'
SELECT crm_purge_export_read(:request_id, 1) AS csv;
SELECT id, subject FROM emails ORDER BY id;

\echo '\n=== 3. pending permanent purge (APRO CRM): mark trashed rows, activate, then any admin can cancel'
DELETE FROM activities WHERE id IN (103, 104);
SELECT crm_purge_mark('activities', 'id IN (103, 104)') AS marked;
SELECT crm_purge_activate() AS purge_id \gset
SELECT "table", trashed_rows, marked_rows, pending_purge_id FROM crm_purge_overview WHERE "table" = 'activities'::regclass;
SELECT crm_purge_cancel(:purge_id);
SELECT "table", trashed_rows, marked_rows, pending_purge_id FROM crm_purge_overview WHERE "table" = 'activities'::regclass;
SELECT crm_purge_restore('activities');

\echo '\n=== 4. legal hold: held rows are kept from erasure, purges and requests (the error is expected)'
SELECT crm_purge_hold('contacts', 'id = 5', NULL, 'litigation 2026-4') AS hold_id \gset
\set ON_ERROR_STOP 0
SELECT crm_purge_erase('contacts', 'id = 5', 'GDPR request 7');
\set ON_ERROR_STOP 1
SELECT crm_purge_release(:hold_id);

\echo '\n=== 5. GDPR erasure (HubSpot, Actito): preview, erase, and the guard refuses a re-import (the error is expected)'
SELECT * FROM crm_purge_erase_preview('contacts', 'id = 5');
SELECT crm_purge_guard('contacts', 'error', key_columns => ARRAY['email']);
SELECT email AS erased_email FROM contacts WHERE id = 5 \gset
SELECT crm_purge_erase('contacts', 'id = 5', 'GDPR request 7') AS erased_rows;
SELECT id, name FROM contacts ORDER BY id;
\set ON_ERROR_STOP 0
INSERT INTO contacts (id, name, email) VALUES (5, 'Barbara Liskov', 'barbara@example.com');
\echo 'a sync re-importing the person under a new id is caught by the natural key (email):'
INSERT INTO contacts (id, name, email) VALUES (500, 'B. Liskov', :'erased_email');
\set ON_ERROR_STOP 1
SELECT count(*) AS id_5_live FROM contacts WHERE id = 5;

\echo '\n=== 6. deletion by list (Plecto): delete the keys of a list, each with its outcome'
SELECT * FROM crm_purge_delete_keys('contacts', ARRAY['4', '99']);
SELECT id, name FROM crm_trash.public__contacts ORDER BY id;

\echo '\n=== 7. an ORM deletes in several statements (Django: unlink, children, parent): one transaction, one deletion'
BEGIN;
SET LOCAL crm_purge.deletion_scope = transaction;
SET LOCAL crm_purge.actor = 'jane@example.com';
SET LOCAL crm_purge.reason = 'duplicate account';
UPDATE activities SET contact_id = NULL WHERE contact_id = 1;
DELETE FROM emails WHERE contact_id = 1;
DELETE FROM contacts WHERE id = 1;
COMMIT;
SELECT deletion_id AS orm_deletion FROM crm_trash.public__contacts WHERE id = 1 \gset
SELECT 'contacts' AS trash, id, deletion_id, deletion_actor, deletion_reason FROM crm_trash.public__contacts WHERE deletion_id = :orm_deletion
UNION ALL SELECT 'emails', id, deletion_id, deletion_actor, deletion_reason FROM crm_trash.public__emails WHERE deletion_id = :orm_deletion;
\echo 'one restore brings back the contact, its emails, and the activities the ORM unlinked:'
SELECT crm_purge_restore_deletion(:orm_deletion) AS restored;
SELECT id, contact_id FROM activities ORDER BY id;

\echo '\n--- the history of all of it (never row contents or keys)'
SELECT action, "table", rows, actor, app_actor FROM crm_purge_history;

\echo '\n--- the background worker (expires old trash every crm_purge.naptime); crm_purge_tick() does the same work now'
SELECT pid, backend_type, datname FROM pg_stat_activity WHERE backend_type LIKE 'crm_purge%';
SELECT crm_purge_tick();

\echo '\n=== 8. a trash that stays fast: segments (the newest takes writes unindexed; sealed ones get indexes)'
CREATE TABLE events (id bigint PRIMARY KEY, contact_id bigint, kind text);
INSERT INTO events SELECT g, g % 5 + 1, 'open' FROM generate_series(1, 20000) g;
SELECT crm_purge_protect('events');
DELETE FROM events WHERE id <= 10000;
SET crm_purge.trash_segment_size = '256kB';   -- tiny, for the demo (default 16MB)
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;   -- seals segment 0
DELETE FROM events WHERE id <= 15000;
SELECT crm_purge_tick() ->> 'trash_expired' AS expired;   -- indexes it, seals segment 1
SELECT leaf, segment, sealed_at IS NOT NULL AS sealed, indexed_at IS NOT NULL AS indexed
FROM crm_purge.trash_segments WHERE trash = 'crm_trash.public__events'::regclass ORDER BY segment;
EXPLAIN (COSTS OFF) SELECT * FROM crm_trash.public__events WHERE id = 4242;
SELECT crm_purge_restore('events', 'id = 4242');
RESET crm_purge.trash_segment_size;
SQL

cat <<EOF

=== the demo cluster is still running
  data:     $DIR/data
  log:      $DIR/server.log
  connect:  su postgres -c "psql -h $DIR -p $PORT $DB"
  stop:     su postgres -c "$PG_BINDIR/pg_ctl -D $DIR/data stop"
  remove:   rm -rf $DIR   (after stopping it)
EOF
