#!/usr/bin/env bash
# Wall-clock jumps (issue 7, time): an agent runs under libfaketime with an
# offset file it rereads every second; the wall clock jumps +1 h, then back
# 2 h (to -1 h), later +25 h and back, while beacons come in and a rule
# says "at most 1 per day".
# The monotonic clock is left alone (FAKETIME_DONT_FAKE_MONOTONIC=1), as
# an NTP step leaves it.  Checks: the cap holds across both jumps and a
# restart (the beacon path records caps: POST /nudge/e with curl); no timer
# storm and no stall: snapshots keep their rate (5/s, counted on the PUB
# socket by tools/snapwatch on the real clock) with no gap over 1 s, and
# the agent's CPU time stays near its rate before the jumps.
. "$(dirname "$0")/lib/common.sh"
N="$BUILD/nudge"
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
[ -n "$FT" ] || { fail clock "libfaketime not installed (make test-deps)"; exit 0; }
command -v curl >/dev/null || { fail clock "curl not installed (make test-deps)"; exit 0; }
D="$WORK/k1"
mkdir -p "$D"
PORT=$(free_port)
HPORT=$(free_port)
PUB="tcp://127.0.0.1:$PORT"
CTL="ipc://$D/control.sock"
AG=(--agent "$PUB,$CTL")
U="http://127.0.0.1:$HPORT/nudge/e"
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
printf '[agent]\nsnapshot_ms = 200\n[http]\nlisten = 127.0.0.1:%s\n' "$HPORT" >"$WORK/k1.conf"
printf 'rule daily:\n  when event == "pageview"\n  show banner "once a day"\n  at most 1 per day\n' >"$WORK/daily.rules"
now_ms() { date +%s%3N; }
# jump OFFSET: writes the offset file; once the agent is up, waits until
# its snapshots carry the new wall clock (libfaketime rereads the file
# every second) and says after how long
jump() {
	local t0 s
	echo "$1" >"$WORK/faketime.rc"
	[ -s "$WORK/watch" ] || return 0
	t0=$(now_ms)
	while [ $(( $(now_ms) - t0 )) -lt 5000 ]; do
		s=$(skew)
		[ "$s" = "${1#+}" ] && { JUMP_MS=$(( $(now_ms) - t0 )); return 0; }
		sleep 0.1
	done
	JUMP_MS=never
	return 1
}
: >"$WORK/watch"
jump +0

