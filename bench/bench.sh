#!/usr/bin/env bash
# crm_purge benchmarks against plain-SQL baselines, on a throwaway cluster.
#
#   sudo bash bench/bench.sh
#
# Environment:
#   ROWS=1000000        rows loaded into the table of each run
#   RUNS=3              how many times each variant runs (interleaved a,b,c,a,b,c,...)
#   SCENARIOS="delete_half requests guard guard_copy partitions scale load trash_lookup"   scenario functions to run (scenario_<name>)
#   TRASH_ROWS=10000000  rows in the trash of the trash_lookup scenario
#   LOAD_ROWS=1000000 LOAD_SECS=40   the load scenario: rows the request takes, seconds of pgbench
#   PART_ROWS=10000000   rows of the partitions scenario
#   EXTRA_SETTINGS="crm_purge.batch_size = 2500"   more postgresql.conf lines (';'-separated)
#   PG_MAJOR=15  PORT=5498  SKIP_APT=1 (never call apt-get)  KEEP_CLUSTER=1 (leave it running)
#
# Every variant of every scenario runs on the same cluster with the same
# settings; each run gets a freshly loaded, vacuumed and analyzed table and a
# CHECKPOINT right before the timed statement.
set -euo pipefail

ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-delete_half requests guard guard_copy}
PG_MAJOR=${PG_MAJOR:-15}
PORT=${PORT:-5498}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config
PACKAGES=(build-essential "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" python3-psycopg2)
DB=bench

# Server settings, identical for every variant.
SETTINGS=(
	"shared_buffers = '1GB'"
	"max_wal_size = '4GB'"
	"checkpoint_timeout = '30min'"
	"synchronous_commit = on"
	"shared_preload_libraries = 'crm_purge'"
	"crm_purge.naptime = '1s'"
	"autovacuum = off"
	"jit = off"
)

. "$REPO/scripts/common.sh"
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo bash bench/bench.sh): it runs its cluster as user postgres"
[[ "$ROWS" =~ ^[0-9]+$ ]] && [ "$ROWS" -ge 2 ] || die "ROWS must be an integer >= 2"
[[ "$RUNS" =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] || die "RUNS must be an integer >= 1"

# --- packages, build, install ---------------------------------------------------
ensure_packages "${PACKAGES[@]}"
[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found"

pg_environment "$PG_BINDIR"

DIR=$(mktemp -d /tmp/crm_purge_bench.XXXXXX)
chown postgres: "$DIR"
chmod 755 "$DIR"
pg() { runuser -u postgres -- env HOME=/var/lib/postgresql "$@"; }

cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ -f "$DIR/server.log" ]; then
		echo "bench.sh failed; the last lines of $DIR/server.log:" >&2
		tail -n 40 "$DIR/server.log" >&2
		echo "the cluster directory is kept: $DIR" >&2
		KEEP_CLUSTER=1
	fi
	if [ -n "${KEEP_CLUSTER:-}" ]; then
		echo "cluster left running: su postgres -c \"psql -h $DIR -p $PORT $DB\"; stop: su postgres -c \"pg_ctl -D $DIR/data stop\""
		return
	fi
	[ -f "$DIR/data/postmaster.pid" ] && pg pg_ctl -D "$DIR/data" -m fast -w stop >/dev/null 2>&1
	rm -rf "$DIR"
}
trap cleanup EXIT

say "building crm_purge"
copy_tree "$DIR/build" postgres:
pg make -s -C "$DIR/build" PG_CONFIG="$PG_CONFIG"
make -s -C "$DIR/build" install PG_CONFIG="$PG_CONFIG"

