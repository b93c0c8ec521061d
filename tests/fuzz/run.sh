#!/usr/bin/env bash
# make fuzz: builds every libFuzzer target in tests/fuzz/ with ASan+UBSan
# and runs each for SECONDS (default 60), starting from its seed corpus in
# tests/fuzz/corpus/<name>/.  New inputs go to build/fuzz/corpus/<name>/,
# crashes to tests/fuzz/findings/.  Prints executions and coverage.
set -u
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
OUT=build/fuzz
mkdir -p "$OUT" tests/fuzz/findings
PKGS="msgpack libxxhash jansson inih sqlite3"
status=0
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	target=${name#fuzz_}
	bin="$OUT/$name"
	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
		-D_DEFAULT_SOURCE -D_GNU_SOURCE -DNUDGE_VERSION='"fuzz"' -Icommon \
		"$src" common/*.c $(pkg-config --cflags --libs $PKGS) \
		-lnng -lmbedcrypto -lm -lpthread -o "$bin" || { status=1; continue; }
	mkdir -p "$OUT/corpus/$target"
	seeds="tests/fuzz/corpus/$target"
	[ -d "$seeds" ] || seeds=""
	"$bin" -max_total_time="$SECONDS_EACH" -artifact_prefix=tests/fuzz/findings/"$name"- \
		-print_final_stats=1 "$OUT/corpus/$target" $seeds >"$OUT/$name.log" 2>&1
	rc=$?
	execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$OUT/$name.log" | grep -oE '[0-9]+$')
	cov=$(grep -oE 'cov: [0-9]+' "$OUT/$name.log" | tail -1 | grep -oE '[0-9]+')
	if [ $rc -eq 0 ]; then
		echo "$name: ${execs:-?} executions, coverage ${cov:-?} edges, no finding"
	else
		echo "$name: FINDING (exit $rc), see $OUT/$name.log and tests/fuzz/findings/"
		status=1
	fi
done
exit $status
