#!/usr/bin/env bash
# score_history.sh - the score after each step of a visitor's path: rules
# with known `score` clauses pushed to a real nudged, one visitor's beacons
# in a known order (a click between two steps counts towards the step
# before it), then the console's visitor detail through tmux at 80x24
# shows each step's score in the path and the history's sparkline with
# its range; in UTF-8 with eighth blocks, under LANG=C in ASCII, under
# NO_COLOR without colour.  The `visitor` answer carries the same scores
# ("sc" of each step).
#
# Env: BUILD (default build).  Prints PASS/FAIL lines.
. "$(dirname "$0")/lib/common.sh"

for tool in curl jq tmux; do
	command -v "$tool" >/dev/null || { fail score_history "$tool not installed"; exit 0; }
done
N="$BUILD/nudge"
port=$(free_port)
printf '[agent]\nsnapshot_ms = 200\n[http]\nlisten = 127.0.0.1:%s\n' "$port" >"$WORK/s.conf"
start_agent s1 --config "$WORK/s.conf" || exit 1
A="$AGENT_PUB_s1,ipc://$WORK/s1/control.sock"
cat >"$WORK/score.rules" <<'RULES'
rule product_seen:
  when event == "pageview" and page ~ "/product/"
  score +2
  at most 50 per session

rule carted:
  when event == "add_to_cart"
  score +10
  at most 50 per session

rule clicked:
  when event == "click"
  score +1
  at most 50 per session

rule lost:
  when event == "pageview" and page ~ "/help"
  score -3
  at most 50 per session
RULES
"$N" rules push "$WORK/score.rules" --agent "$A" >"$WORK/push.out" 2>&1
expect_eq "rules with score clauses pushed" "$?" 0

U="http://127.0.0.1:$port/nudge/e"
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
VID=scorer0000000001
# one event per beacon, so the order is the one written here
send() { # TYPE PAGE
	curl -s -o /dev/null -w '%{http_code}' -A "$UA" -X POST -H 'Content-Type: text/plain' \
		-d "{\"visitor\":\"$VID\",\"consent\":true,\"events\":[{\"type\":\"$1\",\"page\":\"$2\",\"value\":1200}]}" "$U"
}
codes=""
#      event         page              score after
codes+=$(send pageview /)              #  0
codes+=$(send pageview /product/gloves) #  2
codes+=$(send add_to_cart /product/gloves) # 12
codes+=$(send click /product/gloves)    # 13: no step, counts in the cart's
codes+=$(send pageview /help)           # 10
codes+=$(send pageview /product/hat)    # 12
expect_eq "beacons accepted" "$(echo "$codes" | grep -oE '20[04]' | wc -l)" "6"

# the answer: "sc" per step
for _ in $(seq 1 20); do
	"$N" top --once --view sessions --json --agent "$A" >"$WORK/sessions.json" 2>/dev/null
	[ "$(jq -r --arg v "$VID" '[.[] | select(.visitor == $v) | .score][0] // empty' \
		"$WORK/sessions.json")" = 12 ] && break
	sleep 0.25
done
expect_eq "session score" \
	"$(jq -r --arg v "$VID" '[.[] | select(.visitor == $v) | .score][0] // empty' "$WORK/sessions.json")" "12"

TMUX_SOCKET="nudge-sh-$$"
. "$(dirname "$0")/lib/tmux.sh"
T() { tm "$@"; }
cap() { tm_screen "$1" "$WORK/screen.txt"; }
wait_for() { # SESSION REGEX [SECONDS]
	tm_wait "$1" "$WORK/screen.txt" "${3:-10}" "$2" && return 0
	echo "--- screen of $1 (waiting for $2)"
	cat "$WORK/screen.txt"
	return 1
}
# detail SESSION ENV: a console at 80x24 with ENV, on the visitor's detail
detail() {
	T -f /dev/null new-session -d -s "$1" -x 80 -y 24 \
		"$2 $N --agent $A --history none; sleep 60" ||
		{ fail "$1: tmux" "new-session failed"; return 1; }
	wait_for "$1" "1 agents? up" >&2 || return 1
	T send-keys -t "$1" 3
	wait_for "$1" "${VID:0:14}" >&2 || return 1
	T send-keys -t "$1" / && T send-keys -t "$1" -l "$VID" && T send-keys -t "$1" Enter
	sleep 1
	T send-keys -t "$1" Enter
	wait_for "$1" "Visitor $VID" >&2 && wait_for "$1" "product/hat" >&2
}

