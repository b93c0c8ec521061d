#!/usr/bin/env bash
# console_cli.sh - the scripting side of `nudge` against a real agent:
# `nudge emit` (single event, --stdin batches over 1000 events, bad lines
# with line numbers, exit codes 0/2/3/5) and `nudge status` (--json read
# back with jq, exit 3 when an agent is missing).
#
# Env: BUILD (default build).  Prints "PASS name" or "FAIL name: why".
set -u

NAME=console_cli
BUILD=${BUILD:-build}
BIN=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "FAIL $NAME: no $BUILD"; exit 1; }
DIR=$(mktemp -d /tmp/nudge-ccli.XXXXXX)
AGENT_PID=

cleanup() {
	if [ -n "$AGENT_PID" ]; then
		kill "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

fail() {
	echo "FAIL $NAME: $*"
	[ -f "$DIR/agent.log" ] && tail -n 20 "$DIR/agent.log"
	exit 1
}

command -v jq >/dev/null || fail "jq not installed"
for _ in 1 2 3 4 5 6 7 8 9 10; do
	PORT=$((10000 + RANDOM % 22000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
PUB="tcp://127.0.0.1:$PORT"
ING="ipc://$DIR/ing.sock"

"$BIN/nudged" --name c1 --pub "$PUB" --control "ipc://$DIR/ctl.sock" \
	--ingest "$ING" --push "ipc://$DIR/push.sock" \
	--db "$DIR/c1.db" >"$DIR/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 40); do
	"$BIN/nudge" status --timeout 500 --agent "$PUB" >/dev/null 2>&1 && break
	kill -0 "$AGENT_PID" 2>/dev/null || fail "nudged exited"
	sleep 0.25
done

# Usage errors are 2; an absent ingest socket is 3.
"$BIN/nudge" emit pageview >/dev/null 2>&1
[ $? = 2 ] || fail "emit without --visitor is not exit 2"
"$BIN/nudge" emit pageview --visitor v --ingest "ipc://$DIR/none.sock" \
	>/dev/null 2>&1
[ $? = 3 ] || fail "emit to an absent agent is not exit 3"

# One event from flags.
out=$("$BIN/nudge" emit purchase --visitor buyer1 --value 59.90 \
	--page /checkout --country FR --device mobile --field order=A1 \
	--ingest "$ING" 2>&1) || fail "single emit failed: $out"
[ "$out" = "accepted 1, rejected 0" ] || fail "single emit said: $out"

# 2500 events: three acknowledged batches.
seq 1 2500 | sed 's/.*/{"type":"pageview","visitor":"b&","page":"\/p"}/' |
	NUDGE_INGEST="$ING" "$BIN/nudge" emit --stdin --json >"$DIR/bulk.json" ||
	fail "bulk emit failed"
[ "$(jq .accepted "$DIR/bulk.json")" = 2500 ] ||
	fail "bulk emit: $(cat "$DIR/bulk.json")"

# Bad lines are reported with their numbers, the rest goes on; exit 5.
printf '%s\n' '{"type":"pageview","visitor":"g1"}' 'not json' \
	'{"type":"pageview"}' '{"type":"pageview","visitor":"bad id"}' \
	'{"type":"pageview","visitor":"g2"}' |
	"$BIN/nudge" emit --stdin --ingest "$ING" >"$DIR/mixed.out" \
	2>"$DIR/mixed.err"
rc=$?
[ $rc = 5 ] || fail "mixed input exit $rc, want 5"
grep -q "accepted 2, rejected 3" "$DIR/mixed.out" ||
	fail "mixed input said: $(cat "$DIR/mixed.out")"
for n in 2 3 4; do
	grep -q "line $n:" "$DIR/mixed.err" || fail "line $n not reported"
done

# Status: JSON with the events just sent.
sleep 1.5
"$BIN/nudge" status --json --agent "$PUB" >"$DIR/status.json" ||
	fail "status exit $?"
[ "$(jq -r '.agents[0].name' "$DIR/status.json")" = c1 ] ||
	fail "status agent name: $(jq -c .agents "$DIR/status.json")"
[ "$(jq '.purchases' "$DIR/status.json")" = 1 ] || fail "status purchases"
[ "$(jq '.revenue' "$DIR/status.json")" = 59.9 ] || fail "status revenue"
[ "$(jq '.events >= 2503' "$DIR/status.json")" = true ] || fail "status events"
[ "$(jq '.funnel.steps | length' "$DIR/status.json")" -ge 1 ] ||
	fail "status funnel"

# A second, absent agent: still prints, exits 3.
"$BIN/nudge" status --json --timeout 1000 --agent "$PUB" \
	--agent tcp://127.0.0.1:1 >"$DIR/status2.json" 2>/dev/null
[ $? = 3 ] || fail "status with an absent agent is not exit 3"
[ "$(jq '[.agents[].up] | map(tostring) | join(",")' -r \
	"$DIR/status2.json")" = "true,false" ] || fail "status2 up flags"

echo "PASS $NAME"
exit 0
