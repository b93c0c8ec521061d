#!/usr/bin/env bash
# rules_reconcile.sh - automatic drift reconciliation ([console] reconcile
# = auto, --reconcile auto) against two real agents: v2 pushed to both,
# one stopped, v3 pushed to the other; when the stopped one comes back, a
# console running with --reconcile auto brings it to v3 by itself within
# a few seconds and shows the acknowledgement; a read-only console with
# auto only shows the drift and pushes nothing; a bad mode is a usage error.
. "$(dirname "$0")/lib/common.sh"
TMUX_SOCKET="nudge-rrec-$$"
. "$(dirname "$0")/lib/tmux.sh"
command -v tmux >/dev/null || { fail rules_reconcile "tmux not installed"; exit 0; }

start_agent r1 --snapshot-ms 200 || exit 1
start_agent r2 --snapshot-ms 200 || exit 1
R1="$AGENT_PUB_r1,ipc://$WORK/r1/control.sock"
for v in 2 3 4; do
	printf 'rule hello:\n  when event == "pageview"\n  show banner "v%s"\n' "$v" >"$WORK/v$v.rules"
done

"$BUILD/nudge" --reconcile sometimes rules show --agent "$R1" >/dev/null 2>&1
expect_eq "--reconcile with a bad mode: usage error" "$?" 2

"$BUILD/nudge" rules push "$WORK/v2.rules" --version 2 --agent "$AGENT_PUB_r1" \
	--agent "$AGENT_PUB_r2" >/dev/null || fail "push v2 to both" "exit $?"

screen() { tm_screen "$1" "$WORK/$1.txt"; }
wait_screen() { tm_wait "$1" "$WORK/$1.txt" 10 "$2"; } # NAME PATTERN
console() { # NAME [flags]
	local n=$1
	shift
	tm -f /dev/null new-session -d -s "$n" -x 80 -y 24 \
		"env LANG=C LC_ALL=C TERM=xterm $BUILD/nudge $* --agent $AGENT_PUB_r1 --agent $AGENT_PUB_r2 2>$WORK/$n.err; echo EXIT=\$? >$WORK/$n.exit; sleep 30"
	wait_screen "$n" "agents? up"
}
keys() { tm send-keys -t "$@"; }
versions() {
	"$BUILD/nudge" rules show --json --agent "$AGENT_PUB_r1" --agent "$AGENT_PUB_r2" |
		jq -r '[.agents[].current|tostring]|join(",")'
}
wait_versions() { # WANT SECONDS
	for _ in $(seq 1 $(($2 * 5))); do
		[ "$(versions)" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}
shot() { echo "--- screen"; cat "$WORK/$1.txt"; }

# r2 misses v3
stop_agent r2
"$BUILD/nudge" rules push "$WORK/v3.rules" --agent "$R1" >/dev/null || fail "push v3 to r1" "exit $?"

console c1 --reconcile auto || { fail "auto console up" "$(cat "$WORK/c1.err")"; exit 0; }
keys c1 7
start_agent r2 --snapshot-ms 200 || exit 1
if wait_versions "3,3" 10; then
	pass "auto: the agent back behind is brought to v3"
else
	fail "auto: the agent back behind is brought to v3" "versions $(versions)"
fi
wait_screen c1 "r2 +3 .*auto: acknowledged version 3" &&
	pass "auto: the acknowledgement is shown in the rules view" ||
	fail "auto: the acknowledgement is shown in the rules view" "$(shot c1)"
check "auto: the status line says so" grep -q "reconciled" "$WORK/c1.txt"
check "the push is audited as the console's" sh -c \
	"'$BUILD/nudge' audit --agent '$AGENT_PUB_r2' 2>/dev/null | grep -q 'version 3'"
keys c1 q

# a read-only console with auto shows the drift and pushes nothing
stop_agent r2
"$BUILD/nudge" rules push "$WORK/v4.rules" --agent "$R1" >/dev/null || fail "push v4 to r1" "exit $?"
console c2 --viewer --reconcile auto || { fail "viewer console up" "$(cat "$WORK/c2.err")"; exit 0; }
keys c2 7
start_agent r2 --snapshot-ms 200 || exit 1
wait_screen c2 "r2 +3 .*BEHIND" && pass "viewer + auto: the drift is shown" ||
	fail "viewer + auto: the drift is shown" "$(shot c2)"
sleep 3
expect_eq "viewer + auto: nothing pushed" "$(versions)" "4,3"
keys c2 q
exit 0
