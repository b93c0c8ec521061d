#!/usr/bin/env bash
# `nudge campaign` against two real agents with credentials: a rule set
# declaring a campaign is pushed to both; list shows it as a draft on
# both; start takes both to running v2; a stale --expect is refused and
# changes nothing; a viewer key cannot change anything (and is audited);
# pause, resume, weights, holdout, stop --winner with one line per agent;
# an unreachable agent makes a partial change exit 3 and rerunning the
# command finishes it ("already" where done); the state survives an agent
# restart; every --json parses and the exit codes are the documented ones.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N="$BUILD/nudge"
K=$WORK/keys
mkdir -p "$K"
"$N" key new --id ops --role operator --out "$K/ops.key" >>"$K/creds" 2>/dev/null
"$N" key new --id view --role viewer --out "$K/view.key" >>"$K/creds" 2>/dev/null
chmod 600 "$K/creds"

for a in c1 c2; do
	start_agent "$a" --snapshot-ms 200 --credentials "$K/creds" || exit 1
done
AG=(--agent "$AGENT_PUB_c1" --agent "$AGENT_PUB_c2")
OPS=(--key "$K/ops.key")
VIEW=(--key "$K/view.key")
C=banner_test

# camp ARGS...: nudge campaign as the operator; output in $WORK/out, exit in $rc
camp() { "$N" "${OPS[@]}" campaign "$@" "${AG[@]}" >"$WORK/out" 2>"$WORK/err"; rc=$?; }
# states FILE: "state/version,state/version" of the campaign in `show --json`
states() { jq -r '[.agents[]|"\(.state)/\(.version)"]|join(",")' "$1"; }
show() { "$N" "${OPS[@]}" campaign show "$C" --json "${AG[@]}" >"$WORK/show.json" 2>"$WORK/show.err"; }

"$N" "${OPS[@]}" rules push "$ROOT/examples/campaign.rules" "${AG[@]}" >/dev/null 2>&1
expect_eq "rules with a campaign pushed to both" "$?" "0"

camp list --json
expect_eq "list: exit 0" "$rc" "0"
check "list --json parses" jq -e . "$WORK/out" >/dev/null
expect_eq "list: one campaign" "$(jq -r '[.campaigns[].name]|join(",")' "$WORK/out")" "$C"
expect_eq "list: draft v1 on both" "$(jq -r '.campaigns[0]|[.agents[]|"\(.state)/\(.version)"]|join(",")' "$WORK/out")" "draft/1,draft/1"
expect_eq "list: verdict of a draft" "$(jq -r '.campaigns[0].verdict' "$WORK/out")" "draft: not started"
camp list
check "list: a line for the campaign" grep -q "^$C  *draft  *1  *2/2" "$WORK/out"

show
expect_eq "show: exit 0" "$?" "0"
expect_eq "show: three variants, control first" "$(jq -r '[.variants[].name]|join(",")' "$WORK/show.json")" "control,variant_b,variant_c"
expect_eq "show: control has no p-value" "$(jq -r '.variants[0].p_value' "$WORK/show.json")" "null"
expect_eq "show: stable keys" "$(jq -r '[has("verdict"), has("srm_p"), has("srm_warn"), has("tripped"), has("reason"), has("state"), has("version"), (.variants[1]|has("p_value"), has("avp"), has("beat"), has("call"))]|all' "$WORK/show.json")" "true"

camp start "$C" --json
expect_eq "start: exit 0" "$rc" "0"
expect_eq "start: ok on both" "$(jq -r '[.agents[].result]|join(",")' "$WORK/out")" "ok,ok"
expect_eq "start: both running v2" "$(jq -r '[.agents[]|"\(.state)/\(.version)"]|join(",")' "$WORK/out")" "running/2,running/2"
show
expect_eq "show after start: running v2 on both" "$(states "$WORK/show.json")" "running/2,running/2"
expect_eq "show after start: since is set" "$(jq -r '.since_ms > 0' "$WORK/show.json")" "true"
expect_eq "show after start: not enough data" "$(jq -r '.call' "$WORK/show.json")" "not_enough"
"$N" "${OPS[@]}" campaign show "$C" --json --mde 25 --min-duration 60 "${AG[@]}" >"$WORK/mde.json" 2>/dev/null
expect_eq "show --mde --min-duration: the policy in the JSON" "$(jq -r '"\(.mde)/\(.min_duration_s)"' "$WORK/mde.json")" "0.25/60"
camp show "$C" --mde 0
expect_eq "show --mde 0: usage (exit 2)" "$rc" "2"

camp start "$C"
expect_eq "start again: exit 0" "$rc" "0"
check "start again: already, on both" test "$(grep -c ' already  *v2 running' "$WORK/out")" = 2

