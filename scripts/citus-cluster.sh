#!/usr/bin/env bash
# A throwaway Citus cluster for trying crm_purge by hand (reviews, attacks):
# coordinator 5690, worker nodes 5691 and 5692, sockets in /tmp/cx, trust
# authentication.  Needs Citus and crm_purge installed (README, Testing on
# Citus).  Run as root; running it again wipes the cluster.  Roles as in
# test/citus: regress_app owns schema app (no CREATE on public),
# regress_admin is a member of crm_purge_admin and of regress_app.
#   runuser -u postgres -- psql -h /tmp/cx -p 5690 -U regress_app postgres
set -e
B=/usr/lib/postgresql/15/bin
for p in 5690 5691 5692; do runuser -u postgres -- $B/pg_ctl -D /tmp/cx/d$p stop -m immediate >/dev/null 2>&1 || true; done
rm -rf /tmp/cx; mkdir -p /tmp/cx; chown postgres /tmp/cx
for p in 5690 5691 5692; do
  runuser -u postgres -- $B/initdb -D /tmp/cx/d$p -A trust >/dev/null
  cat >> /tmp/cx/d$p/postgresql.conf <<C
port = $p
unix_socket_directories = '/tmp/cx'
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'citus,crm_purge'
max_prepared_transactions = 20
max_worker_processes = 20
citus.shard_count = 4
crm_purge.naptime = 1
C
  runuser -u postgres -- $B/pg_ctl -D /tmp/cx/d$p -l /tmp/cx/log$p -w start >/dev/null
  runuser -u postgres -- $B/psql -h /tmp/cx -p $p -qc 'CREATE EXTENSION citus' postgres
done
runuser -u postgres -- $B/psql -h /tmp/cx -p 5690 -q postgres <<S
SELECT citus_set_coordinator_host('127.0.0.1', 5690);
SELECT citus_add_node('127.0.0.1', 5691);
SELECT citus_add_node('127.0.0.1', 5692);
CREATE EXTENSION crm_purge;
CREATE ROLE regress_app LOGIN;
CREATE ROLE regress_admin LOGIN;
GRANT crm_purge_admin TO regress_admin;
GRANT regress_app TO regress_admin;
CREATE SCHEMA app AUTHORIZATION regress_app;
S
echo "cluster up: psql -h /tmp/cx -p 5690 -U postgres postgres"
