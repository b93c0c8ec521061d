#!/usr/bin/env bash
# bench/console.sh - the console under load: N agents (default 16) fed by
# one simulator each at a combined ~RATE events/s (default 50000), the TUI
# in tmux at 80x24, on the overview and then the sessions view.  Prints
# per view: console CPU % of one core (utime+stime from /proc/PID/stat over
# SECS seconds), peak RSS (VmHWM), bytes written to the terminal per
# second (tmux pipe-pane of the console's pane), and the events/s the
# agents actually took.  Figures only, no asserts.  Goal: <= 10% of one
# core, <= 20 KB/s.
#
# usage: bench/console.sh [BUILD]   env: AGENTS, RATE, SECS, WARMUP, and
# PERF=FILE to record a perf profile of the console between the views.
set -u
BUILD=$(cd "${1:-build}" && pwd)
AGENTS=${AGENTS:-16}
RATE=${RATE:-50000}
SECS=${SECS:-20}
WARMUP=${WARMUP:-5}
EV_PER_VISITOR=9 # the simulator's mean (events / visitors of its truth)
WORK=$(mktemp -d /tmp/nudge-bconsole.XXXXXX)
TS="nudge-bc-$$"
pids=()
cleanup() {
	disown -a 2>/dev/null
	tmux -L "$TS" kill-server >/dev/null 2>&1
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

args=()
for i in $(seq 1 "$AGENTS"); do
	d="$WORK/a$i"
	mkdir -p "$d"
	port=$(free_port)
	"$BUILD/nudged" --name "a$i" --pub "tcp://127.0.0.1:$port" \
		--control "ipc://$d/c.sock" --ingest "ipc://$d/i.sock" \
		--push "ipc://$d/p.sock" --db "$d/db" -q >"$d/log" 2>&1 &
	pids+=($!)
	args+=(--agent "tcp://127.0.0.1:$port,ipc://$d/c.sock")
done
for _ in $(seq 1 50); do
	"$BUILD/nudge" status --timeout 500 "${args[@]}" >/dev/null 2>&1 && break
	sleep 0.2
done

vrate=$(awk -v r="$RATE" -v n="$AGENTS" -v e="$EV_PER_VISITOR" \
	'BEGIN { printf "%.1f", r / n / e }')
for i in $(seq 1 "$AGENTS"); do
	"$BUILD/nudge-sim" --seed "$i" --rate "$vrate" --visitors 0 \
		--push "ipc://$WORK/a$i/p.sock" --batch 200 \
		>/dev/null 2>"$WORK/sim$i.log" &
	pids+=($!)
done

tmux -L "$TS" -f /dev/null new-session -d -s b -x 80 -y 24 \
	"LANG=C.UTF-8 TERM=xterm-256color $BUILD/nudge --history none ${args[*]}"
sleep 2
cpid=$(pgrep -f -n "^$BUILD/nudge --history none")
[ -n "$cpid" ] || { echo "console did not start"; exit 1; }

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
events() {
	"$BUILD/nudge" status --json --timeout 2000 "${args[@]}" 2>/dev/null |
		jq -r .events
}

measure() { # view-key view-name
	local out="$WORK/pipe-$2" t0 t1 e0 e1 s0 s1 b
	tmux -L "$TS" send-keys -t b "$1"
	sleep "$WARMUP"
	: >"$out"
	tmux -L "$TS" pipe-pane -o -t b "cat >>'$out'"
	e0=$(events)
	s0=$(date +%s.%N)
	t0=$(ticks "$cpid")
	sleep "$SECS"
	t1=$(ticks "$cpid")
	s1=$(date +%s.%N)
	e1=$(events)
	tmux -L "$TS" pipe-pane -t b
	b=$(stat -c %s "$out")
	awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" \
		-v b="$b" -v e0="$e0" -v e1="$e1" -v v="$2" -v rss="$(awk '/VmHWM/ {print $2}' /proc/"$cpid"/status)" \
		'BEGIN {
			el = s1 - s0
			printf "%-9s cpu %5.1f%% of one core   peak RSS %6.1f MB   terminal %7.0f B/s   agents took %6.0f events/s\n",
			    v, (t1 - t0) / hz / el * 100, rss / 1024, b / el, (e1 - e0) / el
		}'
}

echo "console benchmark: $AGENTS agents, target $RATE events/s, 80x24, ${SECS}s per view"
measure 1 overview
[ -n "${PERF:-}" ] && perf record -g -o "$PERF" -p "$cpid" -- sleep 10 >/dev/null 2>&1
measure 3 sessions
