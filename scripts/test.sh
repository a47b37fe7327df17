#!/usr/bin/env bash
# crm_purge: install what is needed, build with -Werror, install, and run
# every test suite (pg_regress, isolation, TAP, libFuzzer), each on its own
# temporary instance, as the unprivileged user "postgres" when run as root.
#
#   bash scripts/test.sh        (Debian 12, from the repository root)
#
# Environment: PG_MAJOR=15, SKIP_APT=1 (never apt-get), KEEP_TMP=1 (keep the
# build directory), FUZZ_SECONDS=60, SUITE_TIMEOUT_MIN=30.
# Trusts each suite's own summary and exit code; prints "N passed, N failed"
# last and exits non-zero when anything failed.
set -uo pipefail

PG_MAJOR=${PG_MAJOR:-15}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PACKAGES=(build-essential "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
          "postgresql-$PG_MAJOR-cron" libipc-run-perl clang-14 libclang-rt-14-dev clang
          python3-django python3-psycopg2 nodejs
          libkrb5-dev)  # libpq-be.h (src/security.c) includes gssapi/gssapi.h
# npm comes with nodesource's nodejs, and Debian's npm conflicts with it
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
. "$REPO/scripts/common.sh"
die() { printf 'test.sh: %s\n' "$*" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); TEST_USER=postgres
else command -v sudo >/dev/null && SUDO=(sudo) || SUDO=(); TEST_USER=$(id -un); fi
ensure_packages "${PACKAGES[@]}"
id "$TEST_USER" >/dev/null 2>&1 || die "user $TEST_USER does not exist"

# a fresh copy of the tree, owned by the test user
WORK=$(mktemp -d /tmp/crm_purge_test.XXXXXX)
copy_tree "$WORK" "$TEST_USER"
chmod 755 "$WORK"
cd "$WORK" || exit 2
pg_environment "$PG_BINDIR"
export PG_CONFIG=$PG_BINDIR/pg_config
as_user() {
	if [ "$(id -un)" = "$TEST_USER" ]; then env "$@"
	else runuser -u "$TEST_USER" -- env HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" "$@"; fi
}