# --- the cluster -------------------------------------------------------------
pg initdb -D "$DIR/data" -U postgres --auth-local=peer --auth-host=reject \
	--encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log"
{
	echo
	echo "# --- crm_purge bench ---"
	echo "listen_addresses = ''"
	echo "port = $PORT"
	echo "unix_socket_directories = '$DIR'"
	printf '%s\n' "${SETTINGS[@]}"
	# EXTRA_SETTINGS: more lines for postgresql.conf, to compare settings (separated by ';')
	if [ -n "${EXTRA_SETTINGS:-}" ]; then printf '%s\n' "${EXTRA_SETTINGS//;/$'\n'}"; fi
} >>"$DIR/data/postgresql.conf"
pg pg_ctl -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null ||
	{ tail -n 30 "$DIR/server.log"; die "the server did not start"; }
pg createdb -h "$DIR" -p "$PORT" "$DB"

# psql on the bench database: quiet, unaligned, stop on error.
sql() { pg psql -X -q -At -h "$DIR" -p "$PORT" -d "$DB" -v ON_ERROR_STOP=1 "$@"; }

sql -c "CREATE EXTENSION crm_purge" >/dev/null

say "environment"
echo "machine:     $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo) RAM"
echo "postgres:    $(sql -c 'SELECT version()')"
echo "crm_purge:   $(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'crm_purge'")"
echo "settings:"
sql -F ' = ' -c "SELECT name, current_setting(name) FROM pg_settings
	WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'synchronous_commit',
				   'wal_level', 'fsync', 'full_page_writes', 'wal_compression', 'autovacuum', 'jit',
				   'shared_preload_libraries', 'work_mem', 'maintenance_work_mem')
	ORDER BY name" | sed 's/^/  /'
echo "rows=$ROWS runs=$RUNS scenarios: $SCENARIOS"

# --- shared helpers ------------------------------------------------------------

# Drops everything a previous run left behind.
reset_db() {
	sql >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS t CASCADE;
DROP TABLE IF EXISTS t_trash;
DROP TABLE IF EXISTS crm_trash.public__t;
DROP FUNCTION IF EXISTS t_trash_fn();
DROP SEQUENCE IF EXISTS t_trash_deletion_id;
SQL
}

# Creates and loads t with $ROWS rows (~100 bytes of payload each).
# SHAPE=packed: the older half of the rows are the first half of the table;
# SHAPE=scattered: the same timestamps permuted over the table (i * 7919
# mod ROWS), so the older half is spread over every block.
load_t() {
	sql -v rows="$ROWS" -v shape="${SHAPE:-packed}" >/dev/null <<'SQL'
CREATE TABLE t (
	id          bigint PRIMARY KEY,
	modified_at timestamptz NOT NULL,
	name        text,
	email       text,
	note        text
);
INSERT INTO t
SELECT i,
	   timestamptz '2024-01-01' + CASE WHEN :'shape' = 'scattered' THEN (i::bigint * 7919) % :rows + 1 ELSE i END
								  * interval '1 minute',
	   'Contact ' || lpad(i::text, 12, '0'),                  -- 20 bytes
	   'contact' || i || '@example.com',                      -- ~25 bytes
	   md5(i::text) || ' ' || repeat(chr(97 + i % 26), 21)    -- 54 bytes
FROM generate_series(1, :rows) AS i;
SQL
}

# Vacuums and analyzes the given tables, then checkpoints.
settle() {
	local t
	for t in "$@"; do sql -c "VACUUM ANALYZE $t"; done
	sql -c "CHECKPOINT"
}

# Runs one statement in a fresh session and prints its wall time in ms,
# measured with clock_timestamp() around it (the commit included).
time_statement() {
	sql -v stmt="$1" <<'SQL'
SELECT clock_timestamp() AS t0 \gset
\o /dev/null
:stmt ;
\o
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1);
SQL
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# check NAME VALUE LIMIT: prints a target line with PASS or MISS
check() { awk -v n="$1" -v v="$2" -v l="$3" 'BEGIN {printf "  %-28s %6.2f  (target <= %.2f)  %s\n", n, v, l, (v <= l) ? "PASS" : "MISS"}'; }

