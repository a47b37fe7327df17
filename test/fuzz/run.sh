#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address) and runs
# each for FUZZ_SECONDS (default 30).  Exit status: non-zero on a finding.
set -euo pipefail
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-30}
inc=$(pg_config --includedir)
incs=$(pg_config --includedir-server)
libdir=$(pg_config --pkglibdir)
out=${FUZZ_OUT:-$(mktemp -d)}
mkdir -p "$out"
flags="-Wno-ignored-attributes -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DFRONTEND -I$incs -I$inc -I../../src"
clang $flags -o "$out/fuzz_window" fuzz_window.c ../../src/requests/window.c
clang $flags -o "$out/fuzz_csv" fuzz_csv.c ../../src/requests/csv.c "$libdir/../lib/libpgcommon.a" "$libdir/../lib/libpgport.a" 2>/dev/null ||
	clang $flags -o "$out/fuzz_csv" fuzz_csv.c ../../src/requests/csv.c /usr/lib/postgresql/15/lib/libpgcommon.a /usr/lib/postgresql/15/lib/libpgport.a
passed=0
failed=0
for t in fuzz_window fuzz_csv; do
	mkdir -p "$out/corpus_$t"
	if "$out/$t" -max_total_time="$secs" -max_len=512 "$out/corpus_$t" > "$out/$t.log" 2>&1; then
		echo "ok - $t ($(grep -o "Done [0-9]* runs" "$out/$t.log" | tail -1))"
		passed=$((passed + 1))
	else
		echo "not ok - $t"; tail -40 "$out/$t.log"
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
