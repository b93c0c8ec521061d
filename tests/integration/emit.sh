#!/usr/bin/env bash
# `nudge emit` against a real agent: acknowledged, refused with reasons,
# unreachable agent, streaming from stdin with bad lines.
. "$(dirname "$0")/lib/common.sh"

start_agent e1 || exit 1
ING=$AGENT_INGEST_e1

"$BUILD/nudge" emit purchase --visitor v-emit-1 --value 59.90 --page /confirm --ingest "$ING" >"$WORK/o1" 2>&1
expect_eq "emit purchase exits 0" "$?" "0"
check "emit says accepted" grep -q "accepted 1" "$WORK/o1"

"$BUILD/nudge" emit purchase --visitor "bad visitor id" --value 1 --ingest "$ING" >"$WORK/o2" 2>&1
expect_eq "emit of an invalid visitor exits 5" "$?" "5"
check "emit explains the refusal" grep -qi "visitor" "$WORK/o2"

"$BUILD/nudge" emit purchase --visitor v1 --value abc --ingest "$ING" >"$WORK/o3" 2>&1
expect_eq "emit with a bad value exits 2" "$?" "2"

"$BUILD/nudge" emit purchase --visitor v1 --ingest "ipc://$WORK/nobody.sock" >"$WORK/o4" 2>&1
expect_eq "emit to an absent agent exits 3" "$?" "3"

printf '%s\n' '{"type":"pageview","visitor":"s1","page":"/product/42"}' \
	'not json' \
	'{"type":"add_to_cart","visitor":"s1","value":19.5,"sku":"42"}' \
	'{"type":"purchase","visitor":"s1","value":19.5}' \
	'{"type":"pageview"}' >"$WORK/in.jsonl"
"$BUILD/nudge" emit --stdin --json --ingest "$ING" <"$WORK/in.jsonl" >"$WORK/o5" 2>"$WORK/e5"
expect_eq "stream with bad lines exits 5" "$?" "5"
check "bad JSON line reported with its number" grep -q "2" "$WORK/e5"
expect_eq "stream accepted count" "$(jq -r .accepted "$WORK/o5")" "3"

sleep 1.3
"$BUILD/nudge" status --json --agent "$AGENT_PUB_e1" >"$WORK/s.json"
expect_eq "purchases counted" "$(jq -r .purchases "$WORK/s.json")" "2"
expect_eq "revenue counted" "$(jq -r .revenue "$WORK/s.json")" "79.4"
check "rejected counted as bad rows" test "$(jq -r .rejected "$WORK/s.json")" -ge 1
exit 0