# the path: the SCORE column, step by step (AT +TOTAL +STEP SCORE EVENT PAGE)
detail u "LANG=C.UTF-8" || fail "detail opened" "no visitor detail"
cap u
check "80x24: 24 lines" test "$(wc -l <"$WORK/screen.txt")" -eq 24
check "path heading has SCORE" grep -qE 'AT +\+TOTAL +\+STEP +SCORE +EVENT / PAGE' "$WORK/screen.txt"
expect_eq "score after each step" \
	"$(awk '/EVENT \/ PAGE/ {f=1; next} f && $1 ~ /^[0-9][0-9]:/ {print $4 ":" $5 ":" $6}' "$WORK/screen.txt" | paste -sd' ')" \
	"0:pageview:/ 2:pageview:/product/gloves 13:add_to_cart:/product/gloves 10:pageview:/help 12:pageview:/product/hat"
check "score history: range and steps" grep -qE '^ score history +[^ ]+ +0\.\.13 over 5 steps' "$WORK/screen.txt"
# 0 2 13 10 12 less the lowest, plus one: 1 3 14 11 13; draw_spark's
# levels 1 + (v - 1) * 7 / 14: 1 2 7 6 7
spark=$(grep -E '^ score history' "$WORK/screen.txt" | awk '{print $3}')
expect_eq "score history: UTF-8 sparkline" "$spark" $'\u2582\u2583\u2588\u2587\u2588'
check "the message line is still there" grep -q "send this visitor a banner" "$WORK/screen.txt"

detail c "LANG=C LC_ALL=C" || fail "LANG=C: detail opened" "no visitor detail"
cap c
spark=$(grep -E '^ score history' "$WORK/screen.txt" | sed -E 's/^ score history +//; s/ +0\.\..*//')
expect_eq "LANG=C: ASCII sparkline" "$spark" '.:#*#'
check "LANG=C: no byte >= 0x80" sh -c "! LC_ALL=C grep -q \$'[\\x80-\\xff]' '$WORK/screen.txt'"
check "LANG=C: scores too" grep -qE ' 13 +add_to_cart ' "$WORK/screen.txt"

detail n "NO_COLOR=1 LANG=C.UTF-8" || fail "NO_COLOR: detail opened" "no visitor detail"
T capture-pane -e -p -t n >"$WORK/nocolor.txt"
check "NO_COLOR: no colour SGR" sh -c "! grep -qE \$'\\e\\\\[([0-9;]*;)?(3[0-7]|4[0-7]|38;5|48;5)[;m]' '$WORK/nocolor.txt'"
check "NO_COLOR: sparkline" grep -q $'\u2582\u2583\u2588\u2587\u2588' "$WORK/nocolor.txt"

# more steps than rows at 80x24 (12 path rows): the newest are shown
for i in $(seq 1 12); do send pageview "/product/p$i" >/dev/null; done
wait_for u "product/p12" >&2
check "long path: says how many are not shown" grep -qE '\(4 earlier not shown\)' "$WORK/screen.txt"
check "long path: newest step shown, score 36" grep -qE ' 36 +pageview +/product/p12$' "$WORK/screen.txt"
check "long path: range of the 16 kept" grep -qE 'score history +[^ ]+ +2\.\.36 over 16 steps' "$WORK/screen.txt"
check "long path: still 24 lines, message line kept" \
	sh -c "test \$(wc -l <'$WORK/screen.txt') -eq 24 && grep -q 'send this visitor a banner' '$WORK/screen.txt'"

stop_agent s1
expect_eq "agent stops cleanly" "$?" 0
check "agent: no sanitizer report" \
	sh -c "! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error' '$WORK/s1/log'"
exit 0
