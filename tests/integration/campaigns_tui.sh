#!/usr/bin/env bash
# campaigns_tui.sh - the console's campaigns view (8) in an 80x24 tmux
# against three real agents that require credentials: a rule set declaring
# a campaign pushed to all, the campaign started from the view (s, y), the
# simulator's traffic (signed, through `nudge emit --stdin`) in the
# per-variant table with a verdict line, the funnel view (2) split by its
# variants with the agents' own step counts, then p:
# the confirmation names all three agents, y, every agent acknowledges and
# reports paused (on screen and through the agents themselves); the
# overview lists the running campaign; a console with a viewer key pressing
# p is told it cannot and changes nothing.
#
# Env: BUILD (default build).  Prints PASS/FAIL lines; exits 1 when a step
# cannot go on.
. "$(dirname "$0")/lib/common.sh"
TMUX_SOCKET="nudge-ctui-$$"
. "$(dirname "$0")/lib/tmux.sh"
command -v tmux >/dev/null || { fail campaigns_tui "tmux not installed"; exit 0; }
NUDGE=$BUILD/nudge

# ---- keys: the operator's and a viewer's --------------------------------
K=$WORK/keys
mkdir -p "$K"
"$NUDGE" key new --id ops --role operator --out "$K/ops.key" >>"$K/creds" 2>/dev/null
"$NUDGE" key new --id view --role viewer --out "$K/view.key" >>"$K/creds" 2>/dev/null
chmod 600 "$K/creds"

# agent a also takes beacons, for the holdout rule's measured lift
HPORT=$(free_port)
printf '[http]\nlisten = 127.0.0.1:%s\n' "$HPORT" >"$WORK/a.conf"
start_agent a --config "$WORK/a.conf" --snapshot-ms 200 --credentials "$K/creds" || exit 1
for n in b c; do
	start_agent $n --snapshot-ms 200 --credentials "$K/creds" || exit 1
done
AGENTS=()
for n in a b c; do
	eval "AGENTS+=(--agent \"\$AGENT_PUB_$n,ipc://$WORK/$n/control.sock\")"
done

cat >"$WORK/camp.rules" <<'RULES'
funnel shop: visit -> product: page ~ "/product/" -> cart: event == "add_to_cart"
           -> checkout: page == "/checkout" -> purchase: event == "purchase"

rule ship_abroad:
  when page ~ "/product/"
  show banner "We deliver everywhere"

rule free_ship:
  when page ~ "/product/"
  show message "Free shipping"
  holdout 50%

campaign checkout_banner on funnel shop goal purchase:
  split control 50, variant_b 50
  variant_b: enable rule ship_abroad
RULES
"$NUDGE" --key "$K/ops.key" rules push "$WORK/camp.rules" "${AGENTS[@]}" \
	>"$WORK/push.out" 2>&1 || { fail "push the campaign's rule set" "$(cat "$WORK/push.out")"; exit 1; }
pass "push the campaign's rule set to a, b, c"

