#!/usr/bin/env bash
# Country lookup from a MaxMind-format database made at test time
# (tests/geoip/make_db.pl), for clients behind a trusted proxy.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if ! perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null; then
	fail geoip "libmaxmind-db-writer-perl not installed (make test-deps)"
	exit 0
fi
perl "$ROOT/tests/geoip/make_db.pl" "$WORK/test.mmdb" || { fail geoip "make_db.pl failed"; exit 0; }
port=$(free_port)
cat >"$WORK/geo.conf" <<CONF
[http]
listen = 127.0.0.1:$port
trusted_proxies = 127.0.0.1/32, ::1
geoip_db = $WORK/test.mmdb
CONF
start_agent geo --config "$WORK/geo.conf" || exit 1
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
send() { # visitor client-address
	curl -s -o /dev/null -w '%{http_code}' -A "$UA" -X POST -H 'Content-Type: text/plain' \
		-H "X-Forwarded-For: $2" -d "{\"visitor\":\"$1\",\"events\":[{\"type\":\"pageview\",\"page\":\"/\"}]}" \
		"http://127.0.0.1:$port/nudge/e"
}
health() { curl -s "http://127.0.0.1:$port/nudge/health"; }
expect_eq "geoip enabled" "$(health | jq .geoip)" true
expect_eq "beacon via proxy 200" "$(send g1 198.51.100.7)" 200
send g2 203.0.113.9 >/dev/null
send g3 2001:db8::5 >/dev/null
send g4 192.0.2.1 >/dev/null
# two hops: the client, then another trusted proxy; the client counts
send g5 "198.51.100.8, 127.0.0.1" >/dev/null
expect_eq "IPv4 -> FR (two hops included)" "$(health | jq -r '.countries.FR // 0')" 2
expect_eq "IPv4 -> DE" "$(health | jq -r '.countries.DE // 0')" 1
expect_eq "IPv6 -> JP" "$(health | jq -r '.countries.JP // 0')" 1
expect_eq "unknown address -> no country" "$(health | jq -r '[.countries[]] | add')" 4
"$BUILD/nudge" status --json --agent "$AGENT_PUB_geo" >"$WORK/st.json" 2>/dev/null
check "addresses are not stored" sh -c "! grep -aq '198\.51\.100\|203\.0\.113\|2001:db8' '$WORK/geo/nudged.db' '$WORK/st.json' 2>/dev/null"
exit 0
