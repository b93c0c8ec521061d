#!/usr/bin/env bash
# Live rules across three real agents: a push is acknowledged by all three
# with the same version; a broken file reaches no agent; an agent down
# during a push is reported (exit 3), its drift is visible when it returns
# and a push reconciles it; a replayed request (same id) is applied once;
# rules survive a restart; rollback makes one new version everywhere;
# context facts and the audit trail; shadow sets.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N="$BUILD/nudge"

for a in r1 r2 r3; do start_agent "$a" --snapshot-ms 200 || exit 1; done
AG=(--agent "$AGENT_PUB_r1" --agent "$AGENT_PUB_r2" --agent "$AGENT_PUB_r3")
CTL1="ipc://$WORK/r1/control.sock"

# versions in force, "v1,v2,v3", from `nudge rules show --json`
versions() { jq -r '[.agents[].current|tostring]|join(",")' "$1"; }

cp "$ROOT/examples/shop.rules" "$WORK/one.rules"
"$N" rules push "$WORK/one.rules" "${AG[@]}" --json >"$WORK/push1.json" 2>"$WORK/push1.err"
expect_eq "push: exit 0" "$?" "0"
expect_eq "push: all three acknowledge version 1" \
	"$(jq -r '[.agents[]|select(.ok)|.version|tostring]|join(",")' "$WORK/push1.json")" "1,1,1"
"$N" rules show "${AG[@]}" --json >"$WORK/show1.json"
expect_eq "show: same version everywhere" "$(versions "$WORK/show1.json")" "1,1,1"
expect_eq "show: no drift" "$(jq -r .drift "$WORK/show1.json")" "false"
expect_eq "show: the text pushed" "$(jq -r .text "$WORK/show1.json")" "$(cat "$WORK/one.rules")"

# a rule set with an error: compiled here first, no agent changes
printf 'rule bad:\n  when contry == "FR"\n  show banner "x"\n' >"$WORK/bad.rules"
"$N" rules push "$WORK/bad.rules" "${AG[@]}" >"$WORK/bad.out" 2>"$WORK/bad.err"
expect_eq "broken file: exit 5" "$?" "5"
check "broken file: line:col in the message" grep -q 'bad.rules:2:[0-9]*:' "$WORK/bad.err"
"$N" rules show "${AG[@]}" --json >"$WORK/show2.json"
expect_eq "broken file: no agent changed" "$(versions "$WORK/show2.json")" "1,1,1"

# the agent itself refuses a bad text too (a client that skipped the check)
"$N" rules push "$WORK/one.rules" --agent "$AGENT_PUB_r1,$CTL1" --version 1 >/dev/null 2>&1
expect_eq "re-push of the version in force: acknowledged" "$?" "0"
printf 'rule x:\n  when event == "pageview"\n  show banner "y"\n' >"$WORK/other.rules"
"$N" rules push "$WORK/other.rules" --agent "$AGENT_PUB_r1,$CTL1" --version 1 --json >"$WORK/stale.json" 2>&1
expect_eq "same version, other text: refused as stale (exit 5)" "$?" "5"
expect_eq "stale: status" "$(jq -r '.agents[0].status' "$WORK/stale.json")" "ESTALE"

# one agent down during a push
stop_agent r3
cp "$ROOT/examples/engagement.rules" "$WORK/two.rules"
"$N" rules push "$WORK/two.rules" "${AG[@]}" --json >"$WORK/push2.json" 2>/dev/null
expect_eq "push with an agent down: exit 3" "$?" "3"
expect_eq "push with an agent down: two acknowledge" \
	"$(jq -r '[.agents[]|.ok|tostring]|join(",")' "$WORK/push2.json")" "true,true,false"
start_agent r3 --snapshot-ms 200 || exit 1
"$N" rules show "${AG[@]}" --json >"$WORK/show3.json"
expect_eq "returned agent: drift visible" "$(versions "$WORK/show3.json")" "2,2,1"
expect_eq "returned agent: behind" "$(jq -r '.agents[2].behind' "$WORK/show3.json")" "true"
"$N" status --json "${AG[@]}" >"$WORK/status.json" 2>/dev/null
expect_eq "status --json: rules versions per agent" \
	"$(jq -r '[.agents[].rules_version|tostring]|join(",")' "$WORK/status.json")" "2,2,1"
