#!/usr/bin/env bash
# The beacon endpoint under abuse, with curl against a real nudged: each bad
# request gets its 4xx and the agent keeps serving everyone else; the
# client address comes from X-Forwarded-For only through a trusted proxy.
. "$(dirname "$0")/lib/common.sh"

command -v curl >/dev/null || { fail beacon "curl not installed"; exit 0; }
port=$(free_port)
cat >"$WORK/beacon.conf" <<CONF
[agent]
snapshot_ms = 200
[http]
listen = 127.0.0.1:$port
origins = https://shop.example
trusted_proxies = 127.0.0.2/32
country_header = X-Country-Code
rate_per_visitor = 20
rate_burst = 40
CONF
start_agent bc --config "$WORK/beacon.conf" || exit 1
U="http://127.0.0.1:$port/nudge/e"
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
batch() { # visitor [n events]
	local n=${2:-1} ev='' i
	for ((i = 0; i < n; i++)); do ev+="${ev:+,}{\"type\":\"pageview\",\"page\":\"/p$i\"}"; done
	printf '{"visitor":"%s","events":[%s]}' "$1" "$ev"
}
# code [curl args...] -> the HTTP status of one POST to the endpoint
code() { curl -s -o "$WORK/body" -w '%{http_code}' -A "$UA" "$@"; }
post() { code -X POST -H 'Content-Type: text/plain' "$@" "$U"; }

expect_eq "good beacon 200" "$(post -d "$(batch aaaa000000000001)")" 200
expect_eq "answer carries decisions" "$(jq -c .d "$WORK/body")" "[]"
expect_eq "sendBeacon's content type accepted" \
	"$(code -X POST -H 'Content-Type: text/plain;charset=UTF-8' -d "$(batch aaaa000000000001)" "$U")" 200
head -c 70000 /dev/zero | tr '\0' ' ' >"$WORK/big"
expect_eq "oversized body 413" "$(post --data-binary @"$WORK/big")" 413
expect_eq "oversized chunked body 413" "$(post -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/big")" 413
# just under max_body (64 KiB): gathered by the agent, not MHD's pool
long=$(head -c 500 /dev/zero | tr '\0' a)
ev=''
for i in $(seq 1 100); do ev+="${ev:+,}{\"type\":\"pageview\",\"page\":\"/$long$i\"}"; done
printf '{"visitor":"aaaa000000000003","events":[%s]}' "$ev" >"$WORK/near"
head -c $((65536 - $(wc -c <"$WORK/near"))) /dev/zero | tr '\0' ' ' >>"$WORK/near"
expect_eq "body of exactly max_body 200 ($(wc -c <"$WORK/near") bytes)" "$(post --data-binary @"$WORK/near")" 200
expect_eq "chunked body of exactly max_body 200" "$(post -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/near")" 200
expect_eq "malformed JSON 400" "$(post -d '{"visitor":"v1","events":[{"type":')" 400
check "400 says why" grep -q 'bad JSON' "$WORK/body"
expect_eq "too many events 400" "$(post -d "$(batch aaaa000000000002 101)")" 400
check "too many events says so" grep -q 'at most 100' "$WORK/body"
expect_eq "unknown key 400" "$(post -d '{"visitor":"v1","events":[{"type":"click","evil":1}]}')" 400
expect_eq "fraction out of range 400" "$(post -d '{"visitor":"v1","events":[{"type":"click","x":7}]}')" 400
expect_eq "client-set country 400" "$(post -d '{"visitor":"v1","events":[{"type":"click","country":"FR"}]}')" 400
expect_eq "overlong page 400" "$(post -d "{\"visitor\":\"v1\",\"events\":[{\"type\":\"pageview\",\"page\":\"/$(head -c 600 /dev/zero | tr '\0' a)\"}]}")" 400
expect_eq "bad visitor id 400" "$(post -d '{"visitor":"has space","events":[{"type":"pageview"}]}')" 400
expect_eq "wrong content type 415" "$(code -X POST -H 'Content-Type: application/x-www-form-urlencoded' -d "$(batch aaaa000000000001)" "$U")" 415
expect_eq "unknown origin 403" "$(post -H 'Origin: https://evil.example' -d "$(batch aaaa000000000001)")" 403
expect_eq "configured origin 200" "$(post -H 'Origin: https://shop.example' -d "$(batch aaaa000000000001)")" 200
expect_eq "same origin 200" "$(post -H "Origin: http://127.0.0.1:$port" -d "$(batch aaaa000000000001)")" 200
expect_eq "preflight from a configured origin 204" "$(code -X OPTIONS -H 'Origin: https://shop.example' "$U")" 204
expect_eq "preflight from elsewhere 403" "$(code -X OPTIONS -H 'Origin: https://evil.example' "$U")" 403
expect_eq "wrong method 405" "$(code -X GET "$U")" 405
expect_eq "unknown path 404" "$(code "http://127.0.0.1:$port/nudge/nope")" 404
expect_eq "tag 200" "$(code "http://127.0.0.1:$port/nudge/nudge.js")" 200
etag=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/nudge/nudge.js" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
expect_eq "tag revalidates 304" "$(code -H "If-None-Match: $etag" "http://127.0.0.1:$port/nudge/nudge.js")" 304
expect_eq "tag gzip form" "$(curl -s -H 'Accept-Encoding: gzip' -D - -o /dev/null "http://127.0.0.1:$port/nudge/nudge.js" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding"{print $2}')" gzip