PASSED=0 FAILED=0 FAILED_SUITES=
# failed NAME WHY: a suite counted as failed, named again in the last lines (CI shows the tail)
failed() { FAILED_SUITES="$FAILED_SUITES
  $1: $2"; }
finish() {
	[ -n "${SMALL_DIR:-}" ] && umount "$SMALL_DIR" 2>/dev/null
	if [ "$FAILED" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then cd / && rm -rf "$WORK"
	else echo "build and test directory kept: $WORK"; fi
	[ -n "$FAILED_SUITES" ] && printf '\nfailed:%s\n' "$FAILED_SUITES"
	echo; echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]; exit $?
}

say "make PROFILE=-Werror, make install"
as_user make -s PROFILE=-Werror || { echo "BUILD FAILED"; FAILED=1; finish; }
"${SUDO[@]}" make -s install || { echo "INSTALL FAILED"; FAILED=1; finish; }

# A 1 MB file system for the TAP test of a full export directory (root only).
SMALL_DIR=$WORK/small_fs
mkdir -p "$SMALL_DIR"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1m tmpfs "$SMALL_DIR" 2>/dev/null; then
	chown "$TEST_USER" "$SMALL_DIR"; export CRM_PURGE_SMALL_DIR=$SMALL_DIR
fi

# suite NAME MAKE-ARGS...: make installcheck for one suite; its summary line
# ("All N tests passed", "M of N tests failed", prove's "Files=N" and the
# files its "Test Summary Report" names) gives the counts; no summary is one failure.
suite() {
	local name=$1 log=$WORK/$1.log pass=0 fail=0 total rc
	shift
	say "$name"
	as_user timeout --kill-after=60 "$((${SUITE_TIMEOUT_MIN:-30} * 60))" \
		make installcheck "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	if grep -qE 'All [0-9]+ tests passed' "$log"; then
		pass=$(grep -oE 'All [0-9]+ tests passed' "$log" | grep -oE '[0-9]+')
	elif grep -qE '[0-9]+ of [0-9]+ tests failed' "$log"; then
		read -r fail total < <(grep -oE '[0-9]+ of [0-9]+ tests failed' "$log" | grep -oE '[0-9]+' | tr '\n' ' ')
		pass=$((total - fail))
	elif grep -qE '^Files=[0-9]+' "$log"; then
		total=$(grep -oE '^Files=[0-9]+' "$log" | grep -oE '[0-9]+')
		# (prove names each failed file in its "Test Summary Report", with its Wstat)
		fail=$(sed -n '/^Test Summary Report/,/^Files=/p' "$log" | grep -cE '^[^ ].* \(Wstat: ')
		pass=$((total - fail))
	fi
	fail=${fail:-0}
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1; failed "$name" "exit status $rc, though its summary counted no failure (${pass:-0} passed)"
	elif [ "$fail" -ne 0 ]; then
		failed "$name" "$fail failed, $pass passed (exit status $rc)"
	fi
	PASSED=$((PASSED + pass)); FAILED=$((FAILED + fail))
	if [ "$fail" -ne 0 ]; then
		for f in regression.diffs output_iso/regression.diffs log/postmaster.log output_iso/log/postmaster.log \
				 tmp_check/log/*; do
			[ -s "$f" ] && { echo "----- $f"; tail -n 300 "$f"; }
		done
	fi
}

suite "pg_regress" ISOLATION= TAP_TESTS=
suite "isolation" REGRESS= TAP_TESTS=
suite "TAP" REGRESS= ISOLATION=

# Citus: when it is installed (README, "Testing on Citus"); counted like TAP
if [ -e "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]; then
	suite "Citus" REGRESS= ISOLATION= PROVE_TESTS="$(echo test/citus/*.pl)"
else
	say "Citus suite skipped: Citus is not installed (README, Testing on Citus)"
fi

# Django and Node (Sequelize) test suites on a throwaway cluster of their own;
# "apps: N passed, M failed" counts their test cases.
say "ORM suites (test/apps: Django, Node)"
as_user timeout --kill-after=60 "$((${SUITE_TIMEOUT_MIN:-30} * 60))" bash test/apps/run.sh 2>&1 | tee "$WORK/apps.log"
arc=${PIPESTATUS[0]}
read -r ap af < <(grep -oE '^apps: [0-9]+ passed, [0-9]+ failed' "$WORK/apps.log" | tail -n 1 | grep -oE '[0-9]+' | tr '\n' ' ')
if [ "$arc" -ne 0 ] && [ -n "${af:-}" ] && [ "$af" -eq 0 ]; then
	af=1; failed apps "exit status $arc, though its summary counted no failure"
elif [ "${af:-1}" -ne 0 ]; then
	failed apps "${af:-no summary: 1} failed (exit status $arc)"
fi
PASSED=$((PASSED + ${ap:-0})); FAILED=$((FAILED + ${af:-1}))

say "fuzz (${FUZZ_SECONDS:-60} s per target)"
as_user mkdir -p "$WORK/fuzz"
as_user env FUZZ_SECONDS="${FUZZ_SECONDS:-60}" FUZZ_OUT="$WORK/fuzz" \
	timeout --kill-after=60 900 bash test/fuzz/run.sh 2>&1 | tee "$WORK/fuzz.log"
read -r fp ff < <(grep -oE 'fuzz: [0-9]+ passed, [0-9]+ failed' "$WORK/fuzz.log" | grep -oE '[0-9]+' | tr '\n' ' ')
PASSED=$((PASSED + ${fp:-0})); FAILED=$((FAILED + ${ff:-1}))
[ "${ff:-1}" -ne 0 ] && failed fuzz "${ff:-no summary: 1} failed"

finish
