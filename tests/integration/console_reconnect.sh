#!/usr/bin/env bash
# The console follows an agent through a restart and a freeze by itself:
# counters continue where they were, the link goes stale and comes back.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tmux.sh"
T="nudge-recon-$$"
TMUX_SESSIONS+=("$T")

visits() { # N FIRST: N visitors with one page view each
	for i in $(seq "$2" $(($2 + $1 - 1))); do
		printf '{"type":"pageview","visitor":"r%05d","page":"/"}\n' "$i"
	done | "$BUILD/nudge" emit --stdin --ingest "$AGENT_INGEST_r1" >/dev/null
}
screen() { tm_screen "$T" "$WORK/screen.txt"; cat "$WORK/screen.txt"; }
wait_screen() { tm_expect "$T" "$WORK/screen.txt" "$2" "$1"; } # PATTERN SECONDS

start_agent r1 || exit 1
visits 50 1
tmux new-session -d -s "$T" -x 80 -y 24 "$BUILD/nudge --agent $AGENT_PUB_r1"
tmux send-keys -t "$T" 2
check "funnel shows the first 50 visits" wait_screen 'visit .* 50 ' 10

stop_agent r1
tmux send-keys -t "$T" 4
check "agents view shows the agent is gone" wait_screen 'r1 .*(stale|connecting)' 10

start_agent r1 || exit 1
visits 25 51
tmux send-keys -t "$T" 2
check "after a restart the console reconnects and counts continue (75)" wait_screen 'visit .* 75 ' 10

kill -STOP "$AGENT_PID_r1"
tmux send-keys -t "$T" 4
check "a frozen agent is marked stale" wait_screen 'r1 .*stale' 10
kill -CONT "$AGENT_PID_r1"
check "a thawed agent is live again" wait_screen 'r1 .*live' 10
check "the stale link was re-opened" wait_screen 'reopens [1-9]' 5
tmux send-keys -t "$T" q
exit 0
