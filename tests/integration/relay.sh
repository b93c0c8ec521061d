#!/usr/bin/env bash
# Fleets: RELAY_AGENTS agents (default 64) on loopback behind RELAY_RELAYS
# relays (default 4, `nudged --relay`), fed by nudge-sim with fixed seeds.
# A console following only the relays sees the merged funnel, events and
# purchases equal to the sum of the simulators' truth exactly; `nudge rules
# push` and `nudge campaign pause` through the relays report one
# acknowledgement per agent and every agent holds the change; a relay
# killed with SIGKILL and restarted loses no acknowledged change (the agents
# hold them) and the console-side totals recover exactly, including traffic
# sent while it was down.
# RELAY_AGENTS=8 RELAY_RELAYS=2 for a quick run.  Under the sanitizers
# (about 200 MB RSS per process) the default is 16 agents behind 4 relays.
. "$(dirname "$0")/lib/common.sh"
if nm "$BUILD/nudged" 2>/dev/null | grep -q __asan_init; then def_na=16; else def_na=64; fi
NA=${RELAY_AGENTS:-$def_na}
NR=${RELAY_RELAYS:-4}
PER=$((NA / NR))
N=$BUILD/nudge
# agents are small: one shard, no beacon endpoint, 200 ms snapshots
export NUDGE_HTTP_LISTEN=

# start_node DIR ARGS...: nudged in the background, pid in DIR/pid
start_node() {
	local dir=$1
	shift
	mkdir -p "$dir"
	"$BUILD/nudged" "$@" >>"$dir/log" 2>&1 &
	echo $! >"$dir/pid"
	PIDS+=("$!")
}

# new_port DIR: a free port no other node of this test took, in DIR/port
USED=" "
new_port() {
	local p
	while :; do
		p=$(free_port) || return 1
		case $USED in *" $p "*) continue ;; esac
		USED="$USED$p "
		echo "$p" >"$1/port"
		return 0
	done
}
start_agent_n() { # i
	local d=$WORK/a$1
	start_node "$d" --name "a$1" --pub "tcp://127.0.0.1:$(cat "$d/port")" \
		--control "ipc://$d/control.sock" --ingest "ipc://$d/ingest.sock" \
		--push "ipc://$d/push.sock" --db "$d/nudged.db" --shards 1 \
		--snapshot-ms 500
}
for i in $(seq 1 "$NA"); do
	mkdir -p "$WORK/a$i"
	new_port "$WORK/a$i"
	start_agent_n "$i"
done
# a port somebody else took meanwhile: another one (a few tries)
for _ in 1 2 3; do
	sleep 1
	for i in $(seq 1 "$NA"); do
		d=$WORK/a$i
		if ! kill -0 "$(cat "$d/pid")" 2>/dev/null && grep -q 'in use' "$d/log"; then
			: >"$d/log"
			new_port "$d"
			start_agent_n "$i"
		fi
	done
done
AG_PUB=()
for i in $(seq 1 "$NA"); do AG_PUB+=("tcp://127.0.0.1:$(cat "$WORK/a$i/port")"); done

# start_relay R: relay R follows agents (R-1)*PER+1 .. R*PER
RL_PUB=()
start_relay() {
	local r=$1 d=$WORK/r$1 ups=()
	mkdir -p "$d"
	[ -f "$d/port" ] || new_port "$d"
	for i in $(seq $(((r - 1) * PER + 1)) $((r * PER))); do
		ups+=(--upstream "${AG_PUB[$((i - 1))]}")
	done
	start_node "$d" --relay --name "relay$r" --pub "tcp://127.0.0.1:$(cat "$d/port")" \
		--control "ipc://$d/control.sock" --snapshot-ms 500 "${ups[@]}"
}
for r in $(seq 1 "$NR"); do
	start_relay "$r"
	RL_PUB+=("tcp://127.0.0.1:$(cat "$WORK/r$r/port")")
done
RL=()
for p in "${RL_PUB[@]}"; do RL+=(--agent "$p"); done
AG=()
for p in "${AG_PUB[@]}"; do AG+=(--agent "$p"); done

# up ARGS...: waits until `nudge status` sees every agent given up
up() {
	for _ in $(seq 1 60); do
		"$N" status --json --timeout 3000 "$@" >"$WORK/up.json" 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}