# state NAME: the campaign's state as agent NAME has it: from the agent
# itself (`nudge campaign list --json`), or, where that command is not
# there, from what the agent persisted before answering (its database).
state() {
	local pub st
	eval "pub=\$AGENT_PUB_$1"
	st=$("$NUDGE" --key "$K/ops.key" campaign list --json \
		--agent "$pub,ipc://$WORK/$1/control.sock" 2>/dev/null |
		jq -r '[.. | objects | select(.name? == "checkout_banner") |
			.state? // empty] | first // empty' 2>/dev/null)
	[ -n "$st" ] || st=$(sqlite3 "$WORK/$1/nudged.db" \
		"SELECT text FROM campaigns WHERE name = 'checkout_banner'" \
		2>/dev/null | sed -n 's/^state=//p')
	echo "${st:-?}"
}
states() { echo "$(state a),$(state b),$(state c)"; }

screen() { tm_screen "$1" "$WORK/$1.txt"; }
wait_screen() { tm_wait "$1" "$WORK/$1.txt" "${3:-10}" "$2"; } # NAME PATTERN [SECONDS]
console() { # NAME KEYFILE [flags]
	local n=$1 key=$2
	shift 2
	tm -f /dev/null new-session -d -s "$n" -x 80 -y 24 \
		"env LANG=C LC_ALL=C TERM=xterm $NUDGE --key $key --history none $* ${AGENTS[*]} 2>$WORK/$n.err; echo EXIT=\$? >$WORK/$n.exit; sleep 30"
	wait_screen "$n" "3 agents up"
}
keys() { tm send-keys -t "$@"; }
shot() { echo "--- screen"; cat "$WORK/$1.txt"; }
# step NAME SESSION PATTERN [SECONDS]: PASS when the screen shows PATTERN
step() {
	if wait_screen "$2" "$3" "${4:-10}"; then pass "$1"; else fail "$1" "$(shot "$2")"; fi
}

console op "$K/ops.key" || { fail "operator console up" "$(cat "$WORK/op.err")"; exit 1; }
keys op 8
step "view 8 lists the campaign as a draft on 3/3 agents" op \
	"^ >checkout_banner +draft +v1 +3/3 agents"

# ---- start it from the view ---------------------------------------------
keys op s
step "s: the confirmation names a, b and c" op \
	"start checkout_banner v1 on a, b, c\? y/n"
keys op y
step "started: running on 3/3 agents" op \
	"done: checkout_banner running v2 on 3/3 agents"

# ---- traffic: the per-variant table fills, the verdict line shows --------
# The agents take only signed events: the simulator's JSON lines go
# through `nudge emit --stdin` with the operator's key.
seed=11
for n in a b c; do
	eval "ing=\$AGENT_INGEST_$n"
	"$BUILD/nudge-sim" --seed $seed --visitors 400 --jsonl \
		--truth "$WORK/truth-$n.json" 2>/dev/null |
		"$NUDGE" --key "$K/ops.key" emit --stdin --ingest "$ing" \
			>"$WORK/sim-$n.out" 2>&1 ||
		fail "simulator into $n" "$(tail -3 "$WORK/sim-$n.out")"
	seed=$((seed + 1))
done
step "the table counts the variants' visitors" op \
	"^ control +50 +[1-9][0-9]* +[0-9]+ +[0-9.]+% \[" 15
check "variant_b has visitors too" grep -Eq "^ variant_b +50 +[1-9][0-9]* " "$WORK/op.txt"
check "the verdict line shows" grep -Eq \
	"not enough data yet: [0-9,]+ of|no difference yet|chance to beat control|worse than control" \
	"$WORK/op.txt"
# every simulated visitor is a session counted in one arm
want=$(jq -s 'map(.visitors) | add' "$WORK"/truth-*.json)
for _ in $(seq 1 25); do
	screen op
	v0=$(grep -E "^ control +50 " "$WORK/op.txt" | awk '{print $3}')
	v1=$(grep -E "^ variant_b +50 " "$WORK/op.txt" | awk '{print $3}')
	[ "$((v0 + v1))" = "$want" ] && break
	sleep 0.2
done
expect_eq "control + variant_b visitors = the simulator's visitors" "$((v0 + v1))" "$want"
check "the split is about even ($v0 / $v1)" test "$v0" -gt $((want / 3)) -a "$v1" -gt $((want / 3))

# ---- the funnel view split by the campaign's variants --------------------
# steps_of AGENT VARIANT: the agent's own per-step counts of that variant
# (campaign_counters.steps: little-endian u64 per step), space-separated,
# five of them (the shop funnel's steps).
steps_of() {
	local hex le out="" i j
	hex=$(sqlite3 "$WORK/$1/nudged.db" "SELECT hex(steps) FROM campaign_counters
		WHERE name = 'checkout_banner' AND variant = $2" 2>/dev/null)
	for i in 0 16 32 48 64; do
		le=""
		for j in 14 12 10 8 6 4 2 0; do le+=${hex:$((i + j)):2}; done
		out+="$((16#${le:-0})) "
	done
	echo "$out"
}
# fleet_steps VARIANT: steps_of summed over a, b and c
fleet_steps() {
	local -a s=(0 0 0 0 0) t
	for n in a b c; do
		read -ra t <<<"$(steps_of $n "$1")"
		for k in 0 1 2 3 4; do s[k]=$((s[k] + ${t[k]:-0})); done
	done
	echo "${s[*]}"
}
keys op 2
wait_screen op "split by: none" >/dev/null
keys op s s s s
step "funnel: s four times splits by the campaign" op "split by: campaign \(s\)"
step "funnel: the campaign's sessions only, said on screen" op \
	"^ campaign checkout_banner: $want sessions counted; the split covers only them"
# the legend's control first and last step, the count column per step:
# the agents' own figures (their counters reach the disk within a second)
for _ in $(seq 1 25); do
	screen op
	read -ra c0 <<<"$(fleet_steps 0)"
	read -ra c1 <<<"$(fleet_steps 1)"
	lc=$(grep -Eo " control [0-9]+>[0-9]+" "$WORK/op.txt" | head -1)
	lb=$(grep -Eo " variant_b [0-9]+>[0-9]+" "$WORK/op.txt" | head -1)
	cols=""
	for label in visit product cart checkout purchase; do
		cols+="$(grep -E "^ $label " "$WORK/op.txt" | awk '{print $(NF-2)}') "
	done
	sums=""
	for k in 0 1 2 3 4; do sums+="$((c0[k] + c1[k])) "; done
	[ "$lc" = " control ${c0[0]}>${c0[4]}" ] && [ "$lb" = " variant_b ${c1[0]}>${c1[4]}" ] &&
		[ "$cols" = "$sums" ] && break
	sleep 0.2
done
expect_eq "funnel legend: control visit>purchase = the agents' counts" "$lc" " control ${c0[0]}>${c0[4]}"
expect_eq "funnel legend: variant_b visit>purchase = the agents' counts" "$lb" " variant_b ${c1[0]}>${c1[4]}"
expect_eq "funnel counts per step = the agents' control + variant_b" "$cols" "$sums"
expect_eq "funnel: every counted session is at the first step" "$((c0[0] + c1[0]))" "$want"
check "funnel: some sessions went through to purchase (${c0[4]} / ${c1[4]})" \
	test "$((c0[4] + c1[4]))" -gt 0 -a "$((c0[4] + c1[4]))" -lt "$want"
check "funnel: the campaign's bars are ASCII, split in two runs" \
	grep -Eq "^ visit +#+=+ " "$WORK/op.txt"
keys op s
step "funnel: s once more, back to no split" op "split by: none \(s\)"

# ---- the overview lists the running campaign with its verdict ------------
keys op 1
step "overview: the running campaign with its verdict" op \
	"^  checkout_banner +3/3 +(not enough data|no difference|variant_b)"
keys op 8
wait_screen op "checkout_banner" >/dev/null

# ---- p pauses it on every agent, after a confirmation naming them --------
keys op p
step "p: the confirmation names all three agents" op \
	"pause checkout_banner v2 on a, b, c\? y/n"
expect_eq "before y: nothing changed on the agents" "$(states)" "running,running,running"
keys op y
step "every agent acknowledges" op \
	"^ a +v3 paused +ok: paused v3" 10
step "b acknowledged" op "^ b +v3 paused +ok: paused v3" 5
step "c acknowledged" op "^ c +v3 paused +ok: paused v3" 5
step "the snapshots agree: paused on 3/3 agents" op \
	"done: checkout_banner paused v3 on 3/3 agents"
check "the list says paused" grep -Eq "^ >checkout_banner +paused +v3 +3/3 agents" "$WORK/op.txt"
expect_eq "each agent reports paused itself" "$(states)" "paused,paused,paused"

# ---- resize: wide, too small, back ---------------------------------------
tm resize-window -t op -x 120 -y 40
step "120x40: one line per variant, p and always-valid p as columns" op \
	"^ VARIANT +W% +VISITORS +CONV +RATE \[95% CI\] +UPLIFT \[95% CI\] +P +AV-P +BEAT +REVENUE"
tm resize-window -t op -x 70 -y 20
step "70x20: the too-small message" op "terminal too small: 70x20, need 80x24"
tm resize-window -t op -x 80 -y 24
step "back to 80x24: the campaign again" op "^ >checkout_banner +paused +v3 +3/3 agents"
check "80x24: two lines per variant" grep -Eq "^     p [0-9.<]+  always-valid p " "$WORK/op.txt"

# ---- Esc cancels before anything is sent ---------------------------------
keys op r
step "r: the confirmation of resume" op "resume checkout_banner v3 on a, b, c\? y/n"
keys op Escape
step "Esc: nothing changed" op "nothing changed"
expect_eq "after Esc: still paused everywhere" "$(states)" "paused,paused,paused"

# ---- a bad weights line is refused in place -------------------------------
keys op w
sleep 0.3
keys op "60,50" Enter
step "w 60,50: refused, says why" op "2 weights summing to 100 wanted"
keys op Escape

# ---- the rules view: a holdout rule's measured lift, from beacons --------
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
beacon() { # VISITOR EVENT-JSON
	curl -s -o /dev/null -w '%{http_code}\n' -A "$UA" -X POST \
		-H 'Content-Type: text/plain' \
		-d "{\"visitor\":\"$1\",\"events\":[$2]}" "http://127.0.0.1:$HPORT/nudge/e"
}
for i in $(seq 1 40); do
	v=$(printf 'bbbb%012d' "$i")
	beacon "$v" '{"type":"pageview","page":"/product/x"}'
	[ $((i % 3)) -eq 0 ] && beacon "$v" '{"type":"purchase","value":10}'
done >"$WORK/beacons.txt"
expect_eq "beacons accepted" "$(sort -u "$WORK/beacons.txt")" "200"
keys op 7
step "rules view: the shadow-seen column" op "^ RULE +MATCH/m +SHOWN +CAPPED +SHADOW +SH.SEEN +HOLDOUT"
step "rules view: free_ship's measured lift" op \
	"^ free_ship +[0-9.]+% of [0-9]+ +[0-9.]+% of [0-9]+ +([+-][0-9.]+%|n/a)"
# shown + held out: up to a few refreshes until the last snapshot is in
for _ in $(seq 1 25); do
	screen op
	line=$(grep -E "^ free_ship +[0-9.]+% of" "$WORK/op.txt")
	tn=$(echo "$line" | awk '{print $4}')
	hn=$(echo "$line" | awk '{print $7}')
	[ "$((tn + hn))" = 40 ] && break
	sleep 0.2
done
expect_eq "lift: shown + held out = the 40 matched visitors" "$((tn + hn))" "40"
check "lift: a p-value" sh -c "echo '$line' | grep -Eq 'p=[01]\.[0-9]{3}'"
keys op q
# exited: NAME; status 0 and nothing on stderr (sanitizer reports included)
exited() {
	for _ in $(seq 1 50); do [ -s "$WORK/$1.exit" ] && break; sleep 0.1; done
	expect_eq "$1 console: exit status" "$(cat "$WORK/$1.exit" 2>/dev/null)" "EXIT=0"
	check "$1 console: nothing on stderr" test ! -s "$WORK/$1.err"
}
exited op

# ---- a viewer's console cannot change it ---------------------------------
console view "$K/view.key" || { fail "viewer console up" "$(cat "$WORK/view.err")"; exit 1; }
keys view 8
step "viewer: view 8 shows the campaign" view "^ >checkout_banner +paused +v3"
keys view r
step "viewer: r is refused on screen" view "read-only: viewers cannot change campaigns"
keys view y
keys view p
sleep 1.5
screen view
check "viewer: no confirmation was offered" sh -c "! grep -Eq 'on a, b, c\\? y/n|waiting for the agents' '$WORK/view.txt'"
expect_eq "viewer: nothing changed on the agents" "$(states)" "paused,paused,paused"
# a change made elsewhere (the CLI, with the operator's key) shows up live
"$NUDGE" --key "$K/ops.key" campaign resume checkout_banner "${AGENTS[@]}" \
	>"$WORK/resume.out" 2>&1
expect_eq "nudge campaign resume: exit 0" "$?" "0"
step "viewer: the resume made elsewhere shows, 3/3 agents" view \
	"^ >checkout_banner +running +v4 +3/3 agents"
expect_eq "each agent reports running" "$(states)" "running,running,running"
keys view q
exited view

# ---- nudge top --once --view campaigns: view 8 for scripts ---------------
"$NUDGE" --key "$K/ops.key" campaign show checkout_banner --json "${AGENTS[@]}" \
	>"$WORK/cshow.json" 2>/dev/null
"$NUDGE" --key "$K/view.key" top --once --view campaigns --json "${AGENTS[@]}" \
	>"$WORK/top.json" 2>"$WORK/top.err"
expect_eq "top campaigns --json: exit 0" "$?" "0"
check "top campaigns --json parses" jq -e . "$WORK/top.json" >/dev/null
tc='.[] | select(.campaign == "checkout_banner")'
expect_eq "top campaigns --json: running v4 on 3 agents, 3 agree" \
	"$(jq -r "$tc | \"\(.state)/\(.version)/\(.agents)/\(.agree)\"" "$WORK/top.json")" "running/4/3/3"
expect_eq "top campaigns --json: variants, control first" \
	"$(jq -r "$tc | [.variants[].variant] | join(\",\")" "$WORK/top.json")" "control,variant_b"
check "top campaigns --json: the simulator's visitors are counted" \
	test "$(jq -r "$tc | [.variants[].visitors] | add" "$WORK/top.json")" -gt 0
expect_eq "top campaigns --json: visitors/conversions = campaign show's" \
	"$(jq -r "$tc | [.variants[] | \"\(.visitors)/\(.conversions)\"] | join(\",\")" "$WORK/top.json")" \
	"$(jq -r '[.variants[] | "\(.visitors)/\(.conversions)"] | join(",")' "$WORK/cshow.json")"
expect_eq "top campaigns --json: the verdict = campaign show's" \
	"$(jq -r "$tc | .verdict" "$WORK/top.json")" "$(jq -r .verdict "$WORK/cshow.json")"
expect_eq "top campaigns --json: control has no chance to beat itself" \
	"$(jq -r "$tc | .variants[0].beat" "$WORK/top.json")" "null"
check "top campaigns --json: variant_b's chance to beat control in [0, 1]" \
	jq -e "$tc | .variants[1].beat | . >= 0 and . <= 1" "$WORK/top.json"
"$NUDGE" --key "$K/view.key" top --once --view campaigns --csv "${AGENTS[@]}" \
	>"$WORK/top.csv" 2>/dev/null
expect_eq "top campaigns --csv: exit 0" "$?" "0"
check "top campaigns --csv: a header" grep -q '^campaign,state,version,agents,agree,settled,variant,weight,visitors,conversions,conversion,uplift,beat,call,verdict$' "$WORK/top.csv"
expect_eq "top campaigns --csv: one row per variant" \
	"$(grep -c '^checkout_banner,running,4,' "$WORK/top.csv")" "2"
expect_eq "top campaigns --csv: control's visitors = campaign show's" \
	"$(awk -F, '$7 == "control" { print $9 }' "$WORK/top.csv")" \
	"$(jq -r '.variants[0].visitors' "$WORK/cshow.json")"
"$NUDGE" --key "$K/view.key" top --once --view campaigns "${AGENTS[@]}" \
	>"$WORK/top.txt" 2>/dev/null
expect_eq "top campaigns (text): exit 0" "$?" "0"
check "top campaigns (text): the campaign's line as view 8 shows it" \
	grep -Eq '^ >checkout_banner +running +v4 +3/3 agents' "$WORK/top.txt"
check "top campaigns (text): variant_b's row" grep -q 'variant_b' "$WORK/top.txt"
for n in a b c; do
	check "agent $n: no sanitizer report" sh -c \
		"! grep -q 'ERROR: AddressSanitizer\|runtime error' '$WORK/$n/log'"
done
exit 0
