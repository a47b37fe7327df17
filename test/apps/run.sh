#!/usr/bin/env bash
# Real ORM suites against a throwaway PostgreSQL instance: Django (Debian's
# python3-django and python3-psycopg2, run by /usr/bin/python3) and Node
# (npm pg and sequelize, installed here from package-lock.json).
#
#   bash test/apps/run.sh          (as root: the cluster and the suites run as
#                                   "postgres"; otherwise as the calling user)
#
# Needs the extension built and installed (make install), python3-django,
# python3-psycopg2, nodejs and npm. Environment: PG_MAJOR=15, APPS_PORT=54329,
# KEEP_TMP=1 (keep the temporary directory), APPS_SUITES="django node",
# NPM_CACHE (an npm cache directory to reuse between runs).
# Prints "apps: N passed, M failed" last (test cases of both suites; skipped
# ones are listed before it) and exits non-zero when anything failed.
set -uo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PORT=${APPS_PORT:-54329}
SUITES=${APPS_SUITES:-django node}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PASSED=0 FAILED=0 SKIPPED=0

say() { printf '\n=== %s\n' "$*"; }
die() { printf 'apps: %s\n' "$*" >&2; echo "apps: $PASSED passed, $((FAILED + 1)) failed"; exit 2; }

if [ "$(id -u)" -eq 0 ]; then RUN_USER=postgres; else RUN_USER=$(id -un); fi
id "$RUN_USER" >/dev/null 2>&1 || die "user $RUN_USER does not exist"
[ -x "$PG_BINDIR/initdb" ] || die "PostgreSQL $PG_MAJOR is not installed in $PG_BINDIR"
[ -f "$("$PG_BINDIR/pg_config" --sharedir)/extension/crm_purge.control" ] ||
	die "crm_purge is not installed (make install)"

TMP=$(mktemp -d /tmp/crm_purge_apps.XXXXXX) || die "mktemp failed"
chmod 700 "$TMP"
mkdir -p "$TMP/home"
# the suites' sources, without anything a previous run left behind
tar -C "$HERE" --exclude=node_modules --exclude=__pycache__ -cf - django node |
	tar -C "$TMP" -xf - || die "cannot copy the suites to $TMP"
[ "$RUN_USER" != "$(id -un)" ] && chown -R "$RUN_USER" "$TMP"

# as_user CMD...: runs CMD as RUN_USER with a clean, predictable environment
as_user() {
	local envs=(HOME="$TMP/home" LANG=C.UTF-8 PATH="$PG_BINDIR:/usr/local/bin:/usr/bin:/bin"
		PGHOST="$TMP" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres)
	if [ "$RUN_USER" = "$(id -un)" ]; then env -i "${envs[@]}" "$@"
	else runuser -u "$RUN_USER" -- env -i "${envs[@]}" "$@"; fi
}
psql_su() { as_user psql -X -q -v ON_ERROR_STOP=1 "$@"; }