# somebody else changed it first: an old expect is refused, nothing changes
camp pause "$C" --expect 1 --json
expect_eq "stale expect: exit 5" "$rc" "5"
expect_eq "stale expect: stale on both" "$(jq -r '[.agents[].result]|join(",")' "$WORK/out")" "stale,stale"
expect_eq "stale expect: status" "$(jq -r '.agents[0].status' "$WORK/out")" "ESTALE"
check "stale expect: says the current version and state" grep -q "version 2.*running" "$WORK/out"
show
expect_eq "stale expect: no change" "$(states "$WORK/show.json")" "running/2,running/2"
expect_eq "stale refusal audited" \
	"$(sqlite3 "$WORK/c1/nudged.db" "SELECT count(*) FROM audit WHERE what = 'campaign_change' AND status != 0 AND detail LIKE '$C pause expect 1 refused%'")" "1"

# a viewer reads but cannot change
"$N" "${VIEW[@]}" campaign show "$C" --json "${AG[@]}" >"$WORK/vshow.json" 2>/dev/null
expect_eq "viewer: show works" "$?" "0"
"$N" "${VIEW[@]}" campaign pause "$C" "${AG[@]}" >"$WORK/vout" 2>&1
expect_eq "viewer: pause refused (exit 4)" "$?" "4"
check "viewer: refused on both" test "$(grep -c 'refused' "$WORK/vout")" = 2
show
expect_eq "viewer: nothing changed" "$(states "$WORK/show.json")" "running/2,running/2"
expect_eq "viewer: the refusal audited" \
	"$(sqlite3 "$WORK/c2/nudged.db" "SELECT count(*) FROM audit WHERE what = 'campaign_change' AND who = 'view' AND status = -14")" "1"

camp pause "$C"
expect_eq "pause: exit 0" "$rc" "0"
check "pause: ok v3 paused on both" test "$(grep -c ' ok  *v3 paused' "$WORK/out")" = 2
camp resume "$C" --json
expect_eq "resume: running v4" "$(jq -r '[.agents[]|"\(.state)/\(.version)"]|join(",")' "$WORK/out")" "running/4,running/4"
camp weights "$C" 50,25,25 --json
expect_eq "weights: exit 0" "$rc" "0"
show
expect_eq "weights: in force" "$(jq -r '[.variants[].weight|tostring]|join(",")' "$WORK/show.json")" "50,25,25"
camp weights "$C" 50,50
expect_eq "weights: two for three variants: rejected (exit 5)" "$rc" "5"
camp weights "$C" 50,x,25
expect_eq "weights: not numbers: usage (exit 2)" "$rc" "2"
camp holdout "$C" 10%
expect_eq "holdout 10%: exit 0" "$rc" "0"
show
expect_eq "holdout: 1000 bp at v6" "$(jq -r '"\(.holdout_bp)/\(.version)"' "$WORK/show.json")" "1000/6"

# the change audited with the campaign before and after
check "change audited before -> after" test "$(sqlite3 "$WORK/c2/nudged.db" "SELECT count(*) FROM audit WHERE what = 'campaign_change' AND status = 0 AND detail LIKE '$C weights 50,25,25 expect 4: v4 running w=34,33,33 % -> v5 running w=50,25,25 %'")" = 1

# one agent down: a partial change exits 3; rerun finishes, "already" where done
stop_agent c2
camp pause "$C" --json
expect_eq "agent down: exit 3" "$rc" "3"
expect_eq "agent down: ok, unreachable" "$(jq -r '[.agents[].result]|join(",")' "$WORK/out")" "ok,unreachable"
start_agent c2 --snapshot-ms 200 --credentials "$K/creds" || exit 1
camp pause "$C" --json
expect_eq "rerun: exit 0" "$rc" "0"
expect_eq "rerun: already, ok" "$(jq -r '[.agents[].result]|join(",")' "$WORK/out")" "already,ok"

# the state survives a restart
stop_agent c1
start_agent c1 --snapshot-ms 200 --credentials "$K/creds" || exit 1
show
expect_eq "restart: paused v7 kept" "$(states "$WORK/show.json")" "paused/7,paused/7"
expect_eq "restart: weights kept" "$(jq -r '[.variants[].weight|tostring]|join(",")' "$WORK/show.json")" "50,25,25"

camp stop "$C" --winner nosuch
expect_eq "stop with an unknown winner: exit 5" "$rc" "5"
camp stop "$C" --winner variant_c --json
expect_eq "stop --winner: exit 0" "$rc" "0"
expect_eq "stop --winner: stopped v8 on both" "$(jq -r '[.agents[]|"\(.state)/\(.version)"]|join(",")' "$WORK/out")" "stopped/8,stopped/8"
show
expect_eq "stopped: the winner" "$(jq -r .winner "$WORK/show.json")" "variant_c"
expect_eq "stopped: verdict" "$(jq -r .verdict "$WORK/show.json")" "stopped: winner variant_c rolled out to everyone"
camp winner "$C" variant_c
expect_eq "winner again: already (exit 0)" "$rc" "0"
camp resume "$C"
expect_eq "resume a stopped campaign: rejected (exit 5)" "$rc" "5"

camp show nosuch
expect_eq "show an undeclared campaign: exit 5" "$rc" "5"
camp pause
expect_eq "pause without a name: usage (exit 2)" "$rc" "2"
camp frobnicate "$C"
expect_eq "unknown subcommand: usage (exit 2)" "$rc" "2"
