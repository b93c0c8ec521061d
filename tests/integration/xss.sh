#!/usr/bin/env bash
# XSS vectors (rule texts, {holes} filled by visitor-controlled fields,
# CSS selectors, operator one-off messages) pushed to a real nudged and
# rendered by the tag in headless Chromium: nothing executes, text shows
# as text.  The checks are in tests/browser/xss.mjs (PASS/FAIL lines).
# builds: plain
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/browser.sh"
browser_ready xss

start_shop_agent \
	"country_header = X-Country" \
	"trusted_proxies = 127.0.0.1/32"

BASE="http://127.0.0.1:$port" NUDGE="$BUILD/nudge" \
	AGENT="$AGENT_PUB_br,ipc://$WORK/br/control.sock" \
	WORK="$WORK" timeout 240 node "$ROOT/tests/browser/xss.mjs" 2>"$WORK/node.err"
rc=$?
[ "$rc" -eq 0 ] || { fail xss "node exited $rc: $(tail -5 "$WORK/node.err")"; }
grep -q 'ERROR: AddressSanitizer\|runtime error' "$WORK/br/log" &&
	fail "agent sanitizer" "$(grep -m3 'AddressSanitizer\|runtime error' "$WORK/br/log")"
exit 0