# --- scenario: DELETE half of the rows -------------------------------------------
# (a) unprotected; (b) a hand-written PL/pgSQL statement trigger with a
# transition table filling a plain trash table (no indexes); (c) crm_purge.

delete_half_prepare() {
	reset_db
	load_t
	case $1 in
	a) settle t ;;
	b)
		sql -v tbl=t -f "$REPO/bench/handwritten_trigger.sql" >/dev/null
		settle t t_trash ;;
	c)
		sql -c "SELECT crm_purge_protect('t')" >/dev/null
		settle t crm_trash.public__t ;;
	esac
}

delete_half_check() {
	local live trash expected=$((ROWS - ROWS / 2))
	live=$(sql -c "SELECT count(*) FROM t")
	case $1 in
	a) trash=0 ;;
	b) trash=$(sql -c "SELECT count(*) FROM t_trash") ;;
	c) trash=$(sql -c "SELECT count(*) FROM crm_trash.public__t") ;;
	esac
	[ "$live" -eq "$expected" ] || die "variant $1: $live live rows left, expected $expected"
	if [ "$1" != a ] && [ "$trash" -ne $((ROWS / 2)) ]; then
		die "variant $1: $trash rows in the trash, expected $((ROWS / 2))"
	fi
}

scenario_delete_half() {
	say "scenario delete_half: DELETE FROM t WHERE id % 2 = 0 ($((ROWS / 2)) of $ROWS rows)"
	echo "  a = unprotected, b = PL/pgSQL statement trigger into a plain trash table, c = crm_purge_protect"
	local run v ms
	local -a A=() B=() C=()
	for ((run = 1; run <= RUNS; run++)); do
		for v in a b c; do
			delete_half_prepare "$v"
			ms=$(time_statement 'DELETE FROM t WHERE id % 2 = 0')
			delete_half_check "$v"
			printf '  run %d  %s  %10.1f ms\n' "$run" "$v" "$ms"
			case $v in a) A+=("$ms") ;; b) B+=("$ms") ;; c) C+=("$ms") ;; esac
		done
	done
	local ma mb mc
	ma=$(median "${A[@]}"); mb=$(median "${B[@]}"); mc=$(median "${C[@]}")
	echo "  medians: a = $ma ms, b = $mb ms, c = $mc ms"
	check "c/b (crm_purge/trigger)" "$(ratio "$mc" "$mb")" 0.8
	check "c/a (crm_purge/unprotected)" "$(ratio "$mc" "$ma")" 2.5
	reset_db
}

# --- scenario: bulk requests against one plain statement -----------------------
# Half the rows (the older half) go.  (p) one plain DELETE; (r) a delete_only
# request run by the worker, from its started_at to its finished_at; (q) one
# COPY (DELETE ... RETURNING *) TO a file; (e) an export_and_delete request.

boundary="timestamptz '2024-01-01' + $((ROWS / 2)) * interval '1 minute' + interval '30 seconds'"

# wait_request ID: until the worker finished request ID (an hour at most),
# told by NOTIFY crm_purge (bench/wait_request.py): polling ran statements
# that crm_purge.app_yield counts as an application at work when one ran as
# a batch ended (the worker then pauses: a delete_only request once took
# 1.9 s instead of 0.4 s), and took CPU from the worker.  The time measured
# is the request's own started_at to finished_at.
wait_request() {
	pg /usr/bin/python3 "$REPO/bench/wait_request.py" "$DIR" "$PORT" "$DB" "$1" ||
		die "request $1: $(sql -c "SELECT status || ' ' || coalesce(error, '') FROM crm_purge.requests WHERE id = $1")"
}

