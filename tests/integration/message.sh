#!/usr/bin/env bash
# Acting on one visitor: an operator's one-off banner, queued with
# `nudge message` (and from the console's session detail) by the agent
# holding the visitor's live session, delivered once with their next
# beacon answer, never to a visitor who did not consent, never by a viewer.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tmux.sh"

command -v curl >/dev/null || { fail message "curl not installed"; exit 0; }
command -v jq >/dev/null || { fail message "jq not installed"; exit 0; }
N="$BUILD/nudge"
port=$(free_port)
cat >"$WORK/m.conf" <<CONF
[agent]
snapshot_ms = 200
[http]
listen = 127.0.0.1:$port
CONF
start_agent m1 --config "$WORK/m.conf" || exit 1
start_agent m2 || exit 1
AG=(--agent "$AGENT_PUB_m1" --agent "$AGENT_PUB_m2")
U="http://127.0.0.1:$port/nudge/e"
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
# answer VISITOR [curl args...] -> the beacon answer's operator decisions
# (ids "op-N") as compact JSON, ids included
answer() {
	local v=$1
	shift
	curl -s -A "$UA" -X POST -H 'Content-Type: text/plain' "$@" \
		-d "{\"visitor\":\"$v\",\"consent\":true,\"events\":[{\"type\":\"pageview\",\"page\":\"/p\"}]}" "$U" |
		jq -c '[.d[] | select(.id | startswith("op-"))]'
}
# beacon VISITOR [curl args...] -> the same without the ids
beacon() { answer "$@" | jq -c '[.[] | {kind, text, sel}]'; }

expect_eq "visitor starts a session" "$(beacon vis0000000000001)" "[]"
"$N" message vis0000000000001 "Free shipping today, just for you" "${AG[@]}" --json >"$WORK/q.json" 2>"$WORK/q.err"
expect_eq "message queued: exit 0" "$?" 0
expect_eq "the agent holding the session queued it" \
	"$(jq -c '[.agents[] | .queued]' "$WORK/q.json")" "[true,false]"
check "the other agent says it does not know the visitor" \
	grep -q "no live session" "$WORK/q.json"
expect_eq "delivered with the next beacon, as text" "$(beacon vis0000000000001)" \
	'[{"kind":"banner","text":"Free shipping today, just for you","sel":""}]'
expect_eq "delivered once" "$(beacon vis0000000000001)" "[]"

# two messages to one visitor, each with the next beacon: two ids, so the
# tag (one decision per id and kind per page view) shows the second too
"$N" message vis0000000000001 "first of two" "${AG[@]}" >/dev/null 2>&1
expect_eq "first of two queued" "$?" 0
a1=$(answer vis0000000000001)
"$N" message vis0000000000001 "second of two" "${AG[@]}" >/dev/null 2>&1
expect_eq "second of two queued" "$?" 0
a2=$(answer vis0000000000001)
expect_eq "first of two delivered" "$(jq -c '[.[] | .text]' <<<"$a1")" '["first of two"]'
expect_eq "second of two delivered" "$(jq -c '[.[] | .text]' <<<"$a2")" '["second of two"]'
id1=$(jq -r '.[0].id' <<<"$a1")
id2=$(jq -r '.[0].id' <<<"$a2")
check "operator ids are op-N ($id1, $id2)" \
	sh -c "echo '$id1 $id2' | grep -Eq '^op-[0-9]+ op-[0-9]+\$'"
if [ "$id1" != "$id2" ]; then
	pass "two messages, two ids"
else
	fail "two messages, two ids" "both $id1"
fi

"$N" message nobody0000000001 "hello" "${AG[@]}" >/dev/null 2>"$WORK/none.err"
expect_eq "unknown visitor: exit 5" "$?" 5
check "unknown visitor: says so" grep -q "no agent holds" "$WORK/none.err"

"$N" message vis0000000000001 --kind coupon --sel '#coupon' "${AG[@]}" >/dev/null 2>&1
expect_eq "coupon field queued" "$?" 0
expect_eq "GPC visitor gets nothing" "$(beacon vis0000000000001 -H 'Sec-GPC: 1')" "[]"
expect_eq "the coupon field waits for a beacon that may carry it" \
	"$(beacon vis0000000000001)" '[{"kind":"coupon","text":"","sel":"#coupon"}]'

"$N" message vis0000000000001 "x" --kind dance "${AG[@]}" >/dev/null 2>"$WORK/bad.err"
expect_eq "bad kind: rejected, exit 5" "$?" 5
"$N" message vis0000000000001 --kind banner "${AG[@]}" >/dev/null 2>&1
expect_eq "banner without text: rejected" "$?" 5
"$N" message vis0000000000001 "$(printf 'a\tb')" "${AG[@]}" >/dev/null 2>&1
expect_eq "control characters: rejected" "$?" 5

"$N" audit --lim 20 --agent "$AGENT_PUB_m1" --json >"$WORK/audit.json"
check "audited" grep -q '"message"' "$WORK/audit.json"
if grep -q vis0000000000001 "$WORK/audit.json"; then
	fail "audit hides the visitor id" "the id is in the audit"
