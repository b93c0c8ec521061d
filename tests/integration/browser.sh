#!/usr/bin/env bash
# The tag in headless Chromium (Debian's chromium, driven by playwright-core
# from npm) against a real nudged serving the demo shop; the checks are in
# tests/browser/tag.mjs and print PASS/FAIL lines.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

for tool in node npm /usr/bin/chromium; do
	command -v "$tool" >/dev/null || { fail browser "$tool not installed (make test-deps)"; exit 0; }
done
if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
	npm ci --prefix "$ROOT/tests/browser" --no-audit --no-fund >"$WORK/npm.log" 2>&1 ||
		{ fail browser "npm ci failed: $(tail -5 "$WORK/npm.log")"; exit 0; }
fi

XSS='<img src=x onerror=window.__xss=1><script>window.__xss=1</script>'
jq -n --arg t "$XSS" '[{id: "xss_banner", kind: "banner", text: $t},
	{id: "coupon", kind: "coupon", sel: "#promo-code"}]' >"$WORK/decisions.json"
port=$(free_port)
cat >"$WORK/browser.conf" <<CONF
[agent]
snapshot_ms = 200
delta_ms = 100
[http]
listen = 127.0.0.1:$port
shop_dir = $ROOT/agent/web/shop
test_decisions = $WORK/decisions.json
CONF
start_agent br --config "$WORK/browser.conf" || exit 1

BASE="http://127.0.0.1:$port" NUDGE="$BUILD/nudge" PUB="$AGENT_PUB_br" XSS="$XSS" \
	timeout 240 node "$ROOT/tests/browser/tag.mjs" 2>"$WORK/node.err"
rc=$?
[ "$rc" -eq 0 ] || { fail browser "node exited $rc: $(tail -5 "$WORK/node.err")"; }
grep -q 'ERROR: AddressSanitizer\|runtime error' "$WORK/br/log" &&
	fail "agent sanitizer" "$(grep -m3 'AddressSanitizer\|runtime error' "$WORK/br/log")"
exit 0
