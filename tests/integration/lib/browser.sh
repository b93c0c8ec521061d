# Shared by the headless-Chromium tests (browser, browser_rules, bots,
# xss): source it after common.sh.  Sets ROOT.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

# browser_ready NAME [TOOL...]: node, npm, Debian's chromium (and the
# tools given) present, playwright-core installed from the lock file;
# otherwise one FAIL line for NAME and the script ends.
browser_ready() {
	local name=$1 tool
	shift
	for tool in node npm /usr/bin/chromium "$@"; do
		command -v "$tool" >/dev/null || { fail "$name" "$tool not installed (make test-deps)"; exit 0; }
	done
	if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
		npm ci --prefix "$ROOT/tests/browser" --no-audit --no-fund >"$WORK/npm.log" 2>&1 ||
			{ fail "$name" "npm ci failed: $(tail -5 "$WORK/npm.log")"; exit 0; }
	fi
}

# start_shop_agent [CONFIG LINE...]: the agent "br" serving the demo shop
# and the tag on a free port ($port), the lines given added to [http].
start_shop_agent() {
	port=$(free_port)
	{
		printf '[agent]\nsnapshot_ms = 200\ndelta_ms = 100\n[http]\n'
		printf 'listen = 127.0.0.1:%s\nshop_dir = %s\n' "$port" "$ROOT/agent/web/shop"
		printf '%s\n' "$@"
	} >"$WORK/browser.conf"
	start_agent br --config "$WORK/browser.conf" || exit 1
}
