# Shared by scripts/demo.sh, scripts/test.sh and bench/bench.sh; sourced.
# The caller defines die() and, when not root, SUDO=(sudo).

say() { printf '\n=== %s\n' "$*"; }

# ensure_packages PKG...: installs the missing ones with apt-get (with
# SKIP_APT=1, fails instead), so that a fresh Debian machine needs nothing
# installed by hand.
ensure_packages() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "packages already installed: $*"
		return 0
	fi
	[ -n "${SKIP_APT:-}" ] && die "missing packages: ${missing[*]}"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	${SUDO[@]+"${SUDO[@]}"} apt-get update -qq || die "apt-get update failed"
	${SUDO[@]+"${SUDO[@]}"} apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
		die "apt-get install failed"
}

# pg_environment BINDIR: a predictable environment for the PostgreSQL tools.
pg_environment() {
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGDATA PGOPTIONS PGSERVICE \
		LC_ALL LC_CTYPE LC_COLLATE LC_MESSAGES LANGUAGE
	export LANG=C.UTF-8
	export PATH=$1:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
}

# copy_tree DEST OWNER: the working tree without build output and test
# results, owned by OWNER, so the checkout gets no files of other users.
copy_tree() {
	mkdir -p "$1"
	tar -C "$REPO" --exclude=.git --exclude='*.o' --exclude='*.bc' --exclude='*.so' \
		--exclude='./tmp_check*' --exclude=./results --exclude=./output_iso --exclude=./log \
		--exclude=./regression.diffs --exclude=./regression.out --exclude=./test_logs \
		-cf - . | tar -C "$1" -xf - || die "cannot copy the tree to $1"
	chown -R "$2" "$1"
}
