#!/usr/bin/env bash
# rules_tui.sh - the console's rules view (7) in an 80x24 tmux against two
# real agents: versions per agent with the drift highlighted, r reconciles
# (and pushes nothing when the newest agent does not answer),
# e edits in $EDITOR (a script here), a set with an error shows its errors
# and pushes nothing, a good one is pushed on y to the agents named, and a
# read-only console (--viewer) offers no change keys.
. "$(dirname "$0")/lib/common.sh"
TMUX_SOCKET="nudge-rtui-$$"
. "$(dirname "$0")/lib/tmux.sh"
command -v tmux >/dev/null || { fail rules_tui "tmux not installed"; exit 0; }

start_agent t1 --snapshot-ms 200 || exit 1
start_agent t2 --snapshot-ms 200 || exit 1
CTL1="ipc://$WORK/t1/control.sock"
printf 'rule hello:\n  when event == "pageview"\n  show banner "hi"\n' >"$WORK/v1.rules"
printf 'rule hello:\n  when event == "pageview"\n  show banner "hello"\n' >"$WORK/v2.rules"
"$BUILD/nudge" rules push "$WORK/v1.rules" --agent "$AGENT_PUB_t1" --agent "$AGENT_PUB_t2" >/dev/null ||
	fail "push v1" "exit $?"
"$BUILD/nudge" rules push "$WORK/v2.rules" --agent "$AGENT_PUB_t1,$CTL1" >/dev/null ||
	fail "push v2 to t1" "exit $?"

# The "editor": $EDIT_MODE says what it does to the file.
cat >"$WORK/editor.sh" <<'ED'
#!/bin/sh
case "$(cat "$EDIT_MODE_FILE")" in
bad) printf 'rule broken:\n  when contry == "FR"\n  show banner "x"\n' >>"$1" ;;
good) : >"$1.tmp"; sed '/^rule broken:/,$d' "$1" >"$1.tmp"; mv "$1.tmp" "$1"
      printf 'rule cart:\n  when event == "add_to_cart"\n  show message "ok"\n' >>"$1" ;;
esac
ED
chmod +x "$WORK/editor.sh"

screen() { tm_screen "$1" "$WORK/$1.txt"; }
wait_screen() { # NAME PATTERN [gone]: until PATTERN is (or, gone: is not) there
	if [ -n "${3:-}" ]; then tm_gone "$1" "$WORK/$1.txt" 10 "$2"; else tm_wait "$1" "$WORK/$1.txt" 10 "$2"; fi
}
console() { # NAME [flags]
	local n=$1
	shift
	tm -f /dev/null new-session -d -s "$n" -x 80 -y 24 \
		"env LANG=C LC_ALL=C TERM=xterm EDITOR=$WORK/editor.sh EDIT_MODE_FILE=$WORK/mode $BUILD/nudge $* --agent $AGENT_PUB_t1 --agent $AGENT_PUB_t2 2>$WORK/$n.err; echo EXIT=\$? >$WORK/$n.exit; sleep 30"
	wait_screen "$n" "2 agents up"
}
keys() { tm send-keys -t "$@"; }
# versions: what each agent runs, once both answer.  A thawed agent may
# need a few seconds: a caller that gave up on it while it was frozen
# broke its control listener (nng 1.5.2 #1518) until the agent's guard
# made it again (agent/lguard.h, hangup.sh).
versions() {
	for _ in $(seq 1 20); do
		"$BUILD/nudge" rules show --json --agent "$AGENT_PUB_t1" \
			--agent "$AGENT_PUB_t2" >"$WORK/versions.json" 2>/dev/null
		jq -e '[.agents[].up] | all' "$WORK/versions.json" >/dev/null && break
		sleep 0.5
	done
	jq -r '[.agents[].current|tostring]|join(",")' "$WORK/versions.json"
}
shot() { echo "--- screen"; cat "$WORK/$1.txt"; }

console c1 || { fail "console up" "$(cat "$WORK/c1.err")"; exit 0; }
keys c1 7
wait_screen c1 "t2 +1 .*BEHIND" && pass "drift: the agent behind is shown" ||
	fail "drift: the agent behind is shown" "$(shot c1)"
check "rules listed with their counters" grep -q "^ hello " "$WORK/c1.txt"
# The newest agent frozen: its text never comes, and nothing (no empty
# set) is pushed to the agent behind.
kill -STOP "$AGENT_PID_t1"
keys c1 r
wait_screen c1 "asking for the rule set" && keys c1 e
wait_screen c1 "\(e not taken: one change at a time" &&
	pass "e while a fetch waits says it is not taken" ||
	fail "e while a fetch waits says it is not taken" "$(shot c1)"
wait_screen c1 "rules_get from t1: .*nothing pushed" &&
	pass "r: an unanswered fetch says so" ||
	fail "r: an unanswered fetch says so" "$(shot c1)"
kill -CONT "$AGENT_PID_t1"
expect_eq "unanswered: nothing pushed" "$(versions)" "2,1"
# The agent behind frozen: the push to it times out and says so.
kill -STOP "$AGENT_PID_t2"
keys c1 r
wait_screen c1 "t2 .*unreachable" && pass "r: an unanswered push says so" ||
	fail "r: an unanswered push says so" "$(shot c1)"
kill -CONT "$AGENT_PID_t2"
versions >/dev/null # until both answer again
# Both control links were closed by their timeouts and dial again: r
# waits for them.  (The frozen agent may also apply the timed-out push
# when it thaws; either way r ends with both at 2.)
keys c1 r
wait_screen c1 "t2 +2 .*in force" && pass "r reconciles the agent behind" ||
	fail "r reconciles the agent behind" "$(shot c1)"
wait_screen c1 "asking for|pushing\.\.\.|sent\.\.\." gone ||
	fail "r: the push finishes" "$(shot c1)"
expect_eq "reconciled: both at 2" "$(versions)" "2,2"

echo bad >"$WORK/mode"
keys c1 e
wait_screen c1 "errors; nothing pushed" && pass "e: a set with an error shows it" ||
	fail "e: a set with an error shows it" "$(shot c1)"
check "the error has its line:col" grep -Eq "^ +[0-9]+:[0-9]+: " "$WORK/c1.txt"
expect_eq "nothing pushed" "$(versions)" "2,2"
echo good >"$WORK/mode"
keys c1 e
wait_screen c1 "push as version 3 to t1, t2\?" && pass "a good set: confirmation names the agents" ||
	fail "a good set: confirmation names the agents" "$(shot c1)"
keys c1 y
wait_screen c1 "acknowledged version 3" && pass "per-agent acknowledgement shown" ||
	fail "per-agent acknowledgement shown" "$(shot c1)"
sleep 0.5
expect_eq "pushed: both at 3" "$(versions)" "3,3"
keys c1 q

console c2 --viewer || { fail "viewer console up" "$(cat "$WORK/c2.err")"; exit 0; }
keys c2 7
wait_screen c2 "t2 +3 .*in force" || fail "viewer: rules view" "$(shot c2)"
echo good >"$WORK/mode"
keys c2 e
sleep 1
screen c2
check "viewer: e does nothing" sh -c "! grep -Eq 'push as version|asking for' '$WORK/c2.txt'"
expect_eq "viewer: nothing pushed" "$(versions)" "3,3"
keys c2 q
exit 0
