#!/usr/bin/env bash
# make bench: runs every benchmark on loopback and writes bench/results.md.
# Figures are medians of RUNS runs; nothing here asserts a time.
set -u
BUILD=${1:-build/bench}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/nudge-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
rows=()

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
row() { # figure unit value reference ratio
	rows+=("| $1 | $2 | $3 | $4 | $5 |")
	printf '%-48s %-10s %14s %22s %8s\n' "$1" "$2" "$3" "$4" "$5"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

printf '%-48s %-10s %14s %22s %8s\n' figure unit value reference ratio

# ---- bytes per live session -------------------------------------------
for n in 100000 1000000; do
	out=$("$BUILD/bench/sessmem" "$n")
	tb=$(echo "$out" | field table_bytes_per_session)
	rb=$(echo "$out" | field rss_bytes_per_session)
	sb=$(echo "$out" | field struct_bytes)
	row "bytes per live session, table ($n)" B "$tb" "struct $sb B" "$(ratio "$tb" "$sb")"
	row "bytes per live session, RSS growth ($n)" B "$rb" "struct $sb B" "$(ratio "$rb" "$sb")"
done

# ---- events/s into one agent over ipc:// (batched push) ----------------
proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ingest_run() {
	local dir="$WORK/ingest$1" port=$((30000 + RANDOM % 20000))
	mkdir -p "$dir"
	"$BUILD/nudged" --name bench --pub "tcp://127.0.0.1:$port" --control "ipc://$dir/c.sock" \
		--ingest "ipc://$dir/i.sock" --push "ipc://$dir/p.sock" --db "$dir/db" -q &
	local apid=$!
	pids+=("$apid")
	sleep 0.5
	local c0 e0 e1 c1 t0 t1
	c0=$(proc_cpu_ticks "$apid")
	t0=$(date +%s.%N)
	"$BUILD/nudge-sim" --seed "$1" --rate 0 --duration "$SECONDS_PER_RUN" --batch 1000 \
		--push "ipc://$dir/p.sock" 2>"$dir/sim.log"
	# let the agent drain what is queued, then read its counter
	sleep 1.5
	t1=$(date +%s.%N)
	c1=$(proc_cpu_ticks "$apid")
	e1=$("$BUILD/nudge" status --json --agent "tcp://127.0.0.1:$port" | jq -r .events)
	local hwm
	hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$apid/status")
	kill "$apid"
	wait "$apid" 2>/dev/null
	local secs
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a - 1.5 }')
	echo "$e1 $secs $(( (c1 - c0) )) $hwm $(grep -oE 'sent [0-9]+' "$dir/sim.log" | grep -oE '[0-9]+')"
}
ev=(); cpu=(); rss=(); sent=()
for r in $(seq 1 "$RUNS"); do
	read -r e secs ticks hwm s <<<"$(ingest_run "$r")"
	ev+=("$(awk -v e="$e" -v s="$secs" 'BEGIN { printf "%.0f", e / s }')")
	cpu+=("$(awk -v t="$ticks" -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 100 * t / hz / (s + 1.5) }')")
	rss+=("$hwm")
	sent+=("$s")
done
ev_med=$(printf '%s\n' "${ev[@]}" | median)
ceiling=$("$BUILD/bench/pushpull" "ipc://$WORK/ceiling.sock" 60000 1000 "$SECONDS_PER_RUN" | field events_per_s)
row "events/s into one agent (ipc push, batch 1000)" events/s "$ev_med" "push/pull $ceiling" "$(ratio "$ev_med" "$ceiling")"
row "agent CPU while ingesting" "% of core" "$(printf '%s\n' "${cpu[@]}" | median)" "-" "-"
row "agent peak RSS while ingesting" KiB "$(printf '%s\n' "${rss[@]}" | median)" "-" "-"

# ---- rule evaluation --------------------------------------------------
for r in $(seq 1 "$RUNS"); do "$BUILD/bench/rules_eval"; done >"$WORK/rules.txt"
for n in 10 100 1000; do
	v=$(grep "^rules_eval $n rules" "$WORK/rules.txt" | sed 's/.*: \([0-9]*\) ns\/event.*/\1/' | median)
	b=$(grep "^rules_eval $n rules" "$WORK/rules.txt" | sed 's/.*field reads \([0-9.]*\) ns.*/\1/' | median)
	row "rule evaluation, $n rules" ns/event "$v" "field reads $b ns" "$(ratio "$v" "$b")"
