#!/usr/bin/env bash
# A console frozen with SIGSTOP while 16 agents publish (issue 7, "Links
# and load"): the agents' memory and publish latency stay flat (PUB keeps
# a bounded queue per subscriber and drops the rest), the frozen
# console's loss is counted (LOST, from sequence gaps) and, once resumed
# with SIGCONT, it resyncs by itself: all 16 agents live again and its
# totals equal `nudge status --json`'s within a few seconds.
#
# 16 nudged on loopback, each fed by its own nudge-sim (--push, a modest
# combined rate), publishing often (snapshots every 100 ms, deltas every
# 20 ms, every event and session sampled) so that within the freeze the
# loopback socket buffers (4 MiB send side here) fill and PUB has to
# drop, one real TUI console in tmux, one snapwatch per agent
# as a healthy second subscriber that times each snapshot (receipt wall
# clock minus the envelope's ts).  STOP_S (default 60) is the freeze.
# builds: plain
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tmux.sh"
command -v tmux >/dev/null || { fail sigstop "tmux not installed"; exit 0; }
command -v jq >/dev/null || { fail sigstop "jq not installed"; exit 0; }
N_AGENTS=${N_AGENTS:-16}
STOP_S=${STOP_S:-60}
RATE=${RATE:-8}		# visitors/s per agent (~60 events/s each)
T="nudge-sigstop-$$"
TMUX_SESSIONS+=("$T")

cat >"$WORK/a.conf" <<CONF
[agent]
snapshot_ms = 100
delta_ms = 20
sample_events = 1000
sample_sessions = 1000
CONF
AG=()
names=()
for i in $(seq -w 1 "$N_AGENTS"); do
	n=a$i
	names+=("$n")
	start_agent "$n" --config "$WORK/a.conf" || exit 1
	eval "AG+=(--agent \"\$AGENT_PUB_$n\")"
done
pid_of() { eval "echo \$AGENT_PID_$1"; }
pub_of() { eval "echo \$AGENT_PUB_$1"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# feeders and healthy subscribers
for n in "${names[@]}"; do
	"$BUILD/nudge-sim" --push "ipc://$WORK/$n/push.sock" --rate "$RATE" \
		--duration $((STOP_S + 120)) --quiet >"$WORK/$n/sim.log" 2>&1 &
	PIDS+=($!)
	eval "SIM_$n=$!"
	"$BUILD/tools/snapwatch" "$(pub_of "$n")" >"$WORK/$n/watch" 2>&1 &
	PIDS+=($!)
done

# not exec'd: tmux sends SIGCONT to a pane's own process when it stops,
# so the console runs as the pane shell's child
tmux new-session -d -s "$T" -x 160 -y 50 \
	"$BUILD/nudge --history none ${AG[*]} 2>$WORK/console.err; sleep 1"
screen() { tm_screen "$T" "$WORK/screen.txt"; cat "$WORK/screen.txt"; }
wait_screen() { tm_expect "$T" "$WORK/screen.txt" "$2" "$1"; } # PATTERN SECONDS
live_count() { screen | grep -cE '^ *a[0-9]+ .* live '; }
wait_live() { # SECONDS: all agents live in the agents view
	for _ in $(seq 1 $(($1 * 5))); do
		[ "$(live_count)" -eq "$N_AGENTS" ] && return 0
		sleep 0.2
	done
	screen | sed 's/^/    | /'
	return 1
}
sleep 1
CPID=$(pgrep -P "$(tmux list-panes -t "$T" -F '#{pane_pid}')" -x nudge)
tmux send-keys -t "$T" 4
check "console shows all $N_AGENTS agents live" wait_live 20

# samples every agent's RSS into FILE (name kb per line)
sample_rss() {
	for n in "${names[@]}"; do echo "$n $(rss_kb "$(pid_of "$n")")"; done >"$1"
}
# latency stats of snapshots received in [FROM, TO) ms wall: "p50 p95 max n"
lat_stats() {
	cat "$WORK"/a*/watch | awk -v a="$1" -v b="$2" '$3 == "snapshot" {
		for (i = 4; i <= NF; i++) if ($i ~ /^ts=/) ts = substr($i, 4)
		if ($2 >= a && $2 < b) print $2 - ts }' | sort -n |
		awk '{ v[NR] = $1 } END {
			if (!NR) { print "0 0 0 0"; exit }
			i = int(NR * 0.5); if (i < 1) i = 1
			j = int(NR * 0.95); if (j < 1) j = 1
			print v[i], v[j], v[NR], NR }'
}
now_ms() { date +%s%3N; }