run_request() {
	local mode=$1 id
	id=$(sql -c "SET crm_purge.max_rows_per_request = $ROWS" -c "SET crm_purge.max_queued_rows = $ROWS" \
		-c "SELECT crm_purge_request('t', now() - ($boundary), '$mode')")
	wait_request "$id"
	[ "$(sql -c "SELECT rows_done FROM crm_purge.requests WHERE id = $id")" -eq $((ROWS / 2)) ] ||
		die "request $id did not delete $((ROWS / 2)) rows"
	# prints: total ms (started_at to finished_at), longest batch ms
	sql -F ' ' -c "SELECT round(extract(epoch FROM r.finished_at - r.started_at) * 1000, 1),
		(SELECT round(extract(epoch FROM max(b.finished_at - b.started_at)) * 1000, 1)
		 FROM crm_purge.request_batches b WHERE b.request_id = r.id)
		FROM crm_purge.requests r WHERE r.id = $id"
}

scenario_requests() {
	local shape
	for shape in packed scattered; do
		SHAPE=$shape requests_shape
	done
}

requests_shape() {
	say "scenario requests ($SHAPE): the older $((ROWS / 2)) of $ROWS rows, batch_size $(sql -c 'SHOW crm_purge.batch_size')"
	echo "  p = DELETE, r = delete_only request (worker), q = COPY (DELETE ... RETURNING *) TO file, e = export_and_delete request (worker)"
	local run v ms longest_r=0 longest_e=0
	local -a P=() R=() Q=() E=()
	for ((run = 1; run <= RUNS; run++)); do
		for v in p r q e; do
			reset_db
			load_t
			settle t
			case $v in
			p) ms=$(time_statement "DELETE FROM t WHERE modified_at < $boundary") ;;
			q) ms=$(time_statement "COPY (DELETE FROM t WHERE modified_at < $boundary RETURNING *) TO '$DIR/copy.csv' CSV HEADER") ;;
			r) read -r ms longest_r < <(run_request delete_only) ;;
			e) read -r ms longest_e < <(run_request export_and_delete) ;;
			esac
			[ "$(sql -c 'SELECT count(*) FROM t')" -eq $((ROWS - ROWS / 2)) ] || die "variant $v left the wrong rows"
			printf '  run %d  %s  %10.1f ms\n' "$run" "$v" "$ms"
			case $v in p) P+=("$ms") ;; r) R+=("$ms") ;; q) Q+=("$ms") ;; e) E+=("$ms") ;; esac
		done
		rm -f "$DIR/copy.csv"
		rm -rf "$DIR/data/crm_purge_exports"
	done
	local mp mr mq me
	mp=$(median "${P[@]}"); mr=$(median "${R[@]}"); mq=$(median "${Q[@]}"); me=$(median "${E[@]}")
	echo "  medians: p = $mp ms, r = $mr ms, q = $mq ms, e = $me ms"
	echo "  longest batch transaction: delete_only $longest_r ms, export_and_delete $longest_e ms (last run)"
	check "r/p (delete_only/DELETE)" "$(ratio "$mr" "$mp")" 1.0
	check "e/q (export/COPY DELETE)" "$(ratio "$me" "$mq")" 1.10
	reset_db
}

# --- scenarios: loads through the re-import guard --------------------------------
# (l) no guard; (g) crm_purge_guard('skip'); 1 of every 100 loaded keys was
# erased before.

# guard_prepare N: table g, with keys 1, 101, 201, ... <= N tombstoned
guard_prepare() {
	sql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS g;
CREATE TABLE g (id bigint PRIMARY KEY, name text, email text);
INSERT INTO g SELECT i, 'x', 'y' FROM generate_series(1, $1, 100) i;
SELECT crm_purge_erase('g', 'true', 'bench');
SQL
}

