#!/usr/bin/env bash
# console_views.sh - every console view against two real agents fed by the
# simulator with fixed seeds, driven through tmux: the numbers on screen
# are the truth files' (overview, funnel and its split, sessions and their
# filter and sort, the path of one visitor, the event tail and its pause),
# resize 120x40 -> 80x24 -> 120x40 and below the minimum, LANG=C (no
# UTF-8 byte), NO_COLOR (no colour SGR), read-only mode, and
# `nudge top --once --json` against `nudge status --json`.
#
# Env: BUILD (default build).  Prints PASS/FAIL lines; exits 1 when a step
# cannot go on.
. "$(dirname "$0")/lib/common.sh"

command -v tmux >/dev/null || { fail tmux "tmux not installed"; exit 1; }
TMUX_SOCKET="nudge-cv-$$"
. "$(dirname "$0")/lib/tmux.sh"
T() { tm "$@"; }

start_agent a1 || exit 1
start_agent a2 || exit 1
"$BUILD/nudge-sim" --seed 41 --visitors 400 --ingest "$AGENT_INGEST_a1" \
	--truth "$WORK/t1.json" 2>/dev/null || { fail sim1 "nudge-sim failed"; exit 1; }
"$BUILD/nudge-sim" --seed 42 --visitors 300 --ingest "$AGENT_INGEST_a2" \
	--truth "$WORK/t2.json" 2>/dev/null || { fail sim2 "nudge-sim failed"; exit 1; }
sum() { jq -s -r "map($1) | add" "$WORK/t1.json" "$WORK/t2.json"; }
A1="$AGENT_PUB_a1,ipc://$WORK/a1/control.sock"
A2="$AGENT_PUB_a2,ipc://$WORK/a2/control.sock"
CONSOLE="$BUILD/nudge --agent $A1 --agent $A2"

# the agents have everything when status says so
want_events=$(sum .events)
for _ in $(seq 1 40); do
	$BUILD/nudge status --json --agent "$A1" --agent "$A2" >"$WORK/status.json" 2>/dev/null
	[ "$(jq -r .events "$WORK/status.json")" = "$want_events" ] && break
	sleep 0.25
done
expect_eq "agents hold the truth" "$(jq -r .events "$WORK/status.json")" "$want_events"

cap() { tm_screen "$1" "$WORK/screen.txt"; }
# wait_for SESSION REGEX [SECONDS]: up to 10 s unless said
wait_for() {
	tm_wait "$1" "$WORK/screen.txt" "${3:-10}" "$2" && return 0
	echo "--- screen of $1 (waiting for $2)"
	cat "$WORK/screen.txt"
	return 1
}
keys() { T send-keys -t "$@"; sleep 0.4; }
num() { grep -E "$1" "$WORK/screen.txt" | head -1 | awk -v f="$2" '{print $f}'; }

T -f /dev/null new-session -d -s v -x 120 -y 40 \
	"LANG=C.UTF-8 $CONSOLE --history $WORK/console.db; sleep 60" ||
	{ fail tmux "new-session failed"; exit 1; }
wait_for v "2 agents up" || { fail header "never 2 agents up"; exit 1; }

# ---- overview: numbers from the truth files
# every agent's history answer is in when today's sessions are the truth
# (the console first learns each control URL, then asks; slow under load)
wait_for v "^ Sessions today +$(sum .visitors) " 60 >/dev/null
expect_eq "overview: sessions today" "$(num '^ Sessions today' 3)" "$(sum .visitors)"
rev=$(sum .revenue_cents)
expect_eq "overview: revenue today" "$(num '^ Revenue today' 3)" "$(printf '%d.%02d' $((rev / 100)) $((rev % 100)))"
expect_eq "overview: events" "$(grep -oE 'events [0-9]+' "$WORK/screen.txt" | head -1 | awk '{print $2}')" "$want_events"
expect_eq "overview: purchases" "$(grep -oE 'purchases [0-9]+' "$WORK/screen.txt" | head -1 | awk '{print $2}')" "$(sum .purchases)"
expect_eq "overview: agents up/down" "$(grep -oE 'agents [0-9]+ up / [0-9]+ down' "$WORK/screen.txt")" "agents 2 up / 0 down"
check "overview: sparkline glyphs (UTF-8)" grep -q $'\u2581' "$WORK/screen.txt"
src=$(grep -oE ' search +[0-9]+ *$' "$WORK/screen.txt" | awk '{print $2}' | head -1)
expect_eq "overview: top source search" "$src" "$(sum .by_source.search)"

# ---- funnel: counts, split by source, last hour
keys v 2
wait_for v "Funnel shop" >/dev/null
for step in visit product cart checkout purchase; do
	expect_eq "funnel: $step" "$(grep -E "^ $step " "$WORK/screen.txt" | head -1 | awk '{print $(NF-2)}')" "$(sum .funnel.$step)"
