#!/usr/bin/env bash
# Fault injection in a whole agent (common/fault.h, compiled into the
# sanitized tree): every publish send failing from the 60th, every SQLite
# write failing from the 5th, the Nth allocation of the rule set loaded at
# start failing.  The agent must keep serving, refuse what it cannot make
# durable, exit cleanly, and LeakSanitizer must stay silent.
# builds: san
. "$(dirname "$0")/lib/common.sh"

N="$BUILD/nudge"
if ! nm "$BUILD/nudged" 2>/dev/null | grep -q fault_arm; then
	fail "fault injection compiled in" "$BUILD/nudged has no fault hooks (build with SANITIZE=...)"
	exit 0
fi
cat >"$WORK/r.rules" <<'RULES'
rule hello:
  when page ~ "/p"
  show banner "Hello {country}"
RULES
ctl() { echo "ipc://$WORK/$1/control.sock"; }
# stop_clean NAME: graceful stop, exit 0, no sanitizer report in the log
stop_clean() {
	local rc=0
	stop_agent "$1" || rc=$?
	expect_eq "$1: graceful exit" "$rc" 0
	if grep -qE 'LeakSanitizer|AddressSanitizer|runtime error' "$WORK/$1/log"; then
		fail "$1: sanitizers silent" "$(grep -m1 -A8 -E 'LeakSanitizer|AddressSanitizer|runtime error' "$WORK/$1/log" | tr '\n' ' ' | cut -c1-400)"
	else
		pass "$1: sanitizers silent"
	fi
}

# ---- sends: the first 59 go out (a few seconds), every later one fails --------------------
NUDGE_FAULT=send:60+ start_agent fs || exit 1
"$BUILD/nudge-sim" --seed 3 --visitors 300 --ingest "$AGENT_INGEST_fs" --quiet >/dev/null 2>&1
expect_eq "sends failing: events still accepted" "$?" 0
# deltas go every 100 ms: well past the 60th send after 8 s
sleep 8
check "sends failing: agent alive" kill -0 "$AGENT_PID_fs"
check "sends failing: no snapshot reaches a subscriber any more" \
	sh -c "! '$N' status --json --timeout 1500 --agent '$AGENT_PUB_fs' >/dev/null 2>&1"
"$N" rules push "$WORK/r.rules" --agent "$AGENT_PUB_fs,$(ctl fs)" >/dev/null 2>&1
expect_eq "sends failing: control still answers (push acknowledged)" "$?" 0
stop_clean fs

# ---- SQLite writes: every one from the 5th fails ----------------------------
NUDGE_FAULT=sql:5+ start_agent fq || exit 1
"$BUILD/nudge-sim" --seed 4 --visitors 200 --ingest "$AGENT_INGEST_fq" --quiet >/dev/null 2>&1
expect_eq "writes failing: events still accepted in memory" "$?" 0
"$N" rules push "$WORK/r.rules" --agent "$AGENT_PUB_fq,$(ctl fq)" >"$WORK/fq.push" 2>&1
rc=$?
check "writes failing: a push that cannot be made durable is refused (exit $rc)" test "$rc" -ne 0
sleep 1.5
"$N" status --json --agent "$AGENT_PUB_fq" >"$WORK/fq.json" 2>/dev/null
check "writes failing: the console sees the store errors" \
	test "$(jq -r '.agents[0].store_errors // 0' "$WORK/fq.json")" -gt 0
expect_eq "writes failing: rules not in force" "$(jq -r '.agents[0].rules_version' "$WORK/fq.json")" 0
stop_clean fq

# ---- allocations of the stored rule set at start ---------------------------
start_agent fa || exit 1
"$N" rules push "$WORK/r.rules" --agent "$AGENT_PUB_fa,$(ctl fa)" >/dev/null 2>&1
expect_eq "stored a rule set" "$?" 0
stop_clean fa
for n in 1 2 3 5 8 13; do
	NUDGE_FAULT=alloc:$n start_agent fa || { fail "alloc:$n: agent starts" "did not start"; continue; }
	"$N" emit pageview --visitor "v00000000000000$n" --page /p --ingest "$AGENT_INGEST_fa" >/dev/null 2>&1
	expect_eq "alloc:$n: agent serves" "$?" 0
	stop_clean fa
done
