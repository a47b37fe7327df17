#!/usr/bin/env bash
# crm_purge: install what is needed, build with -Werror, install, and run every
# test suite: pg_regress, isolation and TAP, each on its own temporary
# instance, then the libFuzzer targets of test/fuzz.
#
#   sudo bash scripts/test.sh        (Debian 12, from the repository root)
#
# Environment:
#   PG_MAJOR=15         PostgreSQL major version to build and test against
#   KEEP_TMP=1          keep the temporary build directory even on success
#   SKIP_APT=1          never call apt-get (fail if something is missing)
#   SUITE_TIMEOUT_MIN   per-suite time limit in minutes (default 30)
#   FUZZ_SECONDS=60     how long each fuzz target runs
#
# Prints a last line "N passed, N failed" (pg_regress tests + isolation specs +
# TAP files + fuzz targets) and exits non-zero if anything failed.
set -uo pipefail

PG_MAJOR=${PG_MAJOR:-15}
SUITE_TIMEOUT_MIN=${SUITE_TIMEOUT_MIN:-30}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config
PACKAGES=(build-essential "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
          "postgresql-$PG_MAJOR-cron" libipc-run-perl clang-14 libclang-rt-14-dev clang)
# clang-14 comes with postgresql-server-dev, but only the "clang" package
# installs the plain "clang" test/fuzz/run.sh calls, and libclang-rt-14-dev
# (libFuzzer, sanitizers) is only a Recommends of clang-14.

. "$REPO/scripts/common.sh"
die() { printf 'test.sh: %s\n' "$*" >&2; exit 2; }

# --- privileges: root runs the suites as "postgres" (initdb refuses root) ----
if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
	TEST_USER=postgres
else
	command -v sudo >/dev/null && SUDO=(sudo) || SUDO=()
	TEST_USER=$(id -un)
fi

