#!/usr/bin/env bash
# crm_purge on Citus: a protected DELETE against the same DELETE unprotected,
# side by side on one throwaway cluster (a coordinator and two worker nodes
# on loopback, 4 shards).  Needs Citus installed (README, "Testing on Citus").
#
#   sudo bash bench/citus.sh
#
# Environment: ROWS=100000 (rows deleted per run), RUNS=5, PORT=5590 (the
# coordinator; the workers take the next two), KEEP_CLUSTER=1.
# (a) DELETE of all rows of an unprotected distributed table; (c) the same
# on a protected one.  Each run: a fresh table, loaded, vacuumed and
# analyzed, a CHECKPOINT on every node, then the timed DELETE.
set -euo pipefail

ROWS=${ROWS:-100000}
RUNS=${RUNS:-5}
PORT=${PORT:-5590}
PG_BINDIR=/usr/lib/postgresql/15/bin
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'citus.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: the cluster runs as user postgres"
[ -e "$("$PG_BINDIR/pg_config" --sharedir)/extension/citus.control" ] ||
	die "Citus is not installed (README, Testing on Citus)"
make -s -C "$REPO" >/dev/null && make -s -C "$REPO" install >/dev/null || die "build failed"

DIR=$(mktemp -d /tmp/crm_purge_citus_bench.XXXXXX)
chown postgres: "$DIR"
pg() { runuser -u postgres -- "$@"; }
PORTS=("$PORT" "$((PORT + 1))" "$((PORT + 2))")
stop_all() {
	[ -n "${KEEP_CLUSTER:-}" ] && { echo "cluster kept in $DIR"; return; }
	for p in "${PORTS[@]}"; do pg "$PG_BINDIR/pg_ctl" -D "$DIR/n$p" stop -m fast >/dev/null 2>&1 || true; done
	rm -rf "$DIR"
}
trap stop_all EXIT

for p in "${PORTS[@]}"; do
	pg "$PG_BINDIR/initdb" -D "$DIR/n$p" -A trust >/dev/null
	cat >> "$DIR/n$p/postgresql.conf" <<CONF
port = $p
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
shared_preload_libraries = 'citus,crm_purge'
max_prepared_transactions = 20
citus.shard_count = 4
crm_purge.naptime = '10s'
shared_buffers = '256MB'
max_wal_size = '4GB'
autovacuum = off
jit = off
CONF
	pg "$PG_BINDIR/pg_ctl" -D "$DIR/n$p" -l "$DIR/n$p.log" start >/dev/null
	pg psql -X -q -h "$DIR" -p "$p" -d postgres -c 'CREATE EXTENSION citus'
done
sql() { pg psql -X -q -At -h "$DIR" -p "$PORT" -d postgres "$@"; }
sql -c "SELECT citus_set_coordinator_host('127.0.0.1', $PORT)" \
	-c "SELECT citus_add_node('127.0.0.1', ${PORTS[1]})" -c "SELECT citus_add_node('127.0.0.1', ${PORTS[2]})" \
	-c 'CREATE EXTENSION crm_purge' >/dev/null

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "=== Citus: DELETE of $ROWS rows, 4 shards on 2 worker nodes (a = unprotected, c = crm_purge_protect)"
A=() C=()
for ((run = 1; run <= RUNS; run++)); do
	for v in a c; do
		sql >/dev/null <<SQL
SET client_min_messages = warning;
SELECT crm_purge_unprotect(tbl, true) FROM crm_purge.protected_tables WHERE tbl::text = 't';
DROP TABLE IF EXISTS t;
CREATE TABLE t (account_id int, id bigint, email text, note text, PRIMARY KEY (account_id, id));
SELECT create_distributed_table('t', 'account_id');
INSERT INTO t SELECT g % 1000, g, 'c' || g || '@example.com', 'note ' || g FROM generate_series(1, $ROWS) g;
$([ "$v" = c ] && echo "SELECT crm_purge_protect('t');")
VACUUM ANALYZE t;
SQL
		for p in "${PORTS[@]}"; do pg psql -X -q -h "$DIR" -p "$p" -d postgres -c CHECKPOINT; done
		# the timed DELETE, its connections to the workers warm (as an application's are)
		ms=$(sql <<'SQL' | tail -n 1
\o /dev/null
SELECT count(*) FROM t WHERE id < 0;
SELECT clock_timestamp() AS t0 \gset
DELETE FROM t;
\o
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1);
SQL
)
		if [ "$v" = c ]; then
			[ "$(sql -c 'SELECT count(*) FROM crm_trash.public__t')" -eq "$ROWS" ] || die "variant c did not trash every row"
			C+=("$ms")
		else
			A+=("$ms")
		fi
		printf '  run %d  %s  %8.1f ms\n' "$run" "$v" "$ms"
	done
done
ma=$(median "${A[@]}"); mc=$(median "${C[@]}")
echo "  medians: a = $ma ms, c = $mc ms"
awk -v v="$(ratio "$mc" "$ma")" 'BEGIN {printf "  %-28s %6.2f  (target <= 2.00)  %s\n", "c/a (protected/unprotected)", v, (v <= 2) ? "PASS" : "MISS"}'