"$N" rules push "$WORK/two.rules" --version 2 "${AG[@]}" >/dev/null 2>&1
expect_eq "reconcile: exit 0" "$?" "0"
"$N" rules show "${AG[@]}" --json >"$WORK/show4.json"
expect_eq "reconcile: all at 2" "$(versions "$WORK/show4.json")" "2,2,2"

# a replayed request (same request id) is applied once
cp "$ROOT/examples/scoring.rules" "$WORK/three.rules"
"$N" rules push "$WORK/three.rules" --agent "$AGENT_PUB_r1,$CTL1" --dump-request "$WORK/req.bin" >/dev/null 2>&1
expect_eq "push to r1: exit 0" "$?" "0"
out=$("$BUILD/tools/nngraw" req "$CTL1" "$WORK/req.bin")
expect_eq "replay: answered from cache" "${out%%:*}" "status 0 OK"
expect_eq "replay: applied once (rule_sets rows)" \
	"$(sqlite3 "$WORK/r1/nudged.db" 'SELECT count(*) FROM rule_sets WHERE kind = 0 AND version = 3')" "1"
expect_eq "replay: one audit row" \
	"$(sqlite3 "$WORK/r1/nudged.db" "SELECT count(*) FROM audit WHERE what = 'rules_put' AND detail LIKE 'active version 3 %'")" "1"

# rules survive a restart, without any console
stop_agent r1
start_agent r1 --snapshot-ms 200 || exit 1
"$N" rules show "${AG[@]}" --json >"$WORK/show5.json"
expect_eq "restart: r1 keeps version 3" "$(versions "$WORK/show5.json")" "3,2,2"

# rollback N: the text of N everywhere as one new version
"$N" rules rollback 1 "${AG[@]}" --json >"$WORK/rb.json" 2>/dev/null
expect_eq "rollback: exit 0" "$?" "0"
"$N" rules show "${AG[@]}" --json >"$WORK/show6.json"
expect_eq "rollback: version 4 everywhere" "$(versions "$WORK/show6.json")" "4,4,4"
expect_eq "rollback: the text of 1" "$(jq -r .text "$WORK/show6.json")" "$(cat "$WORK/one.rules")"

# shadow set: its own versions, beside the active one
"$N" rules push "$WORK/other.rules" --shadow "${AG[@]}" >/dev/null 2>&1
expect_eq "shadow push: exit 0" "$?" "0"
"$N" rules show --shadow "${AG[@]}" --json >"$WORK/show7.json"
expect_eq "shadow: version 1 everywhere" "$(versions "$WORK/show7.json")" "1,1,1"
"$N" rules show "${AG[@]}" --json >"$WORK/show8.json"
expect_eq "shadow: active unchanged" "$(versions "$WORK/show8.json")" "4,4,4"

# context facts and the audit trail
"$N" context set 'weather[alps]=snow' stock=3 "${AG[@]}" >/dev/null 2>&1
expect_eq "context set: exit 0" "$?" "0"
"$N" context get "${AG[@]}" --json >"$WORK/ctx.json"
expect_eq "context get: every agent" \
	"$(jq -r '[.agents[].facts["weather[alps]"]]|join(",")' "$WORK/ctx.json")" "snow,snow,snow"
"$N" audit --lim 50 --agent "$AGENT_PUB_r1" --json >"$WORK/audit.json"
expect_eq "audit: exit 0" "$?" "0"
check "audit: the refused stale push is there" \
	jq -e '[.[]|select(.what=="rules_put" and .status != 0)]|length >= 1' "$WORK/audit.json" >/dev/null

# the snapshot publishes the versions and per-rule counters
"$N" status --json "${AG[@]}" >"$WORK/status2.json" 2>/dev/null
expect_eq "status: versions after all that" \
	"$(jq -r '[.agents[].rules_version|tostring]|join(",")' "$WORK/status2.json")" "4,4,4"

for a in r1 r2 r3; do
	grep -q 'ERROR: AddressSanitizer\|runtime error' "$WORK/$a/log" &&
		fail "agent $a sanitizer" "$(grep -m3 'AddressSanitizer\|runtime error' "$WORK/$a/log")"
done
exit 0