launch() {
	# ASan wants its runtime first in the library list: libfaketime is
	# preloaded before it, which is harmless here.  FORCE_MONOTONIC_FIX=0:
	# with it, libfaketime 0.9.10 returns at once from every
	# pthread_cond_timedwait on a CLOCK_MONOTONIC condition (a storm of
	# its own making: 14k deltas/s instead of 10)
	LD_PRELOAD="$FT" FAKETIME_TIMESTAMP_FILE="$WORK/faketime.rc" \
		FAKETIME_CACHE_DURATION=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
		FAKETIME_FORCE_MONOTONIC_FIX=0 \
		ASAN_OPTIONS="${ASAN_OPTIONS}:verify_asan_link_order=0" \
		"$BUILD/nudged" --config "$WORK/k1.conf" --name k1 --pub "$PUB" \
		--control "$CTL" --ingest "ipc://$D/ingest.sock" \
		--push "ipc://$D/push.sock" --db "$D/nudged.db" >>"$D/log" 2>&1 &
	AGENT=$!
	PIDS+=("$AGENT")
	for _ in $(seq 1 100); do
		"$N" status --timeout 500 "${AG[@]}" >/dev/null 2>&1 && return 0
		kill -0 "$AGENT" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# shown VISITOR: the rule ids the beacon's answer shows ("" if none)
shown() {
	curl -s -A "$UA" -X POST -H 'Content-Type: text/plain' \
		-d "{\"visitor\":\"$1\",\"consent\":true,\"events\":[{\"type\":\"pageview\",\"page\":\"/p\"}]}" \
		"$U" | jq -r '[.d[].id] | join(",")'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT/stat"; }
# window T0 T1: "snapshots/s min max, largest gap ms, messages/s max" over
# the snapwatch lines with T0 <= mono < T1
window() {
	awk -v a="$1" -v b="$2" '$1 >= a && $1 < b {
		s = int(($1 - a) / 1000); m[s]++
		if ($3 == "snapshot") { n[s]++; if (p && $1 - p > g) g = $1 - p; p = $1 }
	} END {
		k = int((b - a) / 1000); lo = 1e9; hi = 0; mm = 0
		for (i = 0; i < k; i++) {
			if (n[i] + 0 < lo) lo = n[i] + 0
			if (n[i] + 0 > hi) hi = n[i] + 0
			if (m[i] + 0 > mm) mm = m[i] + 0
		}
		printf "%d %d %d %d\n", lo, hi, g, mm
	}' "$WORK/watch"
}
mono_now() { awk 'END { print $1 }' "$WORK/watch"; }

launch || { fail "start under libfaketime" "$(tail -5 "$D/log")"; exit 1; }
"$BUILD/tools/snapwatch" "$PUB" >"$WORK/watch" 2>/dev/null &
PIDS+=($!)
"$N" rules push "$WORK/daily.rules" "${AG[@]}" >/dev/null 2>&1
expect_eq "push 'at most 1 per day': acknowledged" "$?" 0
"$BUILD/nudge-sim" --push "ipc://$D/push.sock" --rate 20 --duration 120 --quiet 2>/dev/null &
SIM=$!
PIDS+=("$SIM")
expect_eq "first beacon: the banner is shown" "$(shown capped0000000001)" daily
expect_eq "second beacon: capped" "$(shown capped0000000001)" ""

# the rates before any jump
sleep 1
m0=$(mono_now); c0=$(cpu_ticks)
sleep 4
m1=$(mono_now); c1=$(cpu_ticks)
read -r lo hi gap msgs < <(window "$m0" "$m1")
base_cpu=$((c1 - c0))
echo "before: snapshots/s $lo..$hi, largest gap $gap ms, messages/s <= $msgs, cpu $base_cpu ticks in 4 s"
base_msgs=$msgs

# skew: the agent's wall clock (snapshot envelope) minus ours, in s
skew() { grep ' snapshot ' "$WORK/watch" | tail -1 | sed -n 's/^[0-9]* \([0-9]*\) .* ts=\([0-9]*\) .*/\2 \1/p' |
	awk '{ printf "%d\n", ($1 - $2) / 1000 + ($1 > $2 ? 0.5 : -0.5) }'; }
expect_eq "before the jumps: the agent's wall clock is ours" "$(skew)" 0
i=0
for off in +3600 -3600; do
	jump "$off"
	i=$((i + 1))
	expect_eq "jump to $off s: the agent's wall clock moved (seen after $JUMP_MS ms)" "$(skew)" "${off#+}"
	expect_eq "jump to $off s: still capped" "$(shown capped0000000001)" ""
	expect_eq "jump to $off s: a new visitor gets the banner" "$(shown newvisitor00000$i)" daily
	expect_eq "jump to $off s: and then is capped" "$(shown newvisitor00000$i)" ""
	m0=$(mono_now); c0=$(cpu_ticks)
	sleep 4
	m1=$(mono_now); c1=$(cpu_ticks)
	read -r lo hi gap msgs < <(window "$m0" "$m1")
	echo "after $off: snapshots/s $lo..$hi, largest gap $gap ms, messages/s <= $msgs, cpu $((c1 - c0)) ticks in 4 s"
	check "jump to $off s: snapshots keep their rate (4..6/s; saw $lo..$hi)" test "$lo" -ge 4 -a "$hi" -le 6
	check "jump to $off s: no stall (largest gap $gap ms <= 1000)" test "$gap" -le 1000
	check "jump to $off s: no message storm ($msgs/s vs $base_msgs/s before)" \
		test "$msgs" -le $((base_msgs * 2 + 10))
	check "jump to $off s: CPU near its rate before ($((c1 - c0)) vs $base_cpu ticks)" \
		test $((c1 - c0)) -le $((base_cpu * 3 + 50))
done

# the cap survives a restart on the jumped clock
sleep 1.2	# the cap memory is flushed each second
kill -TERM "$AGENT"
wait "$AGENT"
expect_eq "a clean stop on the jumped clock" "$?" 0
launch || { fail "restart under libfaketime" "$(tail -5 "$D/log")"; exit 1; }
expect_eq "restart at -3600 s: still capped" "$(shown capped0000000001)" ""
# a day and an hour forward, then back: a cap on the wall clock would
# expire; the cap clock follows the monotonic one (slewing 1%)
jump +90000
expect_eq "jump to +90000 s (25 h, seen after $JUMP_MS ms): still capped" "$(shown capped0000000001)" ""
jump +0
expect_eq "back to the true time (seen after $JUMP_MS ms): still capped" "$(shown capped0000000001)" ""
kill "$SIM" 2>/dev/null
wait "$SIM" 2>/dev/null
kill -TERM "$AGENT"
wait "$AGENT"
expect_eq "a clean stop at the end" "$?" 0
if grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error' "$D/log"; then
	fail "sanitizer" "$(grep -m3 'Sanitizer\|runtime error' "$D/log")"
fi
exit 0
