#!/usr/bin/env bash
# Two real agents fed known traffic: the merged status equals the sum of
# what was sent; a restarted agent continues its counters.
. "$(dirname "$0")/lib/common.sh"

start_agent a1 || exit 1
start_agent a2 || exit 1

"$BUILD/nudge-sim" --seed 11 --visitors 3000 --ingest "$AGENT_INGEST_a1" --truth "$WORK/t1.json" 2>"$WORK/sim1.log" ||
	{ fail sim1 "nudge-sim failed: $(cat "$WORK/sim1.log")"; exit 1; }
"$BUILD/nudge-sim" --seed 22 --visitors 2000 --ingest "$AGENT_INGEST_a2" --truth "$WORK/t2.json" 2>"$WORK/sim2.log" ||
	{ fail sim2 "nudge-sim failed: $(cat "$WORK/sim2.log")"; exit 1; }

funnel_of_truth() { # files... -> "n1,n2,n3,n4,n5" summed
	jq -s -r '[.[].funnel] | [ (map(.visit)|add), (map(.product)|add), (map(.cart)|add), (map(.checkout)|add), (map(.purchase)|add) ] | map(tostring) | join(",")' "$@"
}
sum_of_truth() { jq -s -r "map($1) | add" "${@:2}"; }
funnel_of_status() { jq -r '[.funnel.steps[].count] | map(tostring) | join(",")' "$1"; }

# status must see everything within a couple of snapshots
settle() { # want-events pub...
	local want=$1 got
	shift
	for _ in $(seq 1 30); do
		args=()
		for p in "$@"; do args+=(--agent "$p"); done
		"$BUILD/nudge" status --json "${args[@]}" >"$WORK/status.json" 2>"$WORK/status.err"
		got=$(jq -r .events "$WORK/status.json" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		sleep 0.3
	done
	return 1
}

want_events=$(sum_of_truth .events "$WORK/t1.json" "$WORK/t2.json")
settle "$want_events" "$AGENT_PUB_a1" "$AGENT_PUB_a2" || fail settle "events never reached $want_events: $(cat "$WORK/status.json" "$WORK/status.err")"

expect_eq "merged events" "$(jq -r .events "$WORK/status.json")" "$want_events"
expect_eq "merged funnel" "$(funnel_of_status "$WORK/status.json")" "$(funnel_of_truth "$WORK/t1.json" "$WORK/t2.json")"
expect_eq "merged purchases" "$(jq -r .purchases "$WORK/status.json")" "$(sum_of_truth .purchases "$WORK/t1.json" "$WORK/t2.json")"
expect_eq "funnel labels" "$(jq -r '[.funnel.steps[].label]|join(",")' "$WORK/status.json")" "visit,product,cart,checkout,purchase"
expect_eq "both agents up" "$(jq -r '[.agents[].up]|map(tostring)|join(",")' "$WORK/status.json")" "true,true"
visitors=$(jq -r .visitors "$WORK/status.json")
check "distinct visitors within 3%" awk -v v="$visitors" 'BEGIN { exit !(v >= 5000*0.97 && v <= 5000*1.03) }'

# restart a1: its counters continue where they were
before=$(funnel_of_status "$WORK/status.json")
stop_agent a1
expect_eq "graceful stop exits 0" "$?" "0"
start_agent a1 || exit 1
settle "$want_events" "$AGENT_PUB_a1" "$AGENT_PUB_a2" || true
expect_eq "counters survive a restart" "$(funnel_of_status "$WORK/status.json")" "$before"

"$BUILD/nudge-sim" --seed 33 --visitors 1000 --ingest "$AGENT_INGEST_a1" --truth "$WORK/t3.json" 2>/dev/null
want_events=$(sum_of_truth .events "$WORK/t1.json" "$WORK/t2.json" "$WORK/t3.json")
settle "$want_events" "$AGENT_PUB_a1" "$AGENT_PUB_a2" || fail settle2 "events never reached $want_events"
expect_eq "funnel continues after restart" "$(funnel_of_status "$WORK/status.json")" "$(funnel_of_truth "$WORK/t1.json" "$WORK/t2.json" "$WORK/t3.json")"

# one agent down: status says so, exit 3, still reports the other
stop_agent a2
"$BUILD/nudge" status --json --timeout 1500 --agent "$AGENT_PUB_a1" --agent "$AGENT_PUB_a2" >"$WORK/down.json" 2>/dev/null
expect_eq "status exit code with an agent down" "$?" "3"
expect_eq "down agent reported" "$(jq -r '[.agents[].up]|map(tostring)|join(",")' "$WORK/down.json")" "true,false"
exit 0
