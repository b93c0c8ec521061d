#!/usr/bin/env bash
# kill -9 under load (issue 7, durability): an agent ingests a steady event
# stream (nudge-sim --push, ~50k events/s) while one loop pushes rule sets
# and another flips a campaign (pause/resume); it is killed with SIGKILL at
# a random moment, CRASH_RUNS times (default 50), and restarted on the same
# database.  After each kill:
#  - PRAGMA integrity_check is ok on the file the kill left;
#  - every rule version whose push was acknowledged (exit 0) before the
#    kill is in the database with the text pushed, and the restarted agent
#    serves the newest one; every campaign change acknowledged ("ok") is in
#    the campaign's history, and the campaign is at least at that version
#    (at it: in the state acknowledged);
#  - counters lose at most the last CRASH_LOSS_MS (default 1100) of
#    events, the issue's "at most the last second": the counter saved on
#    disk is compared with the agent's own published counts (a snapshot
#    every 100 ms, watched by tools/snapwatch): the newest snapshot whose
#    count the disk already holds must be at most that old at the kill
#    (counted from the first snapshot of that start: nothing is counted
#    before it).  The bound is the issue's 1 s plus one snapshot period
#    (which snapshot the disk's count falls after is known to 100 ms
#    only), and nothing for the wait for the store: the counters have
#    their own thread and are read once the store's lock is held
#    (agent/archive.c), so neither a slow session batch nor a visitor-
#    memory batch, an acknowledged fsync or a checkpoint ages them; they
#    are flushed every 0.5 s, so that a thread woken up to 0.5 s late on
#    a crowded machine still keeps the promise.  The worst case seen is
#    printed;
#  - the restarted agent answers a control ping within 2 s of its start
#    (CRASH_READY_MS) in every run, and its counters start from what the
#    disk held.  A start reloads up to 65,536 visitors' memory (~0.25 s of
#    CPU) and writes nothing before it listens (no checkpoint, no fsync);
#    each start's CPU time and the load average are printed with it, so
#    that a slow start on a crowded machine shows whether it was the
#    agent's work or the wait for a CPU;
#  - the event stream reached the agent in every run of a second or more,
#    and nudge-sim never stopped.
# builds: plain
. "$(dirname "$0")/lib/common.sh"
N="$BUILD/nudge"
RAW="$BUILD/tools/nngraw"
RUNS=${CRASH_RUNS:-50}
RATE=${CRASH_RATE:-5500}	# visitors/s; ~9 events each: ~50k events/s
READY=${CRASH_READY_MS:-2000} LOSS_MS=${CRASH_LOSS_MS:-1100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
C=banner_test
D="$WORK/c1"
DB="$D/nudged.db"
mkdir -p "$D" "$WORK/texts"
PORT=$(free_port)
PUB="tcp://127.0.0.1:$PORT"
CTL="ipc://$D/control.sock"
AG=(--agent "$PUB,$CTL")
printf '\x96\x01\xa4ping\xc4\x10PINGPINGPINGPING\x00\xc0\xc0' >"$WORK/ping.bin"
now_ms() { date +%s%3N; }

# launch: starts nudged on the database; AGENT is its pid, READY_MS the
# time from exec to the first answered ping (9999: none within twice the
# bound and a second) and READY_CPU the CPU time the agent used by then.
launch() {
	local t0 t
	t0=$(now_ms)
	LAUNCH_T=$t0
	"$BUILD/nudged" --name c1 --pub "$PUB" --control "$CTL" \
		--ingest "ipc://$D/ingest.sock" --push "ipc://$D/push.sock" \
		--db "$DB" --snapshot-ms 100 >>"$D/log" 2>&1 &
	AGENT=$!
	PIDS+=("$AGENT")
	READY_MS=9999
	while [ $(( $(now_ms) - t0 )) -lt $((READY * 2 + 1000)) ]; do
		if "$RAW" req "$CTL" "$WORK/ping.bin" 2>/dev/null | grep -q '^status 0'; then
			t=$(now_ms)
			READY_MS=$((t - t0))
			READY_CPU=$(awk -v hz="$(getconf CLK_TCK)" \
				'{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$AGENT/stat" 2>/dev/null)
			READY_CPU=${READY_CPU:-0}
			return 0
		fi
		kill -0 "$AGENT" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}

# The rule push loop: each push has a unique first line "# push I" (and
# the campaign, so that it stays declared); an acknowledged one appends
# "VERSION I" to acked.
push_loop() {
	local i=0 v
	while :; do
		i=$((i + 1))
		{
			printf '# push %d\n' "$i"
			cat "$ROOT/examples/campaign.rules"
			printf 'rule r%d:\n  when event == "pageview" and page ~ "/p%d"\n  show banner "push %d"\n  at most 1 per day\n' \
				"$i" "$i" "$i"
		} >"$WORK/texts/$i.rules"
		if "$N" rules push "$WORK/texts/$i.rules" "${AG[@]}" --json \
			>"$WORK/push.json" 2>/dev/null; then
			v=$(jq -r '.agents[0].version' "$WORK/push.json")
			echo "$v $i" >>"$WORK/acked"
		fi
		sleep 0.25
	done
}

# The campaign loop: pause, resume, ...; an acknowledged change ("ok")
# appends "VERSION STATE" to camp_acked.
camp_loop() {
	local op=pause
	while :; do
		if "$N" campaign "$op" "$C" "${AG[@]}" --json >"$WORK/camp.json" 2>/dev/null &&
			[ "$(jq -r '.agents[0].result' "$WORK/camp.json")" = ok ]; then
			jq -r '.agents[0] | "\(.version) \(.state)"' "$WORK/camp.json" >>"$WORK/camp_acked"
		fi
		if [ "$op" = pause ]; then op=resume; else op=pause; fi
		sleep 0.25
	done
}
# camp_check FILE: a line per acknowledged change missing from the disk
camp_check() {
	local cur state
	sqlite3 "$DB" "SELECT version FROM campaign_history WHERE name = '$C'" | sort -u >"$WORK/camp_hist"
	cut -d' ' -f1 "$1" | sort -u | comm -23 - "$WORK/camp_hist" | sed 's/^/not in the history: v/'
	[ -s "$1" ] || return 0
	cur=$(sqlite3 "$DB" "SELECT text FROM campaigns WHERE name = '$C'" | sed -n 's/^version=//p')
	state=$(sqlite3 "$DB" "SELECT text FROM campaigns WHERE name = '$C'" | sed -n 's/^state=//p')
	read -r v s < <(sort -n "$1" | tail -1)
	if [ "${cur:-0}" -lt "$v" ]; then
		echo "campaign at v$cur, v$v acknowledged"
	elif [ "$cur" -eq "$v" ] && [ "$state" != "$s" ]; then
		echo "campaign v$v is $state, acknowledged as $s"
	fi
}

launch || { fail "first start" "$(tail -5 "$D/log")"; exit 1; }
"$BUILD/tools/snapwatch" "$PUB" >"$WORK/watch" 2>/dev/null &
PIDS+=($!)
# stream: a fresh nudge-sim for each run.  It keeps sending through the
# kill and the restart, and is replaced once the new agent serves: a
# long-lived one stopped reconnecting after ~40 kills (nng 1.5.2's
# dialer; its send then timed out), which is not what this test is about
stream() {
	"$BUILD/nudge-sim" --push "ipc://$D/push.sock" --rate "$RATE" \
		--duration 600 --quiet 2>>"$WORK/sim.err" &
	SIM_NEXT=$!
	PIDS+=("$SIM_NEXT")
	if [ -n "${SIM:-}" ]; then
		kill -0 "$SIM" 2>/dev/null || {
			sim_died=$((sim_died + 1))
			echo "nudge-sim had stopped: $(tail -1 "$WORK/sim.err")"
		}
		kill "$SIM" 2>/dev/null
		wait "$SIM" 2>/dev/null
	fi
	SIM=$SIM_NEXT
}
sim_died=0
stream
: >"$WORK/acked"
: >"$WORK/camp_acked"
push_loop &
PUSHER=$!
PIDS+=("$PUSHER")
for _ in $(seq 1 50); do [ -s "$WORK/acked" ] && break; sleep 0.1; done
"$N" campaign start "$C" "${AG[@]}" >/dev/null 2>&1
expect_eq "the campaign is started" "$?" 0
camp_loop &
FLIPPER=$!
PIDS+=("$FLIPPER")
sleep 1

bad_integrity=0 bad_rules=0 bad_camp=0 bad_loss=0 bad_ready=0 bad_base=0
max_loss=0 max_ready=0 max_cpu=0 sum_rate=0 n_rate=0 restarts=0 idle=0
for run in $(seq 1 "$RUNS"); do
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.4 + (r % 200) / 100 }')"
	cp "$WORK/acked" "$WORK/acked.before"
	cp "$WORK/camp_acked" "$WORK/camp_acked.before"
	t_kill=$(now_ms)
	kill -9 "$AGENT"
	wait "$AGENT" 2>/dev/null
	# what the kill left on disk
	ic=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)
	[ "$ic" = ok ] || { bad_integrity=$((bad_integrity + 1)); echo "run $run: integrity: $ic"; }
	disk=$(sqlite3 "$DB" "SELECT value FROM counters WHERE name = 'events'" 2>&1)
	disk=${disk:-0}
	sqlite3 -separator ' ' "$DB" "SELECT version, substr(text, 8, instr(text, char(10)) - 8) FROM rule_sets WHERE kind = 0" \
		| sort >"$WORK/ondisk"
	missing=$(sort "$WORK/acked.before" | comm -23 - "$WORK/ondisk" | head -3)
	if [ -n "$missing" ]; then
		bad_rules=$((bad_rules + 1))
		echo "run $run: acknowledged rule versions missing or different on disk: $missing"
	fi
	missing=$(camp_check "$WORK/camp_acked.before" | head -3)
	if [ -n "$missing" ]; then
		bad_camp=$((bad_camp + 1))
		echo "run $run: acknowledged campaign changes lost: $missing"
	fi
	# the killed agent's snapshots: newest count the disk holds, the first
	# one (ingest starts after it), and the rate
	boot=$(awk -v t="$t_kill" '$3 == "snapshot" && $2 <= t { b = $5 } END { print b }' "$WORK/watch")
	read -r t_held t_first last rate < <(awk -v t="$t_kill" -v b="$boot" -v e="$disk" '
		$3 == "snapshot" && $5 == b && $2 <= t {
			split($7, kv, "="); n = kv[2] + 0
			if (n <= e) held = $2
			if (!f) { f = $2; fn = n }
			last = n; lt = $2
		}
		END {
			r = (lt > f) ? (last - fn) * 1000 / (lt - f) : 0
			printf "%.0f %.0f %.0f %.0f\n", held ? held : 0, f ? f : 0, last, r
		}' "$WORK/watch")
	# nothing counted before this start can be lost: the disk had it
	[ "$t_first" -eq 0 ] && t_first=$LAUNCH_T
	[ "$t_held" -lt "$t_first" ] && t_held=$t_first
	loss=$((t_kill - t_held))
	[ "$loss" -gt "$max_loss" ] && max_loss=$loss
	if [ "$loss" -gt "$LOSS_MS" ]; then
		bad_loss=$((bad_loss + 1))
		echo "run $run: counters lost the last $loss ms (disk $disk, published $last)"
	fi
	if [ "$rate" -gt 0 ]; then sum_rate=$((sum_rate + rate)); n_rate=$((n_rate + 1)); fi
	# the stream must have reached this run (a run shorter than a second
	# may see few snapshots: only those of a second or more count)
	if [ $((t_kill - t_first)) -ge 1000 ] && [ "$rate" -lt 10000 ]; then
		idle=$((idle + 1))
		echo "run $run: only $rate events/s reached the agent"
	fi
	# restart
	if ! launch; then
		fail "restart $run" "$(tail -5 "$D/log")"
		exit 1
	fi
	stream
	restarts=$((restarts + 1))
	[ "$READY_MS" -gt "$max_ready" ] && max_ready=$READY_MS
	[ "$READY_CPU" -gt "$max_cpu" ] && max_cpu=$READY_CPU
	[ "$READY_MS" -le "$READY" ] || {
		bad_ready=$((bad_ready + 1))
		echo "run $run: ping after $READY_MS ms (agent CPU $READY_CPU ms, load $(cut -d' ' -f1 /proc/loadavg))"
	}
	"$N" status --json --timeout 2000 "${AG[@]}" >"$WORK/status.json" 2>/dev/null
	ev=$(jq -r '.events // 0' "$WORK/status.json")
	[ "$ev" -ge "$disk" ] || { bad_base=$((bad_base + 1)); echo "run $run: restarted with events $ev < $disk on disk"; }
	echo "run $run: disk events $disk, lost <= $loss ms, ping after $READY_MS ms (CPU $READY_CPU ms), $rate events/s"
done
kill "$PUSHER" "$FLIPPER" "$SIM" 2>/dev/null
wait "$PUSHER" "$FLIPPER" "$SIM" 2>/dev/null
[ -n "${CRASH_KEEP:-}" ] && cp -r "$WORK" "$CRASH_KEEP"	# for debugging
sleep 0.3

expect_eq "$RUNS kills: PRAGMA integrity_check ok every time" "$bad_integrity" 0
expect_eq "$RUNS kills: every acknowledged rule version on disk with its text ($(wc -l <"$WORK/acked") acknowledged)" "$bad_rules" 0
expect_eq "$RUNS kills: every acknowledged campaign change on disk ($(wc -l <"$WORK/camp_acked") acknowledged)" "$bad_camp" 0
expect_eq "$RUNS kills: counters lost at most ${LOSS_MS} ms of events (worst: $max_loss ms)" "$bad_loss" 0
expect_eq "$RUNS kills: ping answered within $READY ms of every restart (worst: $max_ready ms, most CPU used by then: $max_cpu ms)" \
	"$bad_ready" 0
expect_eq "$RUNS kills: restarted counters start from the disk's" "$bad_base" 0
avg=$(( n_rate > 0 ? sum_rate / n_rate : 0 ))
echo "ingest rate while killed: $avg events/s on average (target ~50000)"
check "ingest ran at >= 20k events/s (saw $avg)" test "$avg" -ge 20000
expect_eq "the stream reached the agent in every run of a second or more" "$idle" 0
expect_eq "no nudge-sim stopped before its run ended" "$sim_died" 0

# the final agent serves the newest acknowledged version
newest=$(sort -n "$WORK/acked" | tail -1 | cut -d' ' -f1)
"$N" rules show "${AG[@]}" --json >"$WORK/show.json" 2>/dev/null
cur=$(jq -r '.agents[0].current' "$WORK/show.json")
check "the agent serves a version >= the newest acknowledged ($cur >= $newest)" test "$cur" -ge "$newest"
sqlite3 -separator ' ' "$DB" "SELECT version, substr(text, 8, instr(text, char(10)) - 8) FROM rule_sets WHERE kind = 0" \
	| sort >"$WORK/ondisk"
expect_eq "after all runs: every acknowledged version on disk" \
	"$(sort "$WORK/acked" | comm -23 - "$WORK/ondisk" | wc -l)" 0
expect_eq "after all runs: every acknowledged campaign change on disk" "$(camp_check "$WORK/camp_acked")" ""
"$N" campaign list "${AG[@]}" --json >"$WORK/camps.json" 2>/dev/null
read -r v s < <(sort -n "$WORK/camp_acked" | tail -1)
check "the agent serves the campaign at >= v${v:-0} ($(jq -r '.campaigns[0].agents[0] | "\(.state) v\(.version)"' "$WORK/camps.json"))" \
	test "$(jq -r '.campaigns[0].agents[0].version' "$WORK/camps.json")" -ge "${v:-0}"
kill -TERM "$AGENT"
wait "$AGENT"
expect_eq "a clean stop after the kills" "$?" 0
expect_eq "final PRAGMA integrity_check" "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok
if grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error' "$D/log"; then
	fail "sanitizer" "$(grep -m3 'Sanitizer\|runtime error' "$D/log")"
fi
exit 0
