#!/usr/bin/env bash
# relay_views.sh - relays behind relays, seen by the console's own views.
# Agents a1, a2 behind relay A; relay A and agent a3 behind relay B; the
# console and the CLI follow only B (so every answer from a1 or a2 comes
# in an envelope nested in B's).  Through B, with fixed-seed simulators:
# the merged funnel, events and purchases equal the truth exactly; `nudge
# rules push` reports one acknowledgement per agent (3); `nudge top --once`
# started after the traffic back-fills 'Sessions today' to the truth;
# `nudge top --once --view sessions` lists what the agents list directly;
# the TUI opens a visitor's detail; the rules view pushes and shows each
# agent's acknowledgement under the relay, and automatic reconciliation
# brings B's agents up to a directly followed agent's newer set; scripted
# clicks spread over the three agents draw the right heatmap cells (view
# 5, as heat.sh) and A and B republish the agents' HEAT increments, merged,
# exactly (tools/heatsum).
# Then a relay that follows an agent over tls+tcp:// and is followed over
# tls+tcp:// gives the right numbers (no TLS peer is killed: README's nng
# 1.5.2 descriptor leak).
. "$(dirname "$0")/lib/common.sh"
command -v tmux >/dev/null || { fail tmux "tmux not installed"; exit 1; }
TMUX_SOCKET="nudge-rv-$$"
. "$(dirname "$0")/lib/tmux.sh"
N=$BUILD/nudge
export NUDGE_HTTP_LISTEN=

start_agent a1 --shards 1 --snapshot-ms 500 || exit 1
start_agent a2 --shards 1 --snapshot-ms 500 || exit 1
start_agent a3 --shards 1 --snapshot-ms 500 || exit 1
spec() { eval "echo \$AGENT_PUB_$1,ipc://$WORK/$1/control.sock"; }

# start_relay NAME UPSTREAM...: sets RELAY_<NAME> to its PUB,CTL spec
start_relay() {
	local name=$1 d=$WORK/$1 port ups=()
	shift
	mkdir -p "$d"
	port=$(free_port)
	for u in "$@"; do ups+=(--upstream "$u"); done
	"$BUILD/nudged" --relay --name "$name" --pub "tcp://127.0.0.1:$port" \
		--control "ipc://$d/control.sock" --snapshot-ms 500 "${ups[@]}" \
		>>"$d/log" 2>&1 &
	PIDS+=("$!")
	eval "RELAY_$name=tcp://127.0.0.1:$port,ipc://$d/control.sock"
}
start_relay rA "$(spec a1)" "$(spec a2)"
start_relay rB "$RELAY_rA" "$(spec a3)"
B=$RELAY_rB
DIRECT=(--agent "$(spec a1)" --agent "$(spec a2)" --agent "$(spec a3)")