done

# ---- push-to-acknowledge across 3 agents ---------------------------------
if out=$(bench/rules_push.sh "$BUILD" 2>&1 | grep '^rules_push '); then
	pm=$(echo "$out" | field parallel_median_us)
	p99=$(echo "$out" | field parallel_p99_us)
	ping=$(echo "$out" | field ping_all_us)
	row "rules push acknowledged by 3 agents, median" us "$pm" "ping x3 $ping us" "$(ratio "$pm" "$ping")"
	row "rules push acknowledged by 3 agents, p99" us "$p99" "ping x3 $ping us" "$(ratio "$p99" "$ping")"
	row "rules push to 3 agents in turn (CLI), median" us "$(echo "$out" | field sequential_median_us)" "ping $(echo "$out" | field ping_us) us" "-"
else
	row "rules push acknowledged by 3 agents" us "not run" "bench/rules_push.sh failed" "-"
fi

# ---- access logs vs GoAccess --------------------------------------------
if out=$(bench/logs.sh "$BUILD" 2>&1 | grep '^logs: '); then
	nl=$(echo "$out" | field nudged_lines_per_s)
	gl=$(echo "$out" | field goaccess_best_lines_per_s)
	row "access-log lines/s (2M lines, sessionized)" lines/s "$nl" "goaccess $gl" "$(ratio "$nl" "$gl")"
	row "access-log peak RSS" KiB "$(echo "$out" | field nudged_rss_kb)" "goaccess $(echo "$out" | field goaccess_rss_kb) KiB" "-"
else
	row "access-log lines/s" lines/s "not run" "bench/logs.sh failed" "-"
fi

# ---- beacons vs nginx ---------------------------------------------------
if command -v wrk >/dev/null && command -v nginx >/dev/null; then
	DURATION=$SECONDS_PER_RUN bench/beacon.sh "$BUILD" >"$WORK/beacon.txt" 2>&1
	n_rps=$(awk '/^nginx return 204/ { print $4 }' "$WORK/beacon.txt")
	a_rps=$(awk '/^nudged POST/ { print $4 }' "$WORK/beacon.txt")
	row "beacon requests/s (wrk -c64, full work)" req/s "${a_rps:-n/a}" "nginx 204 ${n_rps:-n/a}" "$(ratio "${a_rps:-0}" "${n_rps:-0}")"
	row "beacon p99" ms "$(awk '/^nudged POST/ { print $6 }' "$WORK/beacon.txt")" "nginx $(awk '/^nginx return 204/ { print $6 }' "$WORK/beacon.txt") ms" "-"
else
	row "beacon requests/s" req/s "not run" "wrk or nginx missing" "-"
fi

# ---- the console with 16 and with 64 agents -------------------------------
if command -v tmux >/dev/null; then
	# agents, relays between them and the console (0: followed directly)
	for cfg in "16 0" "64 0" "64 4"; do
		set -- $cfg
		na="$1 agents" && [ "$2" -gt 0 ] && na="$1 agents behind $2 relays"
		RELAYS=$2 AGENTS=$1 SECS=$SECONDS_PER_RUN bench/console.sh "$BUILD" >"$WORK/console$1-$2.txt" 2>&1
		for v in overview sessions; do
			l=$(grep "^$v " "$WORK/console$1-$2.txt")
			row "console CPU, $na, $v view" "% of core" "$(echo "$l" | sed -n 's/.*cpu *\([0-9.]*\)%.*/\1/p')" "load $(echo "$l" | sed -n 's/.*load *\([0-9.]*\).*/\1/p')" "-"
			row "console to terminal, $na, $v view" B/s "$(echo "$l" | sed -n 's/.*terminal *\([0-9.]*\) B.*/\1/p')" "agents $(echo "$l" | sed -n 's/.*took *\([0-9]*\) events.*/\1/p') ev/s" "-"
			row "console peak RSS, $na, $v view" MB "$(echo "$l" | sed -n 's/.*peak RSS *\([0-9.]*\) MB.*/\1/p')" "-" "-"
		done
	done