# guard_compare N STATEMENT LABEL: STATEMENT loads keys 1..N into an empty g,
# without and with the guard, interleaved RUNS times; prints the ratio
guard_compare() {
	local n=$1 stmt=$2 label=$3 run v ms
	local -a L=() G=()
	echo "  l = no guard, g = crm_purge_guard (skip)"
	for ((run = 1; run <= RUNS; run++)); do
		for v in l g; do
			sql -c "TRUNCATE g" >/dev/null
			if [ "$v" = g ]; then sql -c "SELECT crm_purge_guard('g')" >/dev/null;
			else sql -c "SET client_min_messages = warning" -c "DROP TRIGGER IF EXISTS crm_purge_guard ON g" >/dev/null; fi
			sql -c "CHECKPOINT"
			ms=$(time_statement "SET client_min_messages = warning; $stmt")
			if [ "$v" = g ]; then
				[ "$(sql -c 'SELECT count(*) FROM g')" -eq $((n - (n + 99) / 100)) ] || die "the guard let erased keys in"
			fi
			printf '  run %d  %s  %10.1f ms\n' "$run" "$v" "$ms"
			case $v in l) L+=("$ms") ;; g) G+=("$ms") ;; esac
		done
	done
	local ml mg
	ml=$(median "${L[@]}"); mg=$(median "${G[@]}")
	echo "  medians: l = $ml ms, g = $mg ms"
	check "$label" "$(ratio "$mg" "$ml")" 1.3
	sql -c "DROP TABLE g" >/dev/null
}

# 100,000 rows loaded by one INSERT ... SELECT
scenario_guard() {
	local n=100000
	say "scenario guard: INSERT of $n rows, $((n / 100)) of their keys tombstoned"
	guard_prepare $n
	guard_compare $n "INSERT INTO g SELECT i, 'Contact ' || i, 'contact' || i || '@example.com' FROM generate_series(1, $n) i" \
		"g/l (guard/no guard)"
}

# 300,000 rows by one COPY FROM a file.  A BEFORE ROW trigger would turn off
# COPY's multi-insert; guard_copy.c keeps it.
scenario_guard_copy() {
	local n=300000
	say "scenario guard_copy: COPY of $n rows, $((n / 100)) of their keys tombstoned"
	guard_prepare $n
	sql -c "COPY (SELECT i, 'Contact ' || i, 'contact' || i || '@example.com' FROM generate_series(1, $n) i)
		TO '$DIR/guard_copy.csv' CSV" >/dev/null
	guard_compare $n "COPY g FROM '$DIR/guard_copy.csv' CSV" "g/l (guard COPY/COPY)"
	rm -f "$DIR/guard_copy.csv"
}

# --- scenario: a request on a partitioned table ---------------------------------
# PART_ROWS rows (default 10,000,000) in 24 monthly partitions; the oldest 12
# go.  (d) DETACH + DROP of those partitions; (r) a delete_only request;
# (c) COPY of each to a file, then DETACH + DROP; (e) an export_and_delete
# request.  A partition whose rows are all older than the cutoff is exported
# COPY-style and dropped whole by the request.

load_parts() {
	local n=$1
	sql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS p CASCADE;
CREATE TABLE p (id bigint, modified_at timestamptz NOT NULL, account_id int, note text,
                PRIMARY KEY (id, modified_at)) PARTITION BY RANGE (modified_at);
DO \$\$
BEGIN
	FOR m IN 0 .. 23 LOOP
		EXECUTE format('CREATE TABLE p_%s PARTITION OF p FOR VALUES FROM (%L) TO (%L)', m + 1,
					   timestamptz '2024-01-01' + make_interval(months => m),
					   timestamptz '2024-01-01' + make_interval(months => m + 1));
	END LOOP;
END
\$\$;
INSERT INTO p SELECT i, timestamptz '2024-01-01' + make_interval(months => (i % 24)::int) + make_interval(mins => (i / 24) % 40000),
                     (i % 1000)::int, 'note ' || i
FROM generate_series(0, $n - 1) i;
SQL
}

