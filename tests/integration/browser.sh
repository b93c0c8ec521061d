#!/usr/bin/env bash
# The tag in headless Chromium (Debian's chromium, driven by playwright-core
# from npm) against a real nudged serving the demo shop; the checks are in
# tests/browser/tag.mjs and print PASS/FAIL lines.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/browser.sh"
browser_ready browser

XSS='<img src=x onerror=window.__xss=1><script>window.__xss=1</script>'
jq -n --arg t "$XSS" '[{id: "xss_banner", kind: "banner", text: $t},
	{id: "coupon", kind: "coupon", sel: "#promo-code"}]' >"$WORK/decisions.json"
start_shop_agent \
	"test_decisions = $WORK/decisions.json"

BASE="http://127.0.0.1:$port" NUDGE="$BUILD/nudge" PUB="$AGENT_PUB_br" XSS="$XSS" \
	timeout 240 node "$ROOT/tests/browser/tag.mjs" 2>"$WORK/node.err"
rc=$?
[ "$rc" -eq 0 ] || { fail browser "node exited $rc: $(tail -5 "$WORK/node.err")"; }
grep -q 'ERROR: AddressSanitizer\|runtime error' "$WORK/br/log" &&
	fail "agent sanitizer" "$(grep -m3 'AddressSanitizer\|runtime error' "$WORK/br/log")"
exit 0