fi

# ---- event -> console latency (bench/latency.sh) -------------------------
ms() { awk '{ printf "%.1f\n", $1 / 1000 }'; }
if out=$(RUNS=$RUNS bench/latency.sh "$BUILD" 2>&1 | grep '^latency '); then
	for q in p50 p99; do
		ref=$(echo "$out" | field "ref_${q}_us" | median)
		for k in counted sample; do
			us=$(echo "$out" | field "${k}_${q}_us" | median)
			what=$([ "$k" = counted ] && echo "counted in the aggregates" || echo "seen as a sampled event")
			row "event -> console, $what, $q" ms "$(echo "$us" | ms)" "pub/sub round trip $ref us" "$(ratio "$us" "$ref")"
		done
	done
	row "event -> console, load average at the end" - "$(cut -d' ' -f1 /proc/loadavg)" "-" "-"
else
	row "event -> console latency" ms "not run" "bench/latency.sh failed" "-"
fi

# ---- agent restart to serving (bench/restart.sh) ---------------------------
if out=$(RUNS=$RUNS bench/restart.sh "$BUILD" 2>&1 | grep -E '^(empty )?restart exec'); then
	full=$(echo "$out" | grep '^restart')
	empty=$(echo "$out" | grep '^empty')
	for f in exec_to_ping_ms:"restart to answering ping" exec_to_snapshot_ms:"restart to first snapshot" cpu_to_ping_ms:"CPU until answering ping"; do
		v=$(echo "$full" | field "${f%%:*}" | median)
		e=$(echo "$empty" | field "${f%%:*}" | median)
		row "agent ${f#*:} (1M archived sessions, 1,000 rules)" ms "$v" "empty db $e ms" "$(ratio "$v" "$e")"
	done
else
	row "agent restart to serving" ms "not run" "bench/restart.sh failed" "-"
fi

# ---- SQLite write volume (bench/writevol.sh) -------------------------------
for r in $(seq 1 "$RUNS"); do bench/writevol.sh "$BUILD" 2>&1 | grep '^writevol '; done >"$WORK/writevol.txt"
idle=$(grep '^writevol idle ' "$WORK/writevol.txt" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(write_bytes|secs)=/) { split($i, kv, "="); v[kv[1]] = kv[2] } if (v["secs"] > 0) printf "%.0f\n", v["write_bytes"] / v["secs"] / 1024 }' | median)
for feed in v20000x5:"20k sessions, 0.91M events" v20000x1:"20k sessions, 0.18M events" v100000x1:"100k sessions, 0.91M events"; do
	l=$(grep "^writevol ${feed%%:*} " "$WORK/writevol.txt")
	[ -n "$l" ] || continue
	pe=$(echo "$l" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } if (v["events"] > 0) printf "%.1f\n", v["write_bytes"] / v["events"] * 1e6 / 1048576 }' | median)
	ps=$(echo "$l" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } if (v["sessions"] > 0) printf "%.0f\n", v["write_bytes"] / v["sessions"] }' | median)
	db=$(echo "$l" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } if (v["sessions"] > 0) printf "%.0f\n", (v["db_bytes"] + v["wal_bytes"]) / v["sessions"] }' | median)
	row "SQLite bytes written per 1M events, ${feed#*:}" MiB "$pe" "idle agent ${idle} KiB/s" "-"
	row "SQLite bytes written per session, ${feed#*:}" B "$ps" "db+wal $db B/session" "$(ratio "$ps" "$db")"
done

{
	echo "# nudge benchmark results"
	echo
	echo "Run on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo),"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)."
	echo "Medians of $RUNS runs of ${SECONDS_PER_RUN} s; ratios are to the reference measured in the same run."
	echo
	echo "| figure | unit | value | reference | ratio |"
	echo "| --- | --- | --- | --- | --- |"
	printf '%s\n' "${rows[@]}"
} >bench/results.md
echo "written to bench/results.md"
