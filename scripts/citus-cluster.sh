#!/usr/bin/env bash
# A throwaway Citus cluster for trying crm_purge by hand (reviews, attacks):
# coordinator 5690, worker nodes 5691 and 5692, sockets in /tmp/cx, trust
# authentication.  Needs Citus and crm_purge installed (README, Testing on
# Citus).  Run as root; running it again wipes the cluster.  Roles as in
# test/citus: regress_app owns schema app (no CREATE on public),
# regress_admin is a member of crm_purge_admin and of regress_app.
#   runuser -u postgres -- psql -h /tmp/cx -p 5690 -U regress_app postgres
# CX_DIR and CX_PORT (the coordinator's; workers take the next two) start a
# second cluster beside the first, e.g. CX_DIR=/tmp/cy CX_PORT=5700.
# CX_BIN runs another PostgreSQL installation's binaries (a frozen copy of
# an installed build, say, so that make install does not change it).
set -e
B=${CX_BIN:-/usr/lib/postgresql/15/bin}
D=${CX_DIR:-/tmp/cx}
P0=${CX_PORT:-5690}
PORTS="$P0 $((P0 + 1)) $((P0 + 2))"
for p in $PORTS; do runuser -u postgres -- $B/pg_ctl -D $D/d$p stop -m immediate >/dev/null 2>&1 || true; done
rm -rf $D; mkdir -p $D; chown postgres $D
for p in $PORTS; do
  runuser -u postgres -- $B/initdb -D $D/d$p -A trust >/dev/null
  cat >> $D/d$p/postgresql.conf <<C
port = $p
unix_socket_directories = '$D'
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'citus,crm_purge'
max_prepared_transactions = 20
max_worker_processes = 20
citus.shard_count = 4
crm_purge.naptime = 1
C
  runuser -u postgres -- $B/pg_ctl -D $D/d$p -l $D/log$p -w start >/dev/null
  runuser -u postgres -- $B/psql -h $D -p $p -qc 'CREATE EXTENSION citus' postgres
done
runuser -u postgres -- $B/psql -h $D -p $P0 -q postgres <<S
SELECT citus_set_coordinator_host('127.0.0.1', $P0);
SELECT citus_add_node('127.0.0.1', $((P0 + 1)));
SELECT citus_add_node('127.0.0.1', $((P0 + 2)));
CREATE EXTENSION crm_purge;
CREATE ROLE regress_app LOGIN;
CREATE ROLE regress_admin LOGIN;
GRANT crm_purge_admin TO regress_admin;
GRANT regress_app TO regress_admin;
CREATE SCHEMA app AUTHORIZATION regress_app;
S
echo "cluster up: psql -h $D -p $P0 -U postgres postgres"