up() { # [--config FILE] ARGS: until `nudge status` sees them all up
	local conf=()
	if [ "$1" = --config ]; then conf=(--config "$2"); shift 2; fi
	for _ in $(seq 1 60); do
		"$N" "${conf[@]}" status --json --timeout 3000 "$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}
check "relay B (behind it relay A) up" up --agent "$B"

for i in 1 2 3; do
	"$BUILD/nudge-sim" --seed $((60 + i)) --visitors $((40 * i + 60)) \
		--ingest "ipc://$WORK/a$i/ingest.sock" --truth "$WORK/t$i.json" \
		2>>"$WORK/sim.log" || fail "sim a$i" "nudge-sim failed"
done
sum() { jq -s -r "map($1) | add" "$WORK"/t[123].json; }
truth_funnel() {
	jq -s -r '[.[].funnel] | [ (map(.visit)|add), (map(.product)|add), (map(.cart)|add), (map(.checkout)|add), (map(.purchase)|add) ] | map(tostring) | join(",")' "$WORK"/t[123].json
}
status_funnel() { jq -r '[.funnel.steps[].count] | map(tostring) | join(",")' "$1"; }
settle() { # PUBSPEC [CONFIG]: until its events equal the truth (30 s)
	local want got
	want=$(sum .events)
	for _ in $(seq 1 60); do
		"$N" ${2:+--config "$2"} status --json --timeout 3000 --agent "$1" >"$WORK/status.json" 2>/dev/null
		got=$(jq -r .events "$WORK/status.json" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		sleep 0.5
	done
	echo "    events: $got, truth $want"
	return 1
}

# ---- merged numbers through two relays
check "B's merged events reach the truth" settle "$B"
expect_eq "merged funnel through A and B = the truth" "$(status_funnel "$WORK/status.json")" "$(truth_funnel)"
expect_eq "merged purchases = the truth" "$(jq -r .purchases "$WORK/status.json")" "$(sum .purchases)"
expect_eq "B looks like one agent" "$(jq -r '.agents|length' "$WORK/status.json")" "1"

# ---- history back-fill through B: a console started after the traffic
"$N" top --once --agent "$B" >"$WORK/frame.txt" 2>"$WORK/frame.err"
check "top --once through B: Sessions today = the truth ($(sum .visitors))" \
	grep -qE "^ Sessions today +$(sum .visitors)( |$)" "$WORK/frame.txt"
grep -E "^ Sessions today" "$WORK/frame.txt" | sed 's/^/    /'
rev=$(sum .revenue_cents)
check "  and Revenue today" grep -qE "^ Revenue today +$(printf '%d.%02d' $((rev / 100)) $((rev % 100)))( |$)" "$WORK/frame.txt"

# ---- sessions through B = the agents' own, merged
"$N" top --once --view sessions --json --agent "$B" >"$WORK/sess_b.json" 2>/dev/null
"$N" top --once --view sessions --json "${DIRECT[@]}" >"$WORK/sess_d.json" 2>/dev/null
check "top sessions through B lists sessions" test "$(jq length "$WORK/sess_b.json")" -gt 0
expect_eq "  the same list as from the 3 agents directly" \
	"$(jq -c . "$WORK/sess_b.json" | md5sum)" "$(jq -c . "$WORK/sess_d.json" | md5sum)"
"$N" top --once --view sessions --agent "$B" >"$WORK/sess.txt" 2>/dev/null
check "top --once --view sessions text through B" grep -qE "shown of $(sum .visitors)" "$WORK/sess.txt"

# ---- rules push through B: one acknowledgement per agent
printf 'rule hello:\n  when page ~ "/product/"\n  show banner "hello"\n' >"$WORK/one.rules"
"$N" rules push "$WORK/one.rules" --json --agent "$B" >"$WORK/push.json" 2>"$WORK/push.err"
expect_eq "rules push through B: exit 0" "$?" "0"
expect_eq "  3 per-agent acknowledgements" "$(jq '[.agents[]|select(.ok)]|length' "$WORK/push.json")" "3"
expect_eq "  named a1, a2, a3" "$(jq -r '[.agents[]|select(.ok)|.name]|sort|join(",")' "$WORK/push.json")" "a1,a2,a3"
V=$(jq -r .version "$WORK/push.json")

# ---- the TUI through B
screen() { tm_screen "$1" "$WORK/$1.txt"; }
wait_screen() { tm_wait "$1" "$WORK/$1.txt" "${3:-10}" "$2"; } # NAME PATTERN [SECONDS]
keys() { tm send-keys -t "$@"; }
shot() { echo "--- screen"; cat "$WORK/$1.txt"; }
cat >"$WORK/editor.sh" <<'ED'
#!/bin/sh
printf 'rule cart:\n  when event == "add_to_cart"\n  show message "ok"\n' >>"$1"
ED
chmod +x "$WORK/editor.sh"
console() { # NAME: the console on B in an 80x24 tmux, ASCII locale
	tm -f /dev/null new-session -d -s "$1" -x 80 -y 24 \
		"env LANG=C LC_ALL=C TERM=xterm EDITOR=$WORK/editor.sh $N --agent $B --history $WORK/$1.db 2>$WORK/$1.err; echo EXIT=\$? >$WORK/$1.exit; sleep 30"
	wait_screen "$1" "1 agents up"
}
quit_console() {
	keys "$1" q
	for _ in $(seq 1 50); do
		[ -s "$WORK/$1.exit" ] && break
		sleep 0.1
	done
	expect_eq "console $1 quits cleanly" "$(cat "$WORK/$1.exit" 2>/dev/null)" "EXIT=0"
}
console c1 || fail "console on B up" "$(cat "$WORK/c1.err")"
check "TUI overview through B: Sessions today = the truth" \
	wait_screen c1 "^ Sessions today +$(sum .visitors) " 30
keys c1 3
wait_screen c1 "shown of [0-9]+" || fail "sessions view" "$(shot c1)"
keys c1 Enter
if wait_screen c1 "EVENT / PAGE"; then
	pass "visitor detail through two relays: the path shown"
else
	fail "visitor detail through two relays" "$(shot c1)"
fi
# the one agent behind the relays that has the visitor answered: its
# session as the agents list it directly
vid=$(grep -oE 'Visitor [^ ]+ on rB' "$WORK/c1.txt" | awk '{print $2}')
pages=$(grep -oE '^ pages [0-9]+' "$WORK/c1.txt" | awk '{print $2}')
expect_eq "  $vid's pages = the agents' own record" "${pages:-none shown}" \
	"$(jq -r --arg v "$vid" '.[] | select(.visitor == $v) | .pages' "$WORK/sess_d.json")"
# a message from the detail, through two relays: the one agent that holds
# the visitor queues it, the others answer "not found" (which answer the
# detail reports when none queued it: test_relayenv's first error)
keys c1 m && keys c1 -l "Hello through relays" && keys c1 Enter
sleep 0.3 && keys c1 y
check "message from the detail through two relays: queued by its agent" \
	wait_screen c1 "banner queued"
keys c1 Escape
keys c1 7
wait_screen c1 "rB +$V " || fail "rules view shows B at version $V" "$(shot c1)"
# e asks B for the text; while another view's call holds the link (one
# call per link, a relay's answer takes longer) the view says "try again"
for _ in 1 2 3 4 5; do
	keys c1 e
	wait_screen c1 "push as version $((V + 1)) to rB\?|try again" 8
	grep -q "push as version" "$WORK/c1.txt" && break
	sleep 1
done
grep -q "push as version $((V + 1)) to rB?" "$WORK/c1.txt" || fail "rules view: confirm" "$(shot c1)"
keys c1 y
if wait_screen c1 "3 of 3 acknowledged version $((V + 1))"; then
	pass "rules view push through B: the relay's row counts 3 acknowledgements"
else
	fail "rules view push through B" "$(shot c1)"
fi
expect_eq "  one line per agent behind it" \
	"$(grep -cE "^ +a[123] .*via relay +acknowledged version $((V + 1))" "$WORK/c1.txt")" "3"
quit_console c1
"$N" status --json "${DIRECT[@]}" >"$WORK/v.json" 2>/dev/null
expect_eq "  every agent runs version $((V + 1)) (asked directly)" \
	"$(jq -r "[.agents[]|select(.rules_version==$((V + 1)))]|length" "$WORK/v.json")" "3"

# ---- automatic reconciliation through B: a4 (followed directly) runs a
# newer set; the console pushes it to B, which forwards it to its 3 agents
start_agent a4 --shards 1 --snapshot-ms 500 || exit 1
"$N" rules push "$WORK/one.rules" --version $((V + 2)) --agent "$(spec a4)" >/dev/null 2>&1 ||
	fail "push version $((V + 2)) to a4" "exit $?"
tm -f /dev/null new-session -d -s c3 -x 80 -y 24 \
	"env LANG=C LC_ALL=C TERM=xterm $N --reconcile auto --agent $B --agent $(spec a4) --history $WORK/c3.db 2>$WORK/c3.err; echo EXIT=\$? >$WORK/c3.exit; sleep 30"
wait_screen c3 "2 agents up" || fail "reconciling console up" "$(shot c3)"
keys c3 7
# (80 columns cut the acknowledgement after "versi")
if wait_screen c3 "^ rB +$((V + 2)) .*auto: 3 of 3 acknowledged" 20; then
	pass "auto reconcile through B: 3 of 3 agents behind it acknowledge"
else
	fail "auto reconcile through B" "$(shot c3)"
fi
quit_console c3
"$N" status --json "${DIRECT[@]}" >"$WORK/v.json" 2>/dev/null
expect_eq "  every agent behind B runs version $((V + 2)) (asked directly)" \
	"$(jq -r "[.agents[]|select(.rules_version==$((V + 2)))]|length" "$WORK/v.json")" "3"

# ---- heatmaps through B: heat.sh's clicks, spread over the three agents
# /relay/boots: 300 clicks at (0.5, 0.1) (150 on a1, 150 on a3), 100 at
# (100, 900) permille on a2, 50 on the corner on a3; 10 scrolling visitors
# on a2 (4 to the bottom, 6 to 50%).  Ten times heat.sh's clicks, so the
# same cells light with the same ramp characters, and /relay/boots has
# more clicks than any page of the simulator: it lists first.
clicks() { # N X Y
	for i in $(seq 1 "$1"); do
		echo "{\"type\":\"click\",\"visitor\":\"h$((i % 10))\",\"page\":\"/relay/boots\",\"x\":$2,\"y\":$3}"
	done
}
scrolls() {
	for i in $(seq 1 10); do
		echo "{\"type\":\"scroll\",\"visitor\":\"s$i\",\"page\":\"/relay/boots\",\"scroll\":250}"
		if [ "$i" -le 4 ]; then d=1000; else d=500; fi
		echo "{\"type\":\"scroll\",\"visitor\":\"s$i\",\"page\":\"/relay/boots\",\"scroll\":$d}"
	done
}
# what A and B publish: every agent's increments, merged (tools/heatsum)
"$BUILD/tools/heatsum" "${B%%,*}" 7 /relay/boots >"$WORK/heat_b.txt" 2>/dev/null &
watch_b=$!
"$BUILD/tools/heatsum" "${RELAY_rA%%,*}" 7 /relay/boots >"$WORK/heat_a.txt" 2>/dev/null &
watch_a=$!
sleep 0.7
emit() { "$N" emit --stdin --ingest "ipc://$WORK/$1/ingest.sock" 2>>"$WORK/emit.err"; }
expect_eq "a1 accepts its clicks" "$(clicks 150 0.5 0.1 | emit a1)" "accepted 150, rejected 0"
expect_eq "a2 accepts its clicks and scrolls" "$( { clicks 100 100 900; scrolls; } | emit a2)" "accepted 120, rejected 0"
expect_eq "a3 accepts its clicks" "$( { clicks 150 0.5 0.1; clicks 50 1000 1000; } | emit a3)" "accepted 200, rejected 0"
wait $watch_a $watch_b
expect_eq "A's HEAT stream: a1's and a2's increments, merged" \
	"$(grep -oE 'clicks=[0-9]+ views=[0-9]+ cells=[0-9]+ bad=[0-9]+' "$WORK/heat_a.txt")" "clicks=250 views=10 cells=2 bad=0"
expect_eq "B's HEAT stream: A's and a3's, merged (nested)" \
	"$(grep -oE 'clicks=[0-9]+ views=[0-9]+ cells=[0-9]+ bad=[0-9]+' "$WORK/heat_b.txt")" "clicks=450 views=10 cells=3 bad=0"
echo "    B: $(cat "$WORK/heat_b.txt")"

map_char() { awk -v r="$2" -v c="$3" 'NR == 4 + r { print substr($0, c + 2, 1) }' "$WORK/$1.txt"; }
map_count() {
	awk -v ch="$2" 'NR >= 4 && NR <= 23 {
		s = substr($0, 2, 20); n += gsub(ch == "." ? "[.]" : ch, "", s)
	} END { print n + 0 }' "$WORK/$1.txt"
}
console c2 || fail "console on B up (heat)" "$(cat "$WORK/c2.err")"
keys c2 5
if wait_screen c2 "/relay/boots +450 +10"; then
	pass "heat view through B lists the page with every agent's clicks"
else
	fail "heat view through B lists the page" "$(shot c2)"
fi
keys c2 Enter
if wait_screen c2 "/relay/boots +clicks 450 +views 10"; then
	pass "heat map through B: clicks and views summed over the agents"
	expect_eq "  densest cell is the top of the ramp" "$(map_char c2 2 10)" "@"
	expect_eq "  one densest cell" "$(map_count c2 @)" "1"
	expect_eq "  a2's spot lit at half the density" "$(map_char c2 18 2)" "+"
	expect_eq "  a3's corner lit" "$(map_char c2 19 19)" "."
	expect_eq "  nothing else lit" "$(map_count c2 "[^ ]")" "3"
	grep -Eq " 50% 100\.0%" "$WORK/c2.txt" && grep -Eq " 55%  40\.0%" "$WORK/c2.txt" &&
		pass "  scroll depth shares (a2's)" || fail "  scroll depth shares" "$(shot c2)"
else
	fail "heat map through B" "$(shot c2)"
fi
quit_console c2

# ---- TLS: agent t1 -> relay rT -> console, tls+tcp:// both ways
T=$WORK/tls
mkdir -p "$T"
mkca ca
mkcert server ca 127.0.0.1
mkcert client ca client
printf '[console]\ntls_ca = %s\ntls_cert = %s\ntls_key = %s\n' "$T/ca.pem" "$T/client.pem" "$T/client.key" >"$T/client.conf"
"$N" key new --id ops --role operator --out "$T/ops.key" >"$T/creds" 2>/dev/null
chmod 600 "$T/creds"
# the relay signs its own keep-alive pings with [console] key
{ cat "$T/client.conf"; printf 'key = %s\n' "$T/ops.key"; } >"$T/relay.conf"
TP=$(free_port)
TC=$(free_port)
RP=$(free_port)
while [ "$TC" = "$TP" ]; do TC=$(free_port); done
while [ "$RP" = "$TP" ] || [ "$RP" = "$TC" ]; do RP=$(free_port); done
mkdir -p "$WORK/t1" "$WORK/rT"
NUDGE_AGENT_TLS_VERIFY_PEER=true "$BUILD/nudged" --name t1 --pub "tls+tcp://127.0.0.1:$TP" \
	--control "tls+tcp://127.0.0.1:$TC" --ingest "ipc://$WORK/t1/i.sock" \
	--push "ipc://$WORK/t1/p.sock" --db "$WORK/t1/nudged.db" --credentials "$T/creds" \
	--shards 1 --snapshot-ms 500 \
	--tls-cert "$T/server.pem" --tls-key "$T/server.key" --tls-ca "$T/ca.pem" \
	>"$WORK/t1/log" 2>&1 &
PIDS+=("$!")
# the relay dials t1 as a console does ([console] tls_*), listens as an agent
"$BUILD/nudged" --relay --config "$T/relay.conf" --name rT \
	--pub "tls+tcp://127.0.0.1:$RP" --control "ipc://$WORK/rT/control.sock" \
	--tls-cert "$T/server.pem" --tls-key "$T/server.key" --snapshot-ms 500 \
	--upstream "tls+tcp://127.0.0.1:$TP,tls+tcp://127.0.0.1:$TC" >"$WORK/rT/log" 2>&1 &
PIDS+=("$!")
RT="tls+tcp://127.0.0.1:$RP"
# t1 takes pushes only once it listens: wait for its snapshot over TLS
check "TLS: t1 up (status over tls+tcp://)" up --config "$T/client.conf" \
	--agent "tls+tcp://127.0.0.1:$TP"
check "TLS: relay rT up (status over tls+tcp://)" up --config "$T/client.conf" --agent "$RT"
# (the push socket: the simulator signs nothing, t1 has credentials)
"$BUILD/nudge-sim" --seed 77 --visitors 80 --push "ipc://$WORK/t1/p.sock" \
	--truth "$WORK/tt.json" 2>>"$WORK/sim.log" ||
	fail "sim t1" "nudge-sim failed: $(tail -2 "$WORK/sim.log")"
sum_t() { jq -r "$1" "$WORK/tt.json"; }
tls_settle() {
	local got
	for _ in $(seq 1 60); do
		"$N" --config "$T/client.conf" status --json --timeout 3000 --agent "$RT" >"$WORK/tstatus.json" 2>/dev/null
		got=$(jq -r .events "$WORK/tstatus.json" 2>/dev/null)
		[ "$got" = "$(sum_t .events)" ] && return 0
		sleep 0.5
	done
	echo "    events over TLS through rT: $got, truth $(sum_t .events)"
	return 1
}
if tls_settle; then
	pass "TLS: relay rT's events (t1 over tls+tcp, rT over tls+tcp) = the truth"
else
	fail "TLS: relay rT's events = the truth" "logs: $(tail -3 "$WORK/t1/log" "$WORK/rT/log")"
fi
expect_eq "  purchases" "$(jq -r .purchases "$WORK/tstatus.json")" "$(sum_t .purchases)"
expect_eq "  funnel visit step" "$(jq -r '.funnel.steps[0].count' "$WORK/tstatus.json")" "$(sum_t .funnel.visit)"
# rT pings t1 within its 10 s keep-alive period: signed, so t1
# (credentials) refuses and audits none of them (an unsigned one is
# refused and audited: seen when the relay has no [console] key)
sleep 11
expect_eq "  t1 refused none of the relay's keep-alive pings (signed)" \
	"$(sqlite3 "$WORK/t1/nudged.db" "SELECT count(*) FROM audit WHERE status != 0")" "0"

# a graceful stop, consoles first (no TLS peer dies mid-stream)
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
wait "${PIDS[@]}" 2>/dev/null
check "no sanitizer report from the relays" sh -c "! grep -lE 'ERROR: |runtime error' '$WORK'/r*/log"
exit 0
