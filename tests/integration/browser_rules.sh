#!/usr/bin/env bash
# Live rules in headless Chromium (Debian's chromium, playwright-core from
# npm) against a real nudged serving the demo shop; the checks are in
# tests/browser/rules.mjs and print PASS/FAIL lines.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/browser.sh"
browser_ready browser_rules sqlite3

start_shop_agent \
	"country_header = X-Country" \
	"trusted_proxies = 127.0.0.1/32"

BASE="http://127.0.0.1:$port" NUDGE="$BUILD/nudge" \
	AGENT="$AGENT_PUB_br,ipc://$WORK/br/control.sock" DB="$WORK/br/nudged.db" \
	WORK="$WORK" timeout 240 node "$ROOT/tests/browser/rules.mjs" 2>"$WORK/node.err"
rc=$?
[ "$rc" -eq 0 ] || { fail browser_rules "node exited $rc: $(tail -5 "$WORK/node.err")"; }
grep -q 'ERROR: AddressSanitizer\|runtime error' "$WORK/br/log" &&
	fail "agent sanitizer" "$(grep -m3 'AddressSanitizer\|runtime error' "$WORK/br/log")"
exit 0