sleep 10 # warm-up: sessions, queues and allocator reach steady state
sample_rss "$WORK/rss0"
t0=$(now_ms)
sleep 15
t1=$(now_ms)
sample_rss "$WORK/rss1"

kill -STOP "$CPID"
sleep 0.5
check "console is stopped ($(cat /proc/$CPID/comm))" grep -q '^State:.*T' "/proc/$CPID/status"
half=$((STOP_S / 2))
sleep "$half"
sample_rss "$WORK/rss2"
sleep $((STOP_S - half - 3))
# the feed stops shortly before the thaw, so that totals are still
for n in "${names[@]}"; do eval "kill -INT \$SIM_$n"; done
sleep 3
t2=$(now_ms)
sample_rss "$WORK/rss3"
read -r b50 b95 bmax bn <<<"$(lat_stats "$t0" "$t1")"
read -r d50 d95 dmax dn <<<"$(lat_stats "$t1" "$t2")"
echo "    snapshot latency ms before: p50 $b50 p95 $b95 max $bmax ($bn)"
echo "    snapshot latency ms frozen: p50 $d50 p95 $d95 max $dmax ($dn)"
check "snapshots kept flowing to the healthy subscribers" test "$dn" -gt $((N_AGENTS * STOP_S))
# tolerance: a busy 2-core box; a queue growing with the frozen console
# would add seconds, not tens of ms
check "publish latency flat while the console is frozen (p95 $d95 <= 2*$b95+50 ms)" \
	test "$d95" -le $((2 * b95 + 50))
# RSS: PUB queues at most NNG_OPT_SENDBUF (1024) messages per pipe; the
# sessions the feed adds grow the table a little; 8 MiB per agent
worst=$(join "$WORK/rss1" "$WORK/rss3" | awk '{ d = $3 - $2; if (d > m) m = d } END { print m + 0 }')
mid=$(join "$WORK/rss1" "$WORK/rss2" | awk '{ d = $3 - $2; if (d > m) m = d } END { print m + 0 }')
base=$(join "$WORK/rss0" "$WORK/rss1" | awk '{ d = $3 - $2; if (d > m) m = d } END { print m + 0 }')
echo "    worst VmRSS growth per agent: ${base} KiB in 15 s live, ${mid} KiB at half freeze, ${worst} KiB at the end"
check "agents' memory flat while the console is frozen (+${worst} KiB <= 8192)" test "$worst" -le 8192

kill -CONT "$CPID"
tr0=$(now_ms)
check "console resumes: all $N_AGENTS agents live again" wait_live 10
# totals: the console's funnel against nudge status (all agents, now)
"$BUILD/nudge" status --json --timeout 3000 "${AG[@]}" >"$WORK/status.json"
want=$(jq '.funnel.steps[0].count' "$WORK/status.json")
up=$(jq '[.agents[] | select(.up)] | length' "$WORK/status.json")
expect_eq "nudge status sees all agents up" "$up" "$N_AGENTS"
tmux send-keys -t "$T" 2
check "console's funnel total equals nudge status ($want visits) after the thaw" \
	wait_screen "visit .* $want " 10
echo "    resynced in $(($(now_ms) - tr0)) ms after SIGCONT"
tmux send-keys -t "$T" 4
sleep 1
screen >"$WORK/agents.screen"
lost=$(awk '$1 ~ /^a[0-9]+$/ && $3 == "live" { s += $7; n++ } END { print s + 0, n + 0 }' "$WORK/agents.screen")
echo "    console LOST total over agents: ${lost% *} (${lost#* } rows)"
check "console counted the messages it missed (LOST > 0)" test "${lost% *}" -gt 0
# agent side: pub dropped (pdrop) as the console's agent detail shows it.
# The agent counts the sends nng refused; nng 1.5.2's PUB drops the
# oldest message of a full per-pipe queue silently, without telling the
# sender, so this stays 0 today: a known gap, reported as KNOWN.
pdrop=$(grep -o 'pub dropped [0-9]*' "$WORK/agents.screen" | awk '{ print $3 }')
echo "    agent a01 pub dropped: ${pdrop:-?}"
known "agent counted its drops to the frozen console (pdrop ${pdrop:-?} > 0)" \
	"nng 1.5.2's PUB drops the oldest queued message of a slow subscriber without telling the sender" \
	test "${pdrop:-0}" -gt 0
for n in "${names[@]}"; do
	if grep -q 'AddressSanitizer\|runtime error\|ERROR' "$WORK/$n/log"; then
		fail "agent $n log clean" "$(grep -m2 'AddressSanitizer\|runtime error\|ERROR' "$WORK/$n/log")"
	fi
done
pass "agent logs checked"
tmux send-keys -t "$T" q
exit 0
