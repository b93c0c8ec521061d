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
# usage: bench/console.sh [BUILD]   env: AGENTS, RATE, SECS, WARMUP,
# SHARDS (each agent's --shards; default 8, 1 above 16 agents: 64 small
# agents as tests/integration/relay.sh runs them), RELAYS=R (the console
# follows R relays, each following AGENTS/R agents), PERF=FILE to record a
# perf profile of the console between the views, and COMPARE=PATH to run
# a second console binary (say, the tree before a change) beside the
# first on the same agents: same load, same window, its own lines
# ("compare ..."), so that the two compare as a ratio.
set -u
BUILD=$(cd "${1:-build}" && pwd)
AGENTS=${AGENTS:-16}
RATE=${RATE:-50000}
SECS=${SECS:-20}
WARMUP=${WARMUP:-5}
if [ "$AGENTS" -gt 16 ]; then SHARDS=${SHARDS:-1}; else SHARDS=${SHARDS:-8}; fi
COMPARE=${COMPARE:-}
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
		--push "ipc://$d/p.sock" --db "$d/db" --shards "$SHARDS" -q \
		>"$d/log" 2>&1 &
	pids+=($!)
	args+=(--agent "tcp://127.0.0.1:$port,ipc://$d/c.sock")
done
# RELAYS=R: the console follows R relays, each following AGENTS/R agents
if [ "${RELAYS:-0}" -gt 0 ]; then
	per=$((AGENTS / RELAYS)) ups=("${args[@]}") args=()
	for r in $(seq 1 "$RELAYS"); do
		d="$WORK/r$r" up=()
		mkdir -p "$d"
		for i in $(seq $(((r - 1) * per)) $((r * per - 1))); do
			up+=(--upstream "${ups[$((2 * i + 1))]%%,*}")
		done
		port=$(free_port)
		"$BUILD/nudged" --relay --name "relay$r" --pub "tcp://127.0.0.1:$port" \
			--control "ipc://$d/c.sock" "${up[@]}" -q >"$d/log" 2>&1 &
		pids+=($!)
		args+=(--agent "tcp://127.0.0.1:$port,ipc://$d/c.sock")
	done
fi
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

start_console() { # session binary: the console's pid
	tmux -L "$TS" -f /dev/null new-session -d -s "$1" -x 80 -y 24 \
		"LANG=C.UTF-8 TERM=xterm-256color $2 --history none ${args[*]}"
	sleep 2
	pgrep -f -n "^$2 --history none"
}
sessions=(b)
cpids=("$(start_console b "$BUILD/nudge")")
if [ -n "$COMPARE" ]; then
	sessions+=(c)
	cpids+=("$(start_console c "$COMPARE")")
fi
for p in "${cpids[@]}"; do
	[ -n "$p" ] || { echo "console did not start"; exit 1; }
done
cpid=${cpids[0]}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
events() {
	"$BUILD/nudge" status --json --timeout 2000 "${args[@]}" 2>/dev/null |
		jq -r .events
}

measure() { # view-key view-name
	local t0=() t1=() e0 e1 s0 s1 i label
	for i in "${!sessions[@]}"; do
		tmux -L "$TS" send-keys -t "${sessions[$i]}" "$1"
	done
	sleep "$WARMUP"
	for i in "${!sessions[@]}"; do
		: >"$WORK/pipe-$2-$i"
		tmux -L "$TS" pipe-pane -o -t "${sessions[$i]}" "cat >>'$WORK/pipe-$2-$i'"
	done
	e0=$(events)
	s0=$(date +%s.%N)
	for i in "${!cpids[@]}"; do t0+=("$(ticks "${cpids[$i]}")"); done
	sleep "$SECS"
	for i in "${!cpids[@]}"; do t1+=("$(ticks "${cpids[$i]}")"); done
	s1=$(date +%s.%N)
	e1=$(events)
	for i in "${!sessions[@]}"; do
		tmux -L "$TS" pipe-pane -t "${sessions[$i]}"
		label=$2
		[ "$i" -gt 0 ] && label="compare $2"
		report "$label" "${t0[$i]}" "${t1[$i]}" "$s0" "$s1" "$e0" "$e1" \
			"$(stat -c %s "$WORK/pipe-$2-$i")" "${cpids[$i]}"
	done
}

report() { # label t0 t1 s0 s1 e0 e1 bytes pid
	awk -v v="$1" -v t0="$2" -v t1="$3" -v s0="$4" -v s1="$5" -v e0="$6" \
		-v e1="$7" -v b="$8" -v hz="$(getconf CLK_TCK)" \
		-v rss="$(awk '/VmHWM/ {print $2}' "/proc/$9/status")" \
		-v n="$AGENTS" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
		'BEGIN {
			el = s1 - s0
			printf "%-9s cpu %5.1f%% of one core   peak RSS %6.1f MB   terminal %7.0f B/s   agents took %6.0f events/s (%.0f per agent)   load %s\n",
			    v, (t1 - t0) / hz / el * 100, rss / 1024, b / el, (e1 - e0) / el, (e1 - e0) / el / n, load
		}'
}

echo "console benchmark: $AGENTS agents ($SHARDS shards each${RELAYS:+, behind $RELAYS relays}), target $RATE events/s, 80x24, ${SECS}s per view${COMPARE:+, beside $COMPARE}"
measure 1 overview
[ -n "${PERF:-}" ] && perf record -g -o "$PERF" -p "$cpid" -- sleep 10 >/dev/null 2>&1
measure 3 sessions