scenario_partitions() {
	local n=${PART_ROWS:-10000000} run v ms i stmt id keep
	local -a D=() R=() C=() E=()
	say "scenario partitions: $n rows in 24 monthly partitions, the oldest 12 go"
	echo "  d = DETACH + DROP, r = delete_only request (worker), c = COPY each to a file + DETACH + DROP, e = export_and_delete request (worker)"
	for ((run = 1; run <= RUNS; run++)); do
		for v in d r c e; do
			reset_db
			load_parts "$n"
			settle p
			keep=$(sql -c "SELECT count(*) FROM p WHERE modified_at >= '2025-01-01'")
			case $v in
			d|c)
				stmt=""
				for ((i = 1; i <= 12; i++)); do
					[ "$v" = c ] && stmt+="COPY p_$i TO '$DIR/p_$i.csv' CSV HEADER; "
					stmt+="ALTER TABLE p DETACH PARTITION p_$i; DROP TABLE p_$i; "
				done
				ms=$(time_statement "$stmt") ;;
			r|e)
				id=$(sql -c "SET crm_purge.max_rows_per_request = $n" -c "SET crm_purge.max_queued_rows = $n" \
					-c "SELECT crm_purge_request('p', now() - timestamptz '2025-01-01', '$([ "$v" = r ] && echo delete_only || echo export_and_delete)')")
				wait_request "$id"
				ms=$(sql -c "SELECT round(extract(epoch FROM finished_at - started_at) * 1000, 1) FROM crm_purge.requests WHERE id = $id") ;;
			esac
			[ "$(sql -c 'SELECT count(*) FROM p')" -eq "$keep" ] || die "variant $v left the wrong rows"
			[ "$(sql -c "SELECT count(*) FROM pg_class WHERE relname ~ '^p_[0-9]+\$'")" -eq 12 ] || die "variant $v left the wrong partitions"
			printf '  run %d  %s  %10.1f ms\n' "$run" "$v" "$ms"
			case $v in d) D+=("$ms") ;; r) R+=("$ms") ;; c) C+=("$ms") ;; e) E+=("$ms") ;; esac
			rm -f "$DIR"/p_*.csv
			rm -rf "$DIR/data/crm_purge_exports"
		done
	done
	local md mr mc me
	md=$(median "${D[@]}"); mr=$(median "${R[@]}"); mc=$(median "${C[@]}"); me=$(median "${E[@]}")
	echo "  medians: d = $md ms, r = $mr ms, c = $mc ms, e = $me ms"
	check "r/d (delete_only/DROP)" "$(ratio "$mr" "$md")" 1.2
	check "e/c (export/COPY+DROP)" "$(ratio "$me" "$mc")" 1.2
	sql -c "DROP TABLE IF EXISTS p CASCADE" >/dev/null
}

# --- scenario: the shape of a request's cost ------------------------------------
# The same 100,000 old rows in tables of 1,000,000 and 10,000,000 rows, with
# modified_at indexed: the request's time should grow with the rows it
# deletes, not with the table (the index scan starts at the oldest row).
scenario_scale() {
	local n ms id
	say "scenario scale: a delete_only request for the same 100000 old rows in tables of 1M and 10M rows (modified_at indexed)"
	for n in 1000000 10000000; do
		reset_db
		sql >/dev/null <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, modified_at timestamptz NOT NULL, note text);
INSERT INTO t SELECT i, CASE WHEN i <= 100000 THEN timestamptz '2020-01-01' ELSE now() END + i * interval '1 second',
                     'note ' || i FROM generate_series(1, $n) i;
