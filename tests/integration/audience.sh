#!/usr/bin/env bash
# audience.sh - without consent, or with DNT: 1 / Sec-GPC: 1, a beacon is
# audience statistics only (PRIVACY.md): counted in the aggregates, but no
# targeting decision in its answer, no rule memory, no experiment, and its
# visitor id is written nowhere (not in the sessions saved or archived,
# not in the rules' visitor memory); a consenting visitor gets the rule's
# banner.  Against a real nudged with consent_required = true and curl.
#
# Env: BUILD (default build).  Prints PASS/FAIL lines.
. "$(dirname "$0")/lib/common.sh"

command -v curl >/dev/null || { fail audience "curl not installed"; exit 0; }
command -v sqlite3 >/dev/null || { fail audience "sqlite3 not installed"; exit 0; }
port=$(free_port)
cat >"$WORK/a.conf" <<CONF
[agent]
snapshot_ms = 200
[http]
listen = 127.0.0.1:$port
consent_required = true
CONF
start_agent au --config "$WORK/a.conf" || exit 1
A="$AGENT_PUB_au,ipc://$WORK/au/control.sock"
printf 'rule hello:\n  when page ~ "/p"\n  show banner "Hello"\n' >"$WORK/hello.rules"
"$BUILD/nudge" rules push "$WORK/hello.rules" --agent "$A" >/dev/null 2>&1 ||
	{ fail audience "rules push failed"; exit 1; }
U="http://127.0.0.1:$port/nudge/e"
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
beacon() { # beacon VISITOR CONSENT [curl args...] -> the answer's decisions
	local v=$1 c=$2
	shift 2
	curl -s -A "$UA" -X POST -H 'Content-Type: text/plain' "$@" \
		-d "{\"visitor\":\"$v\",$c\"events\":[{\"type\":\"pageview\",\"page\":\"/p1\"},{\"type\":\"click\",\"page\":\"/p1\",\"x\":0.5,\"y\":0.5}]}" \
		"$U" >"$WORK/body"
	jq -c '[.d[].id]' "$WORK/body"
}
YES='"consent":true,'
expect_eq "consenting visitor: the rule's banner" "$(beacon c0c0c0c0c0c0c0c0 "$YES")" '["hello"]'
expect_eq "no consent: no decision" "$(beacon a0a0a0a0a0a0a0a0 "")" '[]'
check "no consent: no watch list either" sh -c "! jq -e .w '$WORK/body' >/dev/null"
expect_eq "Sec-GPC: 1: no decision" "$(beacon b1b1b1b1b1b1b1b1 "$YES" -H 'Sec-GPC: 1')" '[]'
expect_eq "DNT: 1: no decision" "$(beacon d2d2d2d2d2d2d2d2 "$YES" -H 'DNT: 1')" '[]'
expect_eq "audience visitor again: still no decision" "$(beacon a0a0a0a0a0a0a0a0 "")" '[]'

sleep 1.5
"$BUILD/nudge" status --json --agent "$A" >"$WORK/status.json"
expect_eq "every beacon's events counted" "$(jq -r .events "$WORK/status.json")" "10"
"$BUILD/nudge" rules stats --json --agent "$A" >"$WORK/stats.json" 2>/dev/null
m=$(jq -r .rules.hello.m "$WORK/stats.json")
check "the rule matched the consenting visitor's 2 events only (m=$m)" test "$m" -ge 1 -a "$m" -le 2
stop_agent au	# live sessions are saved to the database now
DB=$WORK/au/nudged.db
for v in a0a0a0a0a0a0a0a0 b1b1b1b1b1b1b1b1 d2d2d2d2d2d2d2d2; do
	expect_eq "id $v written nowhere in the database" "$(sqlite3 "$DB" .dump | grep -c "$v")" "0"
done
check "consenting visitor's session saved" test "$(sqlite3 "$DB" .dump | grep -c c0c0c0c0c0c0c0c0)" -ge 1
expect_eq "audience sessions counted under pseudonyms" "$(sqlite3 "$DB" "select count(*) from live_sessions where visitor like '~%'")" "3"
expect_eq "rule memory for the consenting visitor only" "$(sqlite3 "$DB" "select count(*) from visitors")" "1"
exit 0