finish() {
	local rc
	if [ -f "$TMP/data/postmaster.pid" ]; then
		as_user pg_ctl -D "$TMP/data" -m fast -w stop >/dev/null 2>&1
	fi
	if [ "$FAILED" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"
	else echo "apps: temporary directory kept: $TMP (server log: $TMP/server.log)"; fi
	[ "$SKIPPED" -gt 0 ] && echo "apps: $SKIPPED skipped (see the suites' output above)"
	echo "apps: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]; rc=$?
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

say "temporary cluster in $TMP (port $PORT, socket in $TMP)"
as_user initdb -D "$TMP/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
	>"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log"; FAILED=$((FAILED + 1)); exit 1; }
cat >>"$TMP/data/postgresql.conf" <<EOF
# crm_purge ORM suites (test/apps/run.sh)
listen_addresses = ''
port = $PORT
unix_socket_directories = '$TMP'
shared_preload_libraries = 'crm_purge'
crm_purge.naptime = 1
max_worker_processes = 16
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
as_user pg_ctl -D "$TMP/data" -l "$TMP/server.log" -w start >/dev/null ||
	{ tail -n 50 "$TMP/server.log"; FAILED=$((FAILED + 1)); exit 1; }

say "roles, template1 and databases"
# crm_django: Django's role: owns its tables (migrations), protects them
#   (crm_purge_admin), creates its test database (CREATEDB); deletes are one
#   deletion per transaction, and TRUNCATE (TransactionTestCase) is allowed.
# crm_node:   the Node application's role, owner of database crm_node, where
#   deletion_scope = transaction is set per database.
# crm_restorer: an admin who owns nothing: restores (needs SELECT, INSERT).
# The extension goes into template1 (a superuser's job, once), so that the
# test database Django creates as crm_django has it; so do the default
# privileges that let crm_restorer restore into crm_django's tables.
psql_su -d template1 >"$TMP/setup.log" 2>&1 <<'EOF' || { cat "$TMP/setup.log"; FAILED=$((FAILED + 1)); exit 1; }
CREATE EXTENSION crm_purge;
CREATE ROLE crm_django LOGIN CREATEDB IN ROLE crm_purge_admin;
ALTER ROLE crm_django SET crm_purge.deletion_scope = transaction;
ALTER ROLE crm_django SET crm_purge.allow_truncate = on;
CREATE ROLE crm_node LOGIN IN ROLE crm_purge_admin;
CREATE ROLE crm_restorer LOGIN IN ROLE crm_purge_admin;
ALTER DEFAULT PRIVILEGES FOR ROLE crm_django GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO crm_restorer;
CREATE DATABASE crm_django OWNER crm_django;
CREATE DATABASE crm_node OWNER crm_node;
ALTER DATABASE crm_node SET crm_purge.deletion_scope = transaction;
EOF

# run_suite NAME LOG: counts of one suite from its log, with its exit code in RC
count() { grep -oE "$1" "$2" | tail -n 1 | grep -oE '[0-9]+' | head -n 1; }

if [[ " $SUITES " == *" django "* ]]; then
	say "Django $(/usr/bin/python3 -c 'import django; print(django.get_version())' 2>/dev/null || echo '(missing)') suite"
	log=$TMP/django.log
	( cd "$TMP/django" && as_user PYTHONDONTWRITEBYTECODE=1 CRM_DB_HOST="$TMP" CRM_DB_PORT="$PORT" \
		CRM_DB_NAME=crm_django CRM_DB_USER=crm_django CRM_RESTORER=crm_restorer \
		timeout --kill-after=30 900 /usr/bin/python3 manage.py test --noinput -v 2 crm ) 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# unittest: "Ran N tests", then "OK (skipped=S)" or "FAILED (failures=F, errors=E, skipped=S)"
	ran=$(count 'Ran [0-9]+ test' "$log"); ran=${ran:-0}
	f=$(count 'failures=[0-9]+' "$log"); e=$(count 'errors=[0-9]+' "$log")
	s=$(count 'skipped=[0-9]+' "$log"); x=$(count 'expected failures=[0-9]+' "$log")
	u=$(count 'unexpected successes=[0-9]+' "$log")
	fail=$(( ${f:-0} + ${e:-0} + ${u:-0} ))
	pass=$(( ran - fail - ${s:-0} - ${x:-0} ))
	[ "$pass" -lt 0 ] && pass=0
	{ [ "$rc" -ne 0 ] || [ "$ran" -eq 0 ]; } && [ "$fail" -eq 0 ] && fail=1
	echo "django: $pass passed, $fail failed, ${s:-0} skipped"
	PASSED=$((PASSED + pass)); FAILED=$((FAILED + fail)); SKIPPED=$((SKIPPED + ${s:-0}))
fi

if [[ " $SUITES " == *" node "* ]]; then
	say "Node $(node --version 2>/dev/null || echo '(missing)') suite: npm ci"
	log=$TMP/node.log
	npm_cache=${NPM_CACHE:-$TMP/home/.npm}
	if ( cd "$TMP/node" && as_user PATH="$PG_BINDIR:/usr/local/bin:/usr/bin:/bin" npm_config_cache="$npm_cache" \
			timeout 600 npm ci --no-audit --no-fund --loglevel=error ) >"$TMP/npm.log" 2>&1; then
		say "Node suite (node --test)"
		( cd "$TMP/node" && as_user CRM_DB_HOST="$TMP" CRM_DB_PORT="$PORT" CRM_DB_NAME=crm_node \
			CRM_DB_USER=crm_node CRM_RESTORER=crm_restorer \
			timeout --kill-after=30 600 node --test --test-reporter=tap test/*.test.js ) 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		# node's TAP summary: "# pass N", "# fail N", "# skipped N"
		pass=$(count '^# pass [0-9]+' "$log"); fail=$(count '^# fail [0-9]+' "$log")
		s=$(count '^# skipped [0-9]+' "$log"); c=$(count '^# cancelled [0-9]+' "$log")
		pass=${pass:-0}; fail=$(( ${fail:-0} + ${c:-0} ))
		{ [ "$rc" -ne 0 ] || [ "$pass" -eq 0 ]; } && [ "$fail" -eq 0 ] && fail=1
		echo "node: $pass passed, $fail failed, ${s:-0} skipped"
		PASSED=$((PASSED + pass)); FAILED=$((FAILED + fail)); SKIPPED=$((SKIPPED + ${s:-0}))
	else
		cat "$TMP/npm.log"; echo "node: npm ci failed"; FAILED=$((FAILED + 1))
	fi
fi

if [ "$FAILED" -ne 0 ]; then
	echo "----- $TMP/server.log (last 100 lines)"; tail -n 100 "$TMP/server.log"
fi
exit 0