# --- packages ----------------------------------------------------------------
ensure_packages "${PACKAGES[@]}"
[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found"
id "$TEST_USER" >/dev/null 2>&1 || die "user $TEST_USER does not exist"

# --- a fresh copy of the working tree, owned by the test user ---------------
WORK=$(mktemp -d /tmp/crm_purge_test.XXXXXX)
copy_tree "$WORK" "$TEST_USER"
chmod 755 "$WORK"
cd "$WORK" || exit 2

# Clean, predictable environment for the build and the suites.
pg_environment "$PG_BINDIR"
export PG_CONFIG

as_test_user() {
	if [ "$(id -un)" = "$TEST_USER" ]; then
		env "$@"
	else
		runuser -u "$TEST_USER" -- env HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" "$@"
	fi
}

# Value of a variable of the project's Makefile (after PGXS has been included).
make_var() {
	make -s --no-print-directory -f Makefile -f <(printf 'print-%%:\n\t@echo $(%s)\n' '$*') \
		"print-$1" PG_CONFIG="$PG_CONFIG" 2>/dev/null
}

REGRESS_TESTS=$(make_var REGRESS)
ISOLATION_TESTS=$(make_var ISOLATION)
TAP_ENABLED=$(make_var TAP_TESTS)
TAP_FILES=$(make_var PROVE_TESTS)
if [ -n "$TAP_ENABLED" ] && [ -z "$TAP_FILES" ]; then
	TAP_FILES=$(ls t/*.pl 2>/dev/null | tr '\n' ' ')
fi
[ -n "$TAP_ENABLED" ] || TAP_FILES=""
n_regress=$(wc -w <<<"$REGRESS_TESTS")
n_iso=$(wc -w <<<"$ISOLATION_TESTS")
n_tap=$(wc -w <<<"$TAP_FILES")
n_fuzz=$(ls test/fuzz/fuzz_*.c 2>/dev/null | wc -l)
TOTAL=$((n_regress + n_iso + n_tap + n_fuzz))
say "PostgreSQL: $("$PG_CONFIG" --version); tests: $n_regress pg_regress, $n_iso isolation, $n_tap TAP, $n_fuzz fuzz targets; in $WORK"

PASSED=0
FAILED=0
RC=0

finish() {
	[ -n "${SMALL_DIR:-}" ] && umount "$SMALL_DIR" 2>/dev/null
	if [ "$RC" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then
		cd / && rm -rf "$WORK"
	else
		echo "build and test directory kept: $WORK"
	fi
	echo
	echo "$PASSED passed, $FAILED failed"
	exit "$RC"
}

# Print a file (or its last lines when it is long).
show() {
	local f=$1 max=${2:-400}
	[ -s "$f" ] || return 0
	echo "----- $f"
	if [ "$(wc -l <"$f")" -gt "$max" ]; then
		echo "(last $max of $(wc -l <"$f") lines)"
		tail -n "$max" "$f"
	else
		cat "$f"
	fi
}

# --- build and install ----------------------------------------------------------
say "make PROFILE=-Werror"
if ! as_test_user make -s PROFILE=-Werror PG_CONFIG="$PG_CONFIG" 2>&1; then
	echo "BUILD FAILED (warnings are errors)"
	FAILED=$TOTAL; RC=1; finish
fi
say "make install"
if ! "${SUDO[@]}" make -s install PG_CONFIG="$PG_CONFIG"; then
	echo "INSTALL FAILED"
	FAILED=$TOTAL; RC=1; finish
fi

# --- the suites -------------------------------------------------------------
# run_suite NAME LOG EXPECTED MAKE-ARGS...: runs one suite through PGXS's
# installcheck with the other suites switched off; counts per test.
run_suite() {
	local name=$1 log=$2 expected=$3
	shift 3
	say "$name ($expected)"
	as_test_user timeout --kill-after=60 "$((SUITE_TIMEOUT_MIN * 60))" \
		make installcheck PG_CONFIG="$PG_CONFIG" "$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	[ "$rc" -eq 124 ] && echo "$name: TIMED OUT after $SUITE_TIMEOUT_MIN minutes"
	return "$rc"
}

# pg_regress and pg_isolation_regress: "test NAME ... ok" or, inside a
# parallel group, "     NAME ... ok"; anything else counts as failed.
count_pg_regress() {
	grep -cE '^(test| ) +[^ ]+ +\.\.\. +ok( |$)' "$1" || true
}

# prove: "test/t/001_worker.pl .. ok" (or "skipped: why").
count_prove() {
	grep -cE '\.pl \.+ (ok|skipped)' "$1" || true
}

LOGDIR=$WORK/test_logs
as_test_user mkdir -p "$LOGDIR"

# A small file system for the TAP test of a full export directory (root only;
# without it that part of the test is skipped).
SMALL_DIR=$WORK/small_fs
mkdir -p "$SMALL_DIR"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1m tmpfs "$SMALL_DIR" 2>/dev/null; then
	chown "$TEST_USER" "$SMALL_DIR"
	export CRM_PURGE_SMALL_DIR=$SMALL_DIR
fi

if [ "$n_regress" -gt 0 ]; then
	run_suite "pg_regress" "$LOGDIR/regress.log" "$REGRESS_TESTS" ISOLATION= TAP_TESTS=
	rc=$?
	ok=$(count_pg_regress "$LOGDIR/regress.log")
	PASSED=$((PASSED + ok)); FAILED=$((FAILED + n_regress - ok))
	if [ "$rc" -ne 0 ] || [ "$ok" -ne "$n_regress" ]; then
		RC=1
		show regression.diffs 2000
		show log/postmaster.log 300
	fi
fi

if [ "$n_iso" -gt 0 ]; then
	run_suite "isolation" "$LOGDIR/isolation.log" "$ISOLATION_TESTS" REGRESS= TAP_TESTS=
	rc=$?
	ok=$(count_pg_regress "$LOGDIR/isolation.log")
	PASSED=$((PASSED + ok)); FAILED=$((FAILED + n_iso - ok))
	if [ "$rc" -ne 0 ] || [ "$ok" -ne "$n_iso" ]; then
		RC=1
		show output_iso/regression.diffs 2000
		show output_iso/log/postmaster.log 300
	fi
fi

if [ "$n_tap" -gt 0 ]; then
	run_suite "TAP" "$LOGDIR/tap.log" "$TAP_FILES" REGRESS= ISOLATION=
	rc=$?
	ok=$(count_prove "$LOGDIR/tap.log")
	PASSED=$((PASSED + ok)); FAILED=$((FAILED + n_tap - ok))
	if [ "$rc" -ne 0 ] || [ "$ok" -ne "$n_tap" ]; then
		RC=1
		for t in $TAP_FILES; do
			grep -qE "^$t \.+ (ok|skipped)" "$LOGDIR/tap.log" && continue
			b=$(basename "$t" .pl)
			for f in "tmp_check/log/regress_log_$b" tmp_check/log/"${b}"_*.log; do show "$f" 300; done
		done
	fi
fi

# libFuzzer targets, for a bounded time each; a target that did not report
# "ok - <target>" (build failure, crash, timeout) counts as failed.
if [ "$n_fuzz" -gt 0 ]; then
	say "fuzz (${FUZZ_SECONDS:-60} s per target)"
	if command -v clang >/dev/null; then
		as_test_user mkdir -p "$WORK/fuzz"
		as_test_user env FUZZ_SECONDS="${FUZZ_SECONDS:-60}" FUZZ_OUT="$WORK/fuzz" \
			timeout --kill-after=60 "$((n_fuzz * ${FUZZ_SECONDS:-60} + 900))" \
			bash test/fuzz/run.sh 2>&1 | tee "$LOGDIR/fuzz.log"
		rc=${PIPESTATUS[0]}
		[ "$rc" -eq 124 ] && echo "fuzz: TIMED OUT"
	else
		echo "clang not found: fuzz targets not run" | tee "$LOGDIR/fuzz.log"
		rc=1
	fi
	ok=0
	for f in test/fuzz/fuzz_*.c; do
		grep -qE "^ok - $(basename "$f" .c)( |\$)" "$LOGDIR/fuzz.log" && ok=$((ok + 1))
	done
	PASSED=$((PASSED + ok)); FAILED=$((FAILED + n_fuzz - ok))
	if [ "$rc" -ne 0 ] || [ "$ok" -ne "$n_fuzz" ]; then RC=1; fi
fi

finish
