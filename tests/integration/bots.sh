#!/usr/bin/env bash
# Headless Chromium (HeadlessChrome UA, navigator.webdriver) and a
# webdriver-driven browser are counted as bots by a real nudged: their
# beacons enter no funnel and get no decision; a person's browser does.
# The checks are in tests/browser/bots.mjs (PASS/FAIL lines).  Beacons
# by curl with such user agents and with "wd": true are checked here.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/browser.sh"
browser_ready bots

start_shop_agent

BASE="http://127.0.0.1:$port" NUDGE="$BUILD/nudge" \
	AGENT="$AGENT_PUB_br,ipc://$WORK/br/control.sock" \
	WORK="$WORK" timeout 240 node "$ROOT/tests/browser/bots.mjs" 2>"$WORK/node.err"
rc=$?
[ "$rc" -eq 0 ] || { fail bots "node exited $rc: $(tail -5 "$WORK/node.err")"; }
U="http://127.0.0.1:$port/nudge/e"
bots() { "$BUILD/nudge" status --json --agent "$AGENT_PUB_br" | jq '.bots'; }
visits() { "$BUILD/nudge" status --json --agent "$AGENT_PUB_br" | jq -c '[.funnel.steps[].count]'; }
beacon() { # VISITOR UA [WD]
	curl -s -o /dev/null -A "$2" -X POST -H 'Content-Type: text/plain' \
		-d "{\"visitor\":\"$1\",${3:-}\"events\":[{\"type\":\"pageview\",\"page\":\"/shop/product/x\"}]}" "$U"
}
if command -v curl >/dev/null && command -v jq >/dev/null; then
	b0=$(bots)
	f0=$(visits)
	beacon curlbot00000001 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36'
	beacon curlbot00000002 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36' '"wd":true,'
	beacon curlbot00000003 'python-requests/2.31'
	sleep 0.5
	expect_eq "curl: HeadlessChrome, webdriver and script beacons are 3 bots" "$(($(bots) - b0))" 3
	expect_eq "curl: they enter no funnel step" "$(visits)" "$f0"
fi
grep -q 'ERROR: AddressSanitizer\|runtime error' "$WORK/br/log" &&
	fail "agent sanitizer" "$(grep -m3 'AddressSanitizer\|runtime error' "$WORK/br/log")"
exit 0