# A flood from one visitor: 100 requests at once on one connection.
urls=()
for _ in $(seq 1 100); do urls+=(-o /dev/null "$U"); done
curl -s -A "$UA" -X POST -H 'Content-Type: text/plain' -d "$(batch flood00000000001)" \
	-w '%{http_code} %header{retry-after}\n' "${urls[@]}" >"$WORK/flood"
n429=$(grep -c '^429 ' "$WORK/flood")
n200=$(grep -c '^200 ' "$WORK/flood")
check "flood: one visitor gets 429s ($n429 of 100)" test "$n429" -ge 30
check "flood: the burst still got through ($n200 of 100)" test "$n200" -ge 40
expect_eq "another visitor still gets 200" "$(post -d "$(batch bbbb000000000001)")" 200
# every 429 of the flood itself (a request sent after it may find the
# bucket refilled already: one token every 50 ms)
check "429 says Retry-After" test "$(grep -c '^429 1$' "$WORK/flood")" = "$n429"

h() { curl -s "http://127.0.0.1:$port/nudge/health"; }
bots() { "$BUILD/nudge" status --json --agent "$AGENT_PUB_bc" 2>/dev/null | jq .bots; }

# Bots by behaviour: page views faster than bot_pageviews_per_s (4, the
# default) for over 3 s' worth (12 at once) mark the visitor id a bot; its
# later beacons, page views or not, count as bots too; a human pace does
# not.  (The flood above was marked already: take the counters after it.)
fast0=$(h | jq .bot_fast)
for i in $(seq 1 20); do post -d "$(batch dddd000000000001)" >/dev/null; done
fast1=$(h | jq .bot_fast)
check "too many page views a second: marked a bot ($((fast1 - fast0)) of 20)" test "$((fast1 - fast0))" -ge 5
bots0=$(bots)
expect_eq "a marked visitor's click is still 200" "$(post -d '{"visitor":"dddd000000000001","events":[{"type":"click","x":0.5,"y":0.5}]}')" 200
expect_eq "and counted as a bot's" "$(h | jq .bot_fast)" "$((fast1 + 1))"
for i in 1 2 3; do post -d "$(batch eeee000000000001 2)" >/dev/null; sleep 0.5; done
expect_eq "a human pace is never marked" "$(h | jq .bot_fast)" "$((fast1 + 1))"
for _ in $(seq 1 30); do [ "$(bots)" -gt "$bots0" ] && break; sleep 0.1; done
check "bot events are counted apart (bots $bots0 -> $(bots))" test "$(bots)" -gt "$bots0"

# X-Forwarded-For and the country header only count from a trusted proxy.
xff0=$(h | jq .xff_used)
expect_eq "XFF from an untrusted peer: 200" "$(post -H 'X-Forwarded-For: 198.51.100.7' -H 'X-Country-Code: FR' -d "$(batch cccc000000000001)")" 200
expect_eq "XFF from an untrusted peer is ignored" "$(h | jq .xff_used)" "$xff0"
expect_eq "country header from an untrusted peer is ignored" "$(h | jq -r '.countries.FR // 0')" 0
expect_eq "XFF from a trusted proxy: 200" "$(post --interface 127.0.0.2 -H 'X-Forwarded-For: 198.51.100.7' -H 'X-Country-Code: fr' -d "$(batch cccc000000000002)")" 200
expect_eq "XFF from a trusted proxy is used" "$(h | jq .xff_used)" "$((xff0 + 1))"
expect_eq "country header from a trusted proxy is used" "$(h | jq -r '.countries.FR // 0')" 1
# the per-address bucket follows the client behind the proxy, not the proxy
expect_eq "health still answers" "$(code "http://127.0.0.1:$port/nudge/health")" 200
st=$("$BUILD/nudge" status --json --agent "$AGENT_PUB_bc" 2>/dev/null)
check "refused events are counted as rejected" test "$(echo "$st" | jq .rejected)" -ge 100
check "agent still alive" kill -0 "$AGENT_PID_bc"
grep -q 'AddressSanitizer\|runtime error' "$WORK/bc/log" && fail "agent sanitizer" "$(grep -m3 'AddressSanitizer\|runtime error' "$WORK/bc/log")"
exit 0