else
	pass "audit hides the visitor id"
fi

# a viewer key may not
"$N" key new --id viewer1 --role viewer --out "$WORK/viewer.key" >"$WORK/cred.line" 2>/dev/null
"$N" key new --id op1 --role operator --out "$WORK/op.key" >>"$WORK/cred.line" 2>/dev/null
chmod 600 "$WORK/cred.line"
stop_agent m1
printf '[agent]\nsnapshot_ms = 200\ncredentials = %s\n[http]\nlisten = 127.0.0.1:%s\n' \
	"$WORK/cred.line" "$port" >"$WORK/m.conf"
start_agent m1 --config "$WORK/m.conf" || exit 1
beacon vis0000000000002 >/dev/null
"$N" --key "$WORK/viewer.key" message vis0000000000002 "hi" --agent "$AGENT_PUB_m1" >/dev/null 2>&1
expect_eq "viewer refused: exit 4" "$?" 4
expect_eq "viewer: nothing delivered" "$(beacon vis0000000000002)" "[]"
"$N" --key "$WORK/op.key" message vis0000000000002 "hi" --agent "$AGENT_PUB_m1" >/dev/null 2>&1
expect_eq "operator key: queued" "$?" 0
expect_eq "operator key: delivered" "$(beacon vis0000000000002)" '[{"kind":"banner","text":"hi","sel":""}]'

# from the console: the session detail, m, text, Enter, y
S=msg$$
TMUX_SESSIONS+=("$S")
beacon vis0000000000003 >/dev/null
tmux new-session -d -s "$S" -x 120 -y 40 "$N --key $WORK/op.key --agent $AGENT_PUB_m1"
screen() { tm_screen "$S" "$WORK/screen.txt"; cat "$WORK/screen.txt"; }
wait_screen() { tm_expect "$S" "$WORK/screen.txt" "${2:-10}" "$1"; } # PATTERN [SECONDS]
tmux send-keys -t "$S" 3
check "console: sessions view lists the visitor" wait_screen vis00000000000 15
tmux send-keys -t "$S" / && tmux send-keys -t "$S" -l vis0000000000003 && tmux send-keys -t "$S" Enter
sleep 1
tmux send-keys -t "$S" Enter
check "console: the detail offers the message" wait_screen "send this visitor a banner" 10
tmux send-keys -t "$S" m && tmux send-keys -t "$S" -l "Welcome back" && tmux send-keys -t "$S" Enter
check "console: the confirmation names visitor and agent" wait_screen 'send banner "Welcome back" to vis0000000000003 via m1' 5
tmux send-keys -t "$S" y
check "console: the agent acknowledged" wait_screen "banner queued" 10
expect_eq "console: delivered with the next beacon" "$(beacon vis0000000000003)" \
	'[{"kind":"banner","text":"Welcome back","sel":""}]'
# y while the detail's own poll waits on a frozen agent: the message
# waits for the link instead of being refused, and goes once it thaws
tmux send-keys -t "$S" m && tmux send-keys -t "$S" -l "Still there" && tmux send-keys -t "$S" Enter
check "console: second confirmation" wait_screen 'send banner "Still there"' 5
kill -STOP "$AGENT_PID_m1"
sleep 1.5
tmux send-keys -t "$S" y
sleep 1
kill -CONT "$AGENT_PID_m1"
check "console: sent once the link was free" wait_screen "banner queued" 10
expect_eq "console: the second one delivered" "$(beacon vis0000000000003)" \
	'[{"kind":"banner","text":"Still there","sel":""}]'

# the visitor's detail says what rules did to them and their variants
cat >"$WORK/v.rules" <<'RULES'
funnel shop: visit -> purchase: event == "purchase"
rule hello:
  when page ~ "/p"
  show banner "Hello"
campaign greet on funnel shop goal purchase:
  split control 50, warm 50
  warm: text rule hello "Hello, friend"
RULES
"$N" --key "$WORK/op.key" rules push "$WORK/v.rules" --agent "$AGENT_PUB_m1" >/dev/null 2>&1
expect_eq "detail: rules pushed" "$?" 0
"$N" --key "$WORK/op.key" campaign start greet --agent "$AGENT_PUB_m1" >/dev/null 2>&1
expect_eq "detail: campaign started" "$?" 0
beacon vis0000000000004 >/dev/null
tmux send-keys -t "$S" Escape && sleep 0.5 && tmux send-keys -t "$S" Escape && sleep 0.5
tmux send-keys -t "$S" / && tmux send-keys -t "$S" -l vis0000000000004 && tmux send-keys -t "$S" Enter
sleep 1
tmux send-keys -t "$S" Enter
check "detail: the actions shown by the rules" wait_screen 'actions shown.*hello \(1 this session\)' 10
check "detail: the campaign variant" wait_screen "variants.*greet: (control|warm)" 10
