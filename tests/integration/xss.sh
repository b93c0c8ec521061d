#!/usr/bin/env bash
# XSS vectors (rule texts, {holes} filled by visitor-controlled fields,
# CSS selectors, operator one-off messages) pushed to a real nudged and
# rendered by the tag in headless Chromium: nothing executes, text shows
# as text.  The checks are in tests/browser/xss.mjs (PASS/FAIL lines).
# builds: plain
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

for tool in node npm /usr/bin/chromium; do
	command -v "$tool" >/dev/null || { fail xss "$tool not installed (make test-deps)"; exit 0; }
done
if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
	npm ci --prefix "$ROOT/tests/browser" --no-audit --no-fund >"$WORK/npm.log" 2>&1 ||
		{ fail xss "npm ci failed: $(tail -5 "$WORK/npm.log")"; exit 0; }
fi

port=$(free_port)
cat >"$WORK/browser.conf" <<CONF
[agent]
snapshot_ms = 200
delta_ms = 100
[http]
listen = 127.0.0.1:$port
shop_dir = $ROOT/agent/web/shop
country_header = X-Country
trusted_proxies = 127.0.0.1/32
CONF
start_agent br --config "$WORK/browser.conf" || exit 1

BASE="http://127.0.0.1:$port" NUDGE="$BUILD/nudge" \
	AGENT="$AGENT_PUB_br,ipc://$WORK/br/control.sock" \
	WORK="$WORK" timeout 240 node "$ROOT/tests/browser/xss.mjs" 2>"$WORK/node.err"
rc=$?
[ "$rc" -eq 0 ] || { fail xss "node exited $rc: $(tail -5 "$WORK/node.err")"; }
grep -q 'ERROR: AddressSanitizer\|runtime error' "$WORK/br/log" &&
	fail "agent sanitizer" "$(grep -m3 'AddressSanitizer\|runtime error' "$WORK/br/log")"
exit 0
