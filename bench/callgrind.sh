#!/usr/bin/env bash
# Instruction counts (valgrind --tool=callgrind, repeatable where wall times
# on a shared machine are not) of the delete_half comparison: DELETE of half
# of N rows, a = unprotected, b = the hand-written PL/pgSQL statement
# trigger with a transition table into a plain trash table (as bench.sh),
# c = crm_purge_protect.  Each DELETE runs alone in a single-user backend,
# counted inside PortalRun (the statement and its triggers).
#
#   sudo bash bench/callgrind.sh          N=200000 by default
#   WHERE='id = 2' sudo bash bench/callgrind.sh    a one-row DELETE instead
set -euo pipefail
N=${N:-200000}
WHERE=${WHERE:-id % 2 = 0}
B=/usr/lib/postgresql/15/bin
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "callgrind.sh: run as root (the server runs as postgres)" >&2; exit 1; }
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
make -s -C "$REPO" >/dev/null && make -s -C "$REPO" install >/dev/null
DIR=$(mktemp -d /tmp/crm_purge_callgrind.XXXXXX)
chown postgres: "$DIR"
trap 'runuser -u postgres -- $B/pg_ctl -D "$DIR/data" stop -m fast >/dev/null 2>&1 || true; [ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"' EXIT
pg() { runuser -u postgres -- "$@"; }
pg $B/initdb -D "$DIR/data" -A trust >/dev/null
cat >> "$DIR/data/postgresql.conf" <<CONF
shared_preload_libraries = 'crm_purge'
listen_addresses = ''
unix_socket_directories = '$DIR'
crm_purge.naptime = 3600
shared_buffers = 512MB
max_wal_size = 4GB
autovacuum = off
CONF
pg $B/pg_ctl -D "$DIR/data" -l "$DIR/log" start >/dev/null
sql() { pg $B/psql -X -q -h "$DIR" -d postgres "$@"; }
sql -c "CREATE EXTENSION crm_purge"
for v in a b c; do
	sql <<SQL
CREATE TABLE t_$v (id bigint PRIMARY KEY, modified_at timestamptz NOT NULL, name text, email text, note text);
INSERT INTO t_$v SELECT i, timestamptz '2024-01-01' + i * interval '1 minute', 'Contact ' || lpad(i::text, 12, '0'),
	'contact' || i || '@example.com', 'note about contact ' || i || ' and their account' FROM generate_series(1, $N) i;
SQL
done
sql -v tbl=t_b -f "$REPO/bench/handwritten_trigger.sql"
sql <<'SQL'
SELECT crm_purge_protect('t_c');
VACUUM ANALYZE;
CHECKPOINT;
SQL
pg $B/pg_ctl -D "$DIR/data" stop >/dev/null
declare -A IR
for v in a b c; do
	echo "DELETE FROM t_$v WHERE $WHERE" |
		pg valgrind --tool=callgrind --toggle-collect=PortalRun --callgrind-out-file="$DIR/cg.$v" \
			$B/postgres --single -D "$DIR/data" -c shared_preload_libraries=crm_purge postgres >/dev/null 2>"$DIR/vg.$v"
	IR[$v]=$(callgrind_annotate "$DIR/cg.$v" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
done
echo "=== callgrind: DELETE ... WHERE $WHERE of $N rows, instructions (a = unprotected, b = PL/pgSQL trigger, c = crm_purge)"
printf '  a %14d\n  b %14d\n  c %14d\n' "${IR[a]}" "${IR[b]}" "${IR[c]}"
awk -v a="${IR[a]}" -v b="${IR[b]}" -v c="${IR[c]}" 'BEGIN {
	printf "  c/b (crm_purge/trigger)      %6.2f  (target <= 0.80)\n", c / b
	printf "  c/a (crm_purge/unprotected)  %6.2f  (target <= 2.50)\n", c / a }'