check "$NA agents up" up "${AG[@]}"
check "$NR relays up" up "${RL[@]}"

# sim SEED-BASE: one simulator per agent, 4 at a time, truth in $WORK/t*
sims() {
	local base=$1 sp=()
	for i in $(seq 1 "$NA"); do
		"$BUILD/nudge-sim" --seed $((base + i)) --visitors 200 \
			--ingest "ipc://$WORK/a$i/ingest.sock" \
			--truth "$WORK/t$base-$i.json" 2>>"$WORK/sim.log" &
		sp+=($!)
		if [ ${#sp[@]} -ge 4 ]; then wait "${sp[@]}"; sp=(); fi
	done
	[ ${#sp[@]} -eq 0 ] || wait "${sp[@]}"
}
truth_funnel() {
	jq -s -r '[.[].funnel] | [ (map(.visit)|add), (map(.product)|add), (map(.cart)|add), (map(.checkout)|add), (map(.purchase)|add) ] | map(tostring) | join(",")' "$WORK"/t*.json
}
truth_sum() { jq -s -r "map($1) | add" "$WORK"/t*.json; }
status_funnel() { jq -r '[.funnel.steps[].count] | map(tostring) | join(",")' "$1"; }

# settle: until the relays' merged events equal the truth (or 30 s)
settle() {
	local want got
	want=$(truth_sum .events)
	for _ in $(seq 1 60); do
		"$N" status --json --timeout 3000 "${RL[@]}" >"$WORK/status.json" 2>"$WORK/status.err"
		got=$(jq -r .events "$WORK/status.json" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		sleep 0.5
	done
	echo "events: relays say $got, truth $want"
	return 1
}

t0=$(date +%s.%N)
sims 1000
t1=$(date +%s.%N)
check "truth written for $NA simulators" test "$(ls "$WORK"/t1000-*.json | wc -l)" = "$NA"
check "relays' merged events reach the truth" settle
expect_eq "merged events = sum of the agents'" "$(jq -r .events "$WORK/status.json")" "$(truth_sum .events)"
expect_eq "merged funnel = sum of the agents'" "$(status_funnel "$WORK/status.json")" "$(truth_funnel)"
expect_eq "merged purchases = sum of the agents'" "$(jq -r .purchases "$WORK/status.json")" "$(truth_sum .purchases)"
"$N" status --json --timeout 3000 "${AG[@]}" >"$WORK/direct.json" 2>/dev/null
expect_eq "relays' counters = the agents' own, followed directly" \
	"$(jq -c '[.events, .purchases, .revenue, .counters]' "$WORK/status.json")" \
	"$(jq -c '[.events, .purchases, .revenue, .counters]' "$WORK/direct.json")"
expect_eq "a console sees $NR agents (the relays)" "$(jq -r '.agents|length' "$WORK/status.json")" "$NR"
echo "# $(truth_sum .events) events into $NA agents in $(echo "$t1 - $t0" | bc) s"

# a sample of sessions and events comes through a relay under its name
"$BUILD/nudge-sim" --seed 7 --visitors 50 --rate 50 --ingest "ipc://$WORK/a1/ingest.sock" \
	--truth "$WORK/t7.json" 2>>"$WORK/sim.log" &
simpid=$!
"$BUILD/tools/snapwatch" "${RL_PUB[0]}" 2 >"$WORK/sub.txt" 2>/dev/null
wait $simpid
check "relay1 republishes sampled events" grep -q ' event ' "$WORK/sub.txt"
check "relay1 republishes sampled sessions" grep -q ' session ' "$WORK/sub.txt"
check "  and deltas" grep -q ' delta ' "$WORK/sub.txt"
check "  nothing undecodable" sh -c "! grep -q ' bad ' '$WORK/sub.txt'"
# `sessions` through a relay: one merged answer, as the agents' own merged
R1AG=()
for i in $(seq 1 "$PER"); do R1AG+=(--agent "${AG_PUB[$((i - 1))]}"); done
"$N" top --once --view sessions --json --agent "${RL_PUB[0]}" >"$WORK/sess_r.json" 2>"$WORK/sess_r.err"
"$N" top --once --view sessions --json "${R1AG[@]}" >"$WORK/sess_d.json" 2>/dev/null
check "nudge top sessions through relay1 lists sessions" test "$(jq length "$WORK/sess_r.json")" -gt 0
expect_eq "  the same list as from relay1's $PER agents directly" "$(jq -c . "$WORK/sess_r.json" | md5sum)" "$(jq -c . "$WORK/sess_d.json" | md5sum)"

# rules push through the relays: one acknowledgement per agent
cat >"$WORK/one.rules" <<'EOF'
funnel shop: visit -> page ~ "/product/" -> event == "add_to_cart"
           -> page == "/checkout" -> event == "purchase"

rule hello:
  when page ~ "/product/"
  show banner "hello"

campaign relay_test on funnel shop goal purchase:
  split control 50, variant_b 50
  variant_b: enable rule hello
EOF
"$N" rules push "$WORK/one.rules" --json "${RL[@]}" >"$WORK/push.json" 2>"$WORK/push.err"
expect_eq "rules push through $NR relays: exit 0" "$?" "0"
expect_eq "  $NA per-agent acknowledgements" "$(jq '[.agents[]|select(.ok)]|length' "$WORK/push.json")" "$NA"
V=$(jq -r .version "$WORK/push.json")
expect_eq "  every acknowledgement names version $V" "$(jq -r "[.agents[]|select(.version==$V)]|length" "$WORK/push.json")" "$NA"
expect_eq "  the agents' names, each once" "$(jq -r '[.agents[].name]|unique|length' "$WORK/push.json")" "$NA"
"$N" rules push "$WORK/one.rules" --version "$V" "${RL[@]}" >"$WORK/push.txt" 2>&1
expect_eq "  text output: one line per agent" "$(grep -c "acknowledged version $V" "$WORK/push.txt")" "$NA"
# every agent holds it, asked directly
has_version() { # want
	for _ in $(seq 1 20); do
		"$N" status --json --timeout 3000 "${AG[@]}" >"$WORK/v.json" 2>/dev/null
		[ "$(jq -r "[.agents[]|select(.rules_version==$1)]|length" "$WORK/v.json")" = "$NA" ] && return 0
		sleep 0.5
	done
	return 1
}
check "  all $NA agents run version $V (asked directly)" has_version "$V"

# campaigns through the relays
"$N" campaign start relay_test "${RL[@]}" >"$WORK/start.txt" 2>&1
expect_eq "campaign start through relays: exit 0" "$?" "0"
"$N" campaign pause relay_test --json "${RL[@]}" >"$WORK/pause.json" 2>&1
expect_eq "campaign pause through relays: exit 0" "$?" "0"
expect_eq "  $NA agents acknowledge paused" "$(jq -r '[.agents[]|select(.result=="ok" and .state=="paused")]|length' "$WORK/pause.json")" "$NA"
"$N" campaign show relay_test --json "${AG[@]}" >"$WORK/cshow.json" 2>/dev/null
expect_eq "  every agent holds it paused (asked directly)" "$(jq -r '[.agents[]|select(.state=="paused")]|length' "$WORK/cshow.json")" "$NA"
expect_eq "  campaign show (agents directly): paused" "$(jq -r .state "$WORK/cshow.json")" "paused"
"$N" campaign show relay_test --json "${RL[@]}" >"$WORK/rshow.json" 2>/dev/null
expect_eq "  campaign show through the relays: the same $NA agents, paused" \
	"$(jq -c '[.state, (.agents|length), ([.agents[]|select(.state=="paused")]|length)]' "$WORK/rshow.json")" \
	"$(jq -c '[.state, (.agents|length), ([.agents[]|select(.state=="paused")]|length)]' "$WORK/cshow.json")"

# a relay killed with SIGKILL: nothing acknowledged is lost, totals recover
kill -9 "$(cat "$WORK/r1/pid")"
wait "$(cat "$WORK/r1/pid")" 2>/dev/null
"$N" rules push "$WORK/one.rules" --json --version $((V + 1)) "${RL[@]}" >"$WORK/push2.json" 2>/dev/null
expect_eq "push with relay1 down: exit 3 (unreachable)" "$?" "3"
expect_eq "  the $((NA - PER)) agents behind the other relays acknowledge" \
	"$(jq "[.agents[]|select(.ok and .version==$((V + 1)))]|length" "$WORK/push2.json")" "$((NA - PER))"
sims 2000
start_relay 1
check "relay1 back up" up "${RL[@]}"
check "after the restart the merged events reach the new truth" settle
expect_eq "  merged funnel = sum of the agents' (both rounds)" "$(status_funnel "$WORK/status.json")" "$(truth_funnel)"
expect_eq "  merged purchases" "$(jq -r .purchases "$WORK/status.json")" "$(truth_sum .purchases)"
"$N" rules show --json "${RL[@]}" >"$WORK/show.json" 2>/dev/null
behind1=$(jq -r "[.agents[]? | select(.version==$V)] | length" "$WORK/show.json" 2>/dev/null)
"$N" status --json --timeout 3000 "${AG[@]}" >"$WORK/v2.json" 2>/dev/null
expect_eq "  relay1's agents still hold version $V (acknowledged before the kill)" \
	"$(jq -r "[.agents[0:$PER][]|select(.rules_version==$V)]|length" "$WORK/v2.json")" "$PER"
expect_eq "  the others hold version $((V + 1))" \
	"$(jq -r "[.agents[$PER:][]|select(.rules_version==$((V + 1)))]|length" "$WORK/v2.json")" "$((NA - PER))"
"$N" rules push "$WORK/one.rules" --version $((V + 1)) "${RL[@]}" >"$WORK/push3.txt" 2>&1
expect_eq "  re-push through the restarted relay: $NA acknowledgements" "$(grep -c "acknowledged version $((V + 1))" "$WORK/push3.txt")" "$NA"
: "$behind1"

# what a relay costs with PER agents behind it, under sustained traffic
# (README "Fleet sizing"): RELAY_RATE visitors/s into each of relay2's
# agents for RELAY_SECONDS
rate=${RELAY_RATE:-100}
secs=${RELAY_SECONDS:-10}
pid=$(cat "$WORK/r2/pid")
ev() { "$N" status --json --timeout 3000 --agent "${RL_PUB[1]}" 2>/dev/null | jq -r .events; }
e0=$(ev)
c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
s0=$(date +%s.%N)
sp=()
for i in $(seq $((PER + 1)) $((2 * PER))); do
	"$BUILD/nudge-sim" --seed $((4000 + i)) --rate "$rate" --duration "$secs" \
		--ingest "ipc://$WORK/a$i/ingest.sock" --truth "$WORK/t4000-$i.json" 2>>"$WORK/sim.log" &
	sp+=($!)
done
wait "${sp[@]}"
c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
s1=$(date +%s.%N)
sleep 1.5
e1=$(ev)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
wall=$(echo "$s1 - $s0" | bc -l)
echo "# relay with $PER agents: $(echo "($e1 - $e0) / $wall" | bc) events/s merged," \
	"$(echo "100 * ($c1 - $c0) / $(getconf CLK_TCK) / $wall" | bc -l | cut -c1-4)% of a core," \
	"RSS ${rss} kB (over $(echo "$wall" | cut -c1-4) s)"
check "relay2 still exact after the sustained run" settle
# an agent going down takes its share out of its relay's totals (the relay
# publishes a snapshot when a merged counter goes down); back up, it is in
# again, exactly
"$N" status --json --timeout 3000 --agent "${AG_PUB[0]}" >"$WORK/a1.json" 2>/dev/null
a1ev=$(jq -r .events "$WORK/a1.json")
kill -TERM "$(cat "$WORK/a1/pid")"
wait "$(cat "$WORK/a1/pid")" 2>/dev/null
want_less=$(($(truth_sum .events) - a1ev))
down_ok=false
for _ in $(seq 1 40); do
	got=$("$N" status --json --timeout 3000 "${RL[@]}" 2>/dev/null | jq -r .events)
	[ "$got" = "$want_less" ] && { down_ok=true; break; }
	sleep 0.5
done
check "a1 down: the relays' events = the truth minus a1's $a1ev" $down_ok
start_agent_n 1
check "a1 back: the relays' events = the truth again" settle
expect_eq "  and the funnel" "$(status_funnel "$WORK/status.json")" "$(truth_funnel)"

# a graceful stop of everything (64 agents take longer than cleanup waits)
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
wait "${PIDS[@]}" 2>/dev/null
check "no sanitizer report from the relays" sh -c "! grep -lE 'ERROR: |runtime error' '$WORK'/r*/log"
exit 0