CREATE INDEX ON t (modified_at);
SQL
		settle t
		id=$(sql -c "SET crm_purge.max_rows_per_request = 200000" \
			-c "SELECT crm_purge_request('t', now() - timestamptz '2021-01-01', 'delete_only')")
		wait_request "$id"
		ms=$(sql -c "SELECT round(extract(epoch FROM finished_at - started_at) * 1000, 1) FROM crm_purge.requests WHERE id = $id")
		[ "$(sql -c "SELECT rows_done FROM crm_purge.requests WHERE id = $id")" -eq 100000 ] || die "scale: wrong rows"
		printf '  %9d rows: request %8.1f ms (scan: %s)\n' "$n" "$ms" "$(sql -c "SELECT scan FROM crm_purge.requests WHERE id = $id")"
		eval "ms_$n=$ms"
	done
	# shellcheck disable=SC2154
	check "10M/1M (same old rows)" "$(ratio "$ms_10000000" "$ms_1000000")" 1.5
	reset_db
}

# --- scenario: one-record lookups in a big trash ----------------------------------
# TRASH_ROWS rows (10M) trashed by 1M-row DELETEs, the worker's upkeep run
# between them (it seals each full segment and indexes it), then small
# deletions: restoring one record by key, restore_deletion of a 10-row
# deletion, and erasing one subject, each timed in its own statement.
scenario_trash_lookup() {
	local n=${TRASH_ROWS:-10000000} chunk=1000000 from ms i id
	local -a R=() D=() E=()
	say "scenario trash_lookup: one-record operations on a trash of $n rows"
	reset_db
	sql >/dev/null <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, account bigint NOT NULL, email text, note text);
INSERT INTO t SELECT i, i % 100000, 'contact' || i || '@example.com', md5(i::text)
FROM generate_series(1, $n + 100000) i;
SELECT crm_purge_protect('t');
SQL
	settle t
	for ((from = 1; from <= n; from += chunk)); do
		sql -c "DELETE FROM t WHERE id BETWEEN $from AND $((from + chunk - 1))" >/dev/null
		sql -c "SELECT crm_purge_tick()" >/dev/null
	done
	# small deletions: 10 rows each, into the newest segment
	for ((i = 0; i < 2 * RUNS + 1; i++)); do
		sql -c "DELETE FROM t WHERE id BETWEEN $((n + 1 + i * 10)) AND $((n + 10 + i * 10))" >/dev/null
	done
	# the worker's upkeep, until every sealed segment is indexed (merges included)
	for i in $(seq 1 60); do
		[ "$(sql -c "SELECT count(*) FROM crm_purge.trash_segments WHERE sealed_at IS NOT NULL AND indexed_at IS NULL")" -eq 0 ] && break
		sql -c "SELECT crm_purge_tick()" >/dev/null
	done
	echo "  trash: $(sql -c "SELECT count(*) FROM crm_trash.public__t") rows in $(sql -c "SELECT count(*) FROM crm_purge.trash_segments") segments ($(sql -c "SELECT count(*) FROM crm_purge.trash_segments WHERE indexed_at IS NOT NULL") indexed)"
	for ((i = 0; i < RUNS; i++)); do
		ms=$(time_statement "SELECT crm_purge_restore('t', 'id = $((1234567 + i * 1000003))')")
		R+=("$ms")
		id=$(sql -c "SELECT deletion_id FROM crm_trash.public__t WHERE id = $((n + 5 + i * 10))")
		ms=$(time_statement "SELECT crm_purge_restore_deletion($id)")
		D+=("$ms")
		ms=$(time_statement "SELECT crm_purge_erase('t', 'id = $((7654321 + i * 1000003))', 'bench')")
		E+=("$ms")
		printf '  run %d  restore one %8.1f ms   restore_deletion %8.1f ms   erase one %8.1f ms\n' \
			"$((i + 1))" "${R[-1]}" "${D[-1]}" "${E[-1]}"
	done
	[ "$(sql -c "SELECT count(*) FROM t WHERE id = 1234567")" -eq 1 ] || die "trash_lookup: the restored row is not live"
	check "restore one record (ms/20)" "$(ratio "$(median "${R[@]}")" 20)" 1
	check "restore_deletion (ms/20)" "$(ratio "$(median "${D[@]}")" 20)" 1
	check "erase one subject (ms/20)" "$(ratio "$(median "${E[@]}")" 20)" 1
	reset_db
}

