#!/usr/bin/env bash
# The README's deployment, for real: Debian's nginx (nginx-light), started
# here on loopback with its own configuration in $WORK, proxies /nudge/ to
# a real nudged.  The tag loads through nginx; beacons through nginx land;
# the client address nginx forwards (X-Forwarded-For) and the country it
# sets (X-Country-Code, as the GeoIP2 module would) are believed only by
# the agent that lists nginx in [http] trusted_proxies.  The visitor is
# 127.0.0.2 (curl --interface), nginx reaches the agents from 127.0.0.1.
. "$(dirname "$0")/lib/common.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
	fail nginx "nginx not installed (make test-deps installs nginx-light)"
	exit 0
fi
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'

# Two agents: "trusting" believes nginx, "wary" does not.
tport=$(free_port)
wport=$(free_port)
while [ "$wport" = "$tport" ]; do wport=$(free_port); done
cat >"$WORK/trusting.conf" <<CONF
[http]
listen = 127.0.0.1:$tport
trusted_proxies = 127.0.0.1/32
country_header = X-Country-Code
CONF
cat >"$WORK/wary.conf" <<CONF
[http]
listen = 127.0.0.1:$wport
country_header = X-Country-Code
CONF
start_agent trusting --config "$WORK/trusting.conf" || exit 1
start_agent wary --config "$WORK/wary.conf" || exit 1

# nginx: /nudge/ to the trusting agent, /wary/nudge/ to the wary one.
nport=$(free_port)
mkdir -p "$WORK/nginx/tmp"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$WORK/nginx/nginx.conf" <<CONF
$user_line
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log info;
events { worker_connections 64; }
http {
	access_log $WORK/nginx/access.log;
	client_body_temp_path $WORK/nginx/tmp/body;
	proxy_temp_path $WORK/nginx/tmp/proxy;
	fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
	uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
	scgi_temp_path $WORK/nginx/tmp/scgi;
	types { application/javascript js; }
	server {
		listen 127.0.0.1:$nport;
		server_name shop.test;
		# as in the README's Deployment section
		location /nudge/ {
			proxy_pass http://127.0.0.1:$tport;
			proxy_http_version 1.1;
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
			# with the GeoIP2 module: \$geoip2_country_code
			proxy_set_header X-Country-Code FR;
		}
		location /wary/nudge/ {
			proxy_pass http://127.0.0.1:$wport/nudge/;
			proxy_http_version 1.1;
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Country-Code FR;
		}
	}
}
CONF
if ! "$NGINX" -t -q -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/t.out"; then
	fail "nginx -t accepts the test configuration" "$(cat "$WORK/nginx/t.out")"
	exit 0