done
expect_eq "funnel: last hour visit" "$(num '^ last hour' 3)" "$(sum .funnel.visit)"
keys v s
wait_for v "split by: source" >/dev/null || fail "funnel: split" "s did not split"
check "funnel: legend search = truth" grep -qE " search $(sum .by_source.search)( |$)" "$WORK/screen.txt"
keys v s
wait_for v "split by: device" >/dev/null || fail "funnel: split device" "no device split"
check "funnel: legend desktop = truth" grep -qE " desktop $(sum .by_device.desktop)( |$)" "$WORK/screen.txt"
# countries: the same seeded visitors as JSON lines, counted per country
for seed_n in "41 400" "42 300"; do
	set -- $seed_n
	"$BUILD/nudge-sim" --seed "$1" --visitors "$2" --jsonl 2>/dev/null |
		jq -r '"\(.visitor) \(.country // "")"'
done | sort -u | awk '{print $2}' | sort | uniq -c | sort -k1,1nr -k2 >"$WORK/countries.txt"
top_cc=$(awk 'NR == 1 {print $2}' "$WORK/countries.txt")
top_n=$(awk 'NR == 1 {print $1}' "$WORK/countries.txt")
keys v s
wait_for v "split by: country" >/dev/null || fail "funnel: split country" "no country split"
check "funnel: legend top country $top_cc = truth ($top_n)" grep -qE " $top_cc $top_n( |$)" "$WORK/screen.txt"

# ---- sessions: total, filter, sort, detail
keys v 3
wait_for v "shown of [0-9]+" >/dev/null
expect_eq "sessions: total" "$(grep -oE 'shown of [0-9]+' "$WORK/screen.txt" | awk '{print $3}')" "$(sum .visitors)"
"$BUILD/nudge" top --once --view sessions --json --filter country:FR --agent "$A1" --agent "$A2" >"$WORK/fr.json"
keys v / ; T send-keys -t v "country:FR" Enter; sleep 1.5
wait_for v "filter: country:FR" >/dev/null
expect_eq "sessions: filter total = agents'" "$(grep -oE 'shown of [0-9]+' "$WORK/screen.txt" | awk '{print $3}')" "$(jq length "$WORK/fr.json")"
other=$(awk 'f && $1 ~ /^v/ && $2 != "FR" {n++} /VISITOR/ {f=1} END {print n+0}' "$WORK/screen.txt")
expect_eq "sessions: filtered rows are FR" "$other" "0"
keys v / ; T send-keys -t v C-u; T send-keys -t v BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace "score>x" Enter
check "sessions: bad filter said" wait_for v "bad filter 'score>x'"
T send-keys -t v Escape; sleep 0.3; T send-keys -t v Escape; sleep 1.2
keys v s; keys v s   # recent -> score -> value
wait_for v "sort: value" >/dev/null; sleep 1.2; cap v
sorted=$(awk '/VISITOR/ {f=1; next} f && $1 ~ /^v/ {print $7}' "$WORK/screen.txt" | head -10 |
	awk 'NR > 1 && $1 + 0 > prev + 0 {bad=1} {prev=$1} END {print bad ? "no" : "yes"}')
expect_eq "sessions: sorted by value" "$sorted" "yes"
keys v s
wait_for v "sort: pages" >/dev/null; sleep 1.2; cap v
sorted=$(awk '/VISITOR/ {f=1; next} f && $1 ~ /^v/ {print $5}' "$WORK/screen.txt" | head -10 |
	awk 'NR > 1 && $1 + 0 > prev + 0 {bad=1} {prev=$1} END {print bad ? "no" : "yes"}')
expect_eq "sessions: sorted by pages" "$sorted" "yes"
top_vid=$(awk '/VISITOR/ {f=1; next} f && $1 ~ /^v/ {print $1; exit}' "$WORK/screen.txt")
keys v Enter
wait_for v "Visitor $top_vid" >/dev/null || fail "sessions: detail" "Enter did not open $top_vid"
wait_for v "EVENT / PAGE" >/dev/null && pass "sessions: path shown"
check "sessions: extras listed" grep -q "score history" "$WORK/screen.txt"
keys v Escape
wait_for v "sort: pages" >/dev/null && pass "sessions: Esc back"

# ---- help lists the view's keys
keys v '?'
wait_for v "help: sessions" >/dev/null && check "help: view keys" grep -q "score>N" "$WORK/screen.txt"
keys v Escape

# ---- resize: 120x40 -> 80x24 -> 120x40, and below the minimum
keys v 1
T resize-window -t v -x 80 -y 24; sleep 1.2; cap v
expect_eq "resize 80x24: lines" "$(wc -l <"$WORK/screen.txt")" "24"
check "resize 80x24: header" grep -q "^nudge  2 agents up" "$WORK/screen.txt"
check "resize 80x24: footer" sh -c "tail -n 1 '$WORK/screen.txt' | grep -q 'q quit'"
check "resize 80x24: numbers" grep -qE "^ Sessions today +$(sum .visitors)" "$WORK/screen.txt"
T resize-window -t v -x 120 -y 40; sleep 1.2; cap v
expect_eq "resize back 120x40: lines" "$(wc -l <"$WORK/screen.txt")" "40"
check "resize back: footer" sh -c "tail -n 1 '$WORK/screen.txt' | grep -q 'q quit'"
check "resize back: no leftovers" sh -c "! grep -q 'too small' '$WORK/screen.txt'"
T resize-window -t v -x 70 -y 20; sleep 1; cap v
check "below 80x24: message" grep -q "terminal too small: 70x20, need 80x24" "$WORK/screen.txt"
T resize-window -t v -x 120 -y 40; sleep 1; cap v
check "above again: overview" grep -q "Visitors now" "$WORK/screen.txt"

