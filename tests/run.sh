#!/usr/bin/env bash
# Runs every suite: cmocka unit tests (plain and sanitized builds), then the
# integration tests (real nudged processes on loopback, the console in tmux).
# Ends with one line "N passed, N failed"; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
known=()
log_dir=$(mktemp -d /tmp/nudge-tests.XXXXXX)

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)..."
run_unit() {
	local bin=$1 out name
	name="${bin#build/}"
	out="$log_dir/$(echo "$name" | tr / _).log"
	# bounded: a unit test stuck (say in nng_close) fails instead of
	# hanging the run
	timeout 600 "$bin" >"$out" 2>&1
	local rc=$?
	local p f
	p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
	f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed, or a sanitizer stopped it
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		failures+=("$name (see $out)")
		echo "FAIL $name"
		tail -n 30 "$out" | sed 's/^/    /'
	else
		echo "ok   $name ($p)"
	fi
}

for build in build build/san; do
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		case "$t" in *.d|*.o) continue ;; esac
		run_unit "$t"
	done
done

# The builds an integration script runs against: both, unless its header
# says "# builds: plain" (soaks and statistics, whose point is not memory
# errors and which would take many minutes under the sanitizers) or
# "# builds: san" (leak soaks, whose point is LeakSanitizer).
script_builds() {
	case "$(grep -m1 -oE '^# builds: (plain|san)' "$1")" in
	"# builds: plain") echo build ;;
	"# builds: san") echo build/san ;;
	*) echo build build/san ;;
	esac
}

# Integration scripts print "PASS name" / "FAIL name: why" per check.
for script in tests/integration/*.sh; do
	[ -f "$script" ] || continue
	for build in ${INTEGRATION_BUILDS:-$(script_builds "$script")}; do
		name="$(basename "$script" .sh)[$build]"
		out="$log_dir/$(basename "$script" .sh)-$(echo "$build" | tr / _).log"
		BUILD=$build timeout 600 bash "$script" >"$out" 2>&1
		rc=$?
		p=$(grep -c '^PASS ' "$out")
		f=$(grep -c '^FAIL ' "$out")
		while IFS= read -r k; do known+=("$name: ${k#KNOWN }"); done \
		    < <(grep '^KNOWN ' "$out")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
			echo "FAIL $name: exited $rc" >>"$out"
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$f" -ne 0 ]; then
			failures+=("$name (see $out)")
			echo "FAIL $name"
			grep -E '^(FAIL|PASS) ' "$out" | sed 's/^/    /'
			tail -n 20 "$out" | sed 's/^/    | /'
		else
			echo "ok   $name ($p)"
		fi
	done
done

if [ ${#known[@]} -gt 0 ]; then
	echo "known failures of dependencies (not counted; RELIABILITY.md):"
	printf '  %s\n' "${known[@]}"
fi
if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