fi
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)
for _ in $(seq 1 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$nport") 2>/dev/null && break
	sleep 0.1
done
N="http://127.0.0.1:$nport"
visitor() { curl -s --interface 127.0.0.2 --max-time 5 "$@"; }

# The tag, through nginx: the same bytes as straight from the agent.
code=$(visitor -o "$WORK/tag.nginx" -w '%{http_code}' "$N/nudge/nudge.js")
expect_eq "GET /nudge/nudge.js through nginx: 200" "$code" "200"
curl -s --max-time 5 -o "$WORK/tag.direct" "http://127.0.0.1:$tport/nudge/nudge.js"
check "the tag through nginx is the agent's tag" cmp -s "$WORK/tag.nginx" "$WORK/tag.direct"
check "the tag is not empty" test -s "$WORK/tag.nginx"
gz=$(visitor -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$N/nudge/nudge.js")
check "gzip form through nginx is smaller ($gz < $(stat -c %s "$WORK/tag.nginx") bytes)" test "$gz" -lt "$(stat -c %s "$WORK/tag.nginx")"

beacon() { # URL-PREFIX VISITOR
	visitor -o /dev/null -w '%{http_code}' -A "$UA" -X POST -H 'Content-Type: text/plain' \
		-d "{\"visitor\":\"$2\",\"events\":[{\"type\":\"pageview\",\"page\":\"/product/boot\"}]}" \
		"$N$1/e"
}
health() { curl -s --max-time 5 "http://127.0.0.1:$1/nudge/health"; }

# Trusted: the forwarded address and the country are believed.  (xff_used
# counts every request, the tag's too: compare before and after.)
x0=$(health "$tport" | jq -r .xff_used)
expect_eq "beacon through nginx: 200" "$(beacon /nudge ng-1)" "200"
beacon /nudge ng-2 >/dev/null
h=$(health "$tport")
expect_eq "trusting agent: 2 beacons" "$(jq -r .beacons <<<"$h")" "2"
expect_eq "trusting agent: client taken from X-Forwarded-For (xff_used +2)" "$(($(jq -r .xff_used <<<"$h") - x0))" "2"
expect_eq "trusting agent: country from nginx's header (FR)" "$(jq -r '.countries.FR // 0' <<<"$h")" "2"
sleep 1.3
"$BUILD/nudge" status --json --agent "$AGENT_PUB_trusting" >"$WORK/st.json" 2>/dev/null
expect_eq "the beacons' events land (nudge status --json)" "$(jq -r .events "$WORK/st.json")" "2"
expect_eq "two live sessions" "$(jq -r .sessions_live "$WORK/st.json")" "2"
if "$BUILD/nudge" help top >/dev/null 2>&1; then
	"$BUILD/nudge" top --once --view sessions --json --agent "$AGENT_PUB_trusting" >"$WORK/sess.json" 2>/dev/null
	expect_eq "the sessions' country is FR" \
		"$(jq -r '[.[] | select(.visitor | startswith("ng-")) | .country] | unique | join(",")' "$WORK/sess.json")" "FR"
fi
# nginx saw the visitor's own address, the agent nginx's: the forwarded
# address is what made the difference.
check "nginx logged the visitor as 127.0.0.2" grep -q '^127\.0\.0\.2 ' "$WORK/nginx/access.log"

# Not trusted: the header and the forwarded address are ignored.
expect_eq "beacon through nginx to the wary agent: 200" "$(beacon /wary/nudge ng-3)" "200"
h=$(health "$wport")
expect_eq "wary agent: the beacon lands" "$(jq -r .beacons <<<"$h")" "1"
expect_eq "wary agent: X-Forwarded-For ignored (xff_used 0)" "$(jq -r .xff_used <<<"$h")" "0"
expect_eq "wary agent: nginx's country header ignored" "$(jq -r '.countries.FR // 0' <<<"$h")" "0"
# a visitor's own headers, straight to the agent, are not believed either
curl -s --max-time 5 -o /dev/null -A "$UA" -X POST -H 'Content-Type: text/plain' \
	-H 'X-Forwarded-For: 198.51.100.7' -H 'X-Country-Code: DE' \
	-d '{"visitor":"spoof-1","events":[{"type":"pageview","page":"/"}]}' \
	"http://127.0.0.1:$wport/nudge/e"
h=$(health "$wport")
expect_eq "wary agent: a visitor's own X-Forwarded-For and country ignored" \
	"$(jq -r '[.beacons, .xff_used, (.countries.DE // 0)] | join(",")' <<<"$h")" "2,0,0"
sleep 1.3
"$BUILD/nudge" status --json --agent "$AGENT_PUB_wary" >"$WORK/sw.json" 2>/dev/null
expect_eq "wary agent: the events land (nudge status --json)" "$(jq -r .events "$WORK/sw.json")" "2"
if "$BUILD/nudge" help top >/dev/null 2>&1; then
	"$BUILD/nudge" top --once --view sessions --json --agent "$AGENT_PUB_wary" >"$WORK/sessw.json" 2>/dev/null
	expect_eq "wary agent: the session has no country" \
		"$(jq -r '[.[] | select(.visitor == "ng-3") | .country] | join(",")' "$WORK/sessw.json")" ""
fi
check "nginx logged no upstream errors" sh -c "! grep -q '\[error\]' '$WORK/nginx/error.log'"
exit 0
