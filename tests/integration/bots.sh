#!/usr/bin/env bash
# Headless Chromium (HeadlessChrome UA, navigator.webdriver) and a
# webdriver-driven browser are counted as bots by a real nudged: their
# beacons enter no funnel and get no decision; a person's browser does.
# The checks are in tests/browser/bots.mjs (PASS/FAIL lines).  Beacons
# by curl with such user agents and with "wd": true are checked here.
# Datacenter addresses ([http] datacenter_ranges, checked first: they need
# no browser): a beacon whose client (X-Forwarded-For from a trusted
# proxy) is in a listed range is a bot and enters no funnel, one from an
# unlisted address is a person's; SIGHUP re-reads the file, a bad file is
# refused with file:line at start and leaves the ranges in use on SIGHUP.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/browser.sh"

datacenter_checks() {
	local dport U A rc
	dport=$(free_port)
	printf '# test ranges\n203.0.113.0/24   # TEST-NET-3\n2001:db8:dc::/48\n' >"$WORK/dc.txt"
	cat >"$WORK/dc.conf" <<CONF
[agent]
snapshot_ms = 200
[http]
listen = 127.0.0.1:$dport
trusted_proxies = 127.0.0.1/32
datacenter_ranges = $WORK/dc.txt
CONF
	start_agent dc --config "$WORK/dc.conf" || return
	U="http://127.0.0.1:$dport/nudge/e"
	A=$AGENT_PUB_dc
	dc_bots() { "$BUILD/nudge" status --json --agent "$A" | jq '.bots'; }
	dc_visits() { "$BUILD/nudge" status --json --agent "$A" | jq '.funnel.steps[0].count'; }
	dc_health() { curl -s "http://127.0.0.1:$dport/nudge/health" | jq ".$1"; }
	dc_beacon() { # VISITOR XFF
		curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: text/plain' \
			-A 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36' \
			-H "X-Forwarded-For: $2" \
			-d "{\"visitor\":\"$1\",\"events\":[{\"type\":\"pageview\",\"page\":\"/shop/product/x\"}]}" "$U"
	}
	local b0 f0 h0
	b0=$(dc_bots) f0=$(dc_visits) h0=$(dc_health bot_datacenter)
	expect_eq "datacenter: a beacon from a listed IPv4 address is answered" "$(dc_beacon dcbot00000000001 203.0.113.9)" 200
	dc_beacon dcbot00000000002 '2001:db8:dc:1::5' >/dev/null
	dc_beacon dcbot00000000003 '198.51.100.1, 203.0.113.200' >/dev/null	# the proxy's hop counts
	sleep 0.5
	expect_eq "datacenter: listed IPv4, IPv6 and XFF-hop clients are 3 bots" "$(($(dc_bots) - b0))" 3
	expect_eq "datacenter: counted as such in health (bot_datacenter)" "$(($(dc_health bot_datacenter) - h0))" 3
	expect_eq "datacenter: they enter no funnel step" "$(dc_visits)" "$f0"
	dc_beacon person0000000001 198.51.100.7 >/dev/null
	dc_beacon person0000000002 '2001:db8:dd::1' >/dev/null
	sleep 0.5
	expect_eq "datacenter: unlisted addresses are not bots" "$(($(dc_bots) - b0))" 3
	expect_eq "datacenter: unlisted addresses enter the funnel" "$(dc_visits)" "$((f0 + 2))"
	# SIGHUP: 198.51.100.0/24 added
	printf '203.0.113.0/24\n198.51.100.0/24\n' >"$WORK/dc.txt"
	kill -HUP "$AGENT_PID_dc"
	sleep 0.5
	dc_beacon person0000000003 198.51.100.8 >/dev/null
	sleep 0.5
	expect_eq "datacenter: SIGHUP re-reads the ranges (198.51.100.8 now a bot)" "$(($(dc_bots) - b0))" 4
	# a bad line on SIGHUP: refused with file:line, the ranges kept
	printf '203.0.113.0/24\nnot-a-range\n' >"$WORK/dc.txt"
	kill -HUP "$AGENT_PID_dc"
	sleep 0.5
	check "datacenter: a bad file on SIGHUP is reported with file:line" \
		grep -q "dc.txt:2: " "$WORK/dc/log"
	dc_beacon person0000000004 198.51.100.9 >/dev/null
	sleep 0.5
	expect_eq "datacenter: and the ranges in use are kept" "$(($(dc_bots) - b0))" 5
	stop_agent dc
	# the same bad file at start: the agent does not start
	mkdir -p "$WORK/dcbad"
	timeout 10 "$BUILD/nudged" --name dcbad --pub "tcp://127.0.0.1:$(free_port)" \
		--control "ipc://$WORK/dcbad/control.sock" --db "$WORK/dcbad/nudged.db" \
		--config "$WORK/dc.conf" >"$WORK/dcbad/log" 2>&1
	rc=$?
	check "datacenter: a bad ranges file is refused at start (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
	check "datacenter: ... with file:line" grep -q "dc.txt:2: " "$WORK/dcbad/log"
}
if command -v curl >/dev/null && command -v jq >/dev/null; then
	datacenter_checks
else
	fail datacenter "curl and jq needed"
fi

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