# --- scenario: what a request costs the application ----------------------------
# pgbench (2 clients, reads and updates of recent rows by key) on the same
# table, while a delete_only request takes LOAD_ROWS old rows of twice as many:
# throughput and 99th percentile latency of the transactions that ran during
# the request, against those of the seconds before it (one pgbench run, its
# per-transaction log split by the request's started_at and finished_at).
scenario_load() {
	local n=${LOAD_ROWS:-1000000} id started finished
	say "scenario load: pgbench (2 clients) on t, before and during a delete_only request of $n of $((2 * n)) rows"
	reset_db
	ROWS=$((2 * n)) load_t
	settle t
	cat > "$DIR/app.sql" <<PGB
\set id random($((n + 100000)), $((2 * n)))
SELECT note FROM t WHERE id = :id;
UPDATE t SET note = note WHERE id = :id;
PGB
	chown postgres "$DIR/app.sql"
	rm -f "$DIR"/app_log.*
	(cd "$DIR" && pg "$PG_BINDIR/pgbench" -n -h "$DIR" -p "$PORT" -c 2 -j 2 -T "${LOAD_SECS:-40}" -f "$DIR/app.sql" \
		-l --log-prefix="$DIR/app_log" "$DB" >/dev/null 2>&1) &
	local pgb=$!
	sleep 8
	id=$(sql -c "SET crm_purge.max_rows_per_request = $n" -c "SET crm_purge.max_queued_rows = $n" \
		-c "SELECT crm_purge_request('t', now() - (timestamptz '2024-01-01' + $n * interval '1 minute' + interval '30 seconds'), 'delete_only')")
	wait_request "$id"
	wait "$pgb"
	read -r started finished < <(sql -F ' ' -c "SELECT extract(epoch FROM started_at), extract(epoch FROM finished_at)
		FROM crm_purge.requests WHERE id = $id")
	[ "$(sql -c "SELECT rows_done FROM crm_purge.requests WHERE id = $id")" -eq "$n" ] || die "load: the request did not finish in time (LOAD_SECS)"
	# log columns: client, transaction, latency (us), script, epoch seconds, microseconds
	cat "$DIR"/app_log.* | awk -v s="$started" -v f="$finished" -v d="$DIR" '
		{ t = $5 + $6 / 1e6 }
		t >= s - 6 && t < s - 1 { print $3 > (d "/idle.lat") }
		t >= s && t < f { print $3 > (d "/busy.lat") }'
	local ti pi tb pb
	pct() { sort -n "$1" | awk '{a[NR] = $1} END {print a[int(NR * 0.99)] / 1000}'; }
	ti=$(awk 'END {print NR / 5}' "$DIR/idle.lat")
	tb=$(awk -v s="$started" -v f="$finished" 'END {print NR / (f - s)}' "$DIR/busy.lat")
	pi=$(pct "$DIR/idle.lat")
	pb=$(pct "$DIR/busy.lat")
	printf '  before: %.0f tps, p99 %.3f ms; during the request (%.1f s): %.0f tps, p99 %.3f ms\n' \
		"$ti" "$pi" "$(awk -v s="$started" -v f="$finished" 'BEGIN {print f - s}')" "$tb" "$pb"
	check "before/during tps (>=80% kept)" "$(ratio "$ti" "$tb")" 1.25
	check "p99 during/before" "$(ratio "$pb" "$pi")" 2.0
	rm -f "$DIR"/app_log.* "$DIR/app.sql" "$DIR"/idle.lat "$DIR"/busy.lat
	reset_db
}

# --- run -------------------------------------------------------------------------
for s in $SCENARIOS; do
	declare -F "scenario_$s" >/dev/null || die "unknown scenario: $s (have: $(declare -F | awk '/scenario_/ {sub("scenario_", "", $3); printf "%s ", $3}'))"
	"scenario_$s"
done