# ---- colour: on by default, none with NO_COLOR
T capture-pane -e -p -t v >"$WORK/color.txt"
check "colour by default" grep -qE $'\e\\[(3[0-7]|38;5)' "$WORK/color.txt"
T -f /dev/null new-session -d -s n -x 80 -y 24 \
	"NO_COLOR=1 LANG=C.UTF-8 $CONSOLE --history none; sleep 60"
wait_for n "2 agents up" >/dev/null
for k in 1 2 3 6; do
	keys n $k; sleep 0.5
	T capture-pane -e -p -t n >>"$WORK/nocolor.txt"
done
check "NO_COLOR: no colour SGR" sh -c "! grep -qE \$'\\e\\\\[([0-9;]*;)?(3[0-7]|4[0-7]|38;5|48;5)[;m]' '$WORK/nocolor.txt'"

# ---- LANG=C: ASCII only, every view
T -f /dev/null new-session -d -s c -x 80 -y 24 \
	"LANG=C LC_ALL=C $CONSOLE --history none; sleep 60"
wait_for c "2 agents up" >/dev/null
: >"$WORK/ascii.txt"
for k in 1 2 s 3 4 6 '?'; do
	keys c "$k"; sleep 0.3
	T capture-pane -p -t c >>"$WORK/ascii.txt"
done
check "LANG=C: no byte >= 0x80" sh -c "! LC_ALL=C grep -q \$'[\\x80-\\xff]' '$WORK/ascii.txt'"
check "LANG=C: ASCII bars" grep -qE '####' "$WORK/ascii.txt"

# ---- read-only
T -f /dev/null new-session -d -s r -x 80 -y 24 \
	"LANG=C.UTF-8 $CONSOLE --viewer --history none; sleep 60"
wait_for r "\[viewer\]" >/dev/null && pass "viewer: header says so"
check "viewer: footer says read-only" grep -q "(read-only)" "$WORK/screen.txt"

# ---- batch mode equals status
"$BUILD/nudge" top --once --json --agent "$A1" --agent "$A2" >"$WORK/top.json"
"$BUILD/nudge" status --json --agent "$A1" --agent "$A2" >"$WORK/status.json"
for k in events visitors purchases revenue rejected bots sessions_live carts_open; do
	expect_eq "top --json $k = status" "$(jq -r .$k "$WORK/top.json")" "$(jq -r .$k "$WORK/status.json")"
done
expect_eq "top --json funnel = status" "$(jq -c '[.funnel.steps[].count]' "$WORK/top.json")" "$(jq -c '[.funnel.steps[].count]' "$WORK/status.json")"
"$BUILD/nudge" top --once --view funnel --csv --agent "$A1" --agent "$A2" >"$WORK/f.csv"
expect_eq "top --csv funnel" "$(sed -n 2p "$WORK/f.csv" | cut -d, -f1,2)" "visit,$(sum .funnel.visit)"
"$BUILD/nudge" top --once --agent "$A1" --agent "$A2" >"$WORK/frame.txt"
expect_eq "top text frame: 24 lines" "$(wc -l <"$WORK/frame.txt")" "24"
check "top text frame: sessions today" grep -qE "^ Sessions today +$(sum .visitors)" "$WORK/frame.txt"

# ---- events: live tail, filter, pause (traffic while we look)
"$BUILD/nudge-sim" --seed 43 --rate 20 --duration 20 --push "ipc://$WORK/a1/push.sock" 2>/dev/null &
SIMPID=$!
PIDS+=("$SIMPID")
keys v 6
wait_for v "Events \(sampled\)" >/dev/null
wait_for v "pageview" >/dev/null && pass "events: tail shows events"
keys v p
wait_for v "PAUSED" >/dev/null && pass "events: paused"
cap v; cp "$WORK/screen.txt" "$WORK/p1.txt"; sleep 2.5; cap v
# the header clock moves; the tail must not
expect_eq "events: pause holds the tail" "$(tail -n +3 "$WORK/screen.txt" | md5sum)" "$(tail -n +3 "$WORK/p1.txt" | md5sum)"
keys v p
keys v / ; T send-keys -t v "add_to_cart" Enter; sleep 2
cap v
rows=$(awk 'NR > 3 && / [0-9][0-9]:[0-9][0-9]:[0-9][0-9] /' "$WORK/screen.txt" | grep -vc add_to_cart)
expect_eq "events: filter keeps only add_to_cart" "$rows" "0"
keys v Escape

# ---- quit with q
T send-keys -t v q; sleep 0.5
check "q quits" sh -c "! tmux -L '$TMUX_SOCKET' list-panes -t v -F '#{pane_current_command}' | grep -q nudge"
exit 0
