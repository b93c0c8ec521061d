#!/usr/bin/env bash
# The tarpit (agent/tarpit.h) with curl and wrk against a real nudged: a
# client refused more than tarpit_after times has its next 429s held
# tarpit_ms, on its own connections only; everyone else is answered at
# once; no more than 256 connections are held; a stop with connections
# held is clean; tarpit_ms = 0 turns it off.
. "$(dirname "$0")/lib/common.sh"
for t in jq curl wrk; do
	command -v "$t" >/dev/null || { fail tarpit "$t not installed (make test-deps)"; exit 0; }
done
HOLD_MS=2000
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'

# conf NAME TARPIT_MS: an agent config; the per-visitor bucket is small
# (1/s, burst 5) so that a client held 2 s is still refused afterwards.
conf() {
	local port
	port=$(free_port)
	cat >"$WORK/$1.conf" <<CONF
[agent]
snapshot_ms = 200
[http]
listen = 127.0.0.1:$port
trusted_proxies = 127.0.0.1/32
rate_per_visitor = 1
rate_burst = 5
rate_per_address = 100000
bot_pageviews_per_s = 0
tarpit_ms = $2
tarpit_after = 20
CONF
	echo "$port"
}
body() { printf '{"visitor":"%s","events":[{"type":"pageview","page":"/p"}]}' "$1"; }
# burst PORT VISITOR N: N POSTs on one connection; "code seconds" a line
burst() {
	local urls=() i
	for ((i = 0; i < $3; i++)); do urls+=(-o /dev/null "http://127.0.0.1:$1/nudge/e"); done
	curl -s -A "$UA" -X POST -H 'Content-Type: text/plain' -H 'X-Forwarded-For: 203.0.113.7' \
		-d "$(body "$2")" -w '%{http_code} %{time_total} %header{retry-after}\n' "${urls[@]}"
}
health() { curl -s --max-time 5 "http://127.0.0.1:$1/nudge/health"; }
# probe PORT N: N beacons of other visitors from another address; prints
# "answered-200 slowest-seconds"
probe() {
	local i ok=0 worst=0 out
	for ((i = 0; i < $2; i++)); do
		out=$(curl -s -o /dev/null -A "$UA" -X POST -H 'Content-Type: text/plain' \
			-H 'X-Forwarded-For: 198.51.100.9' -d "$(body "probe$(printf %011d "$i")")" \
			-w '%{http_code} %{time_total}' --max-time 5 "http://127.0.0.1:$1/nudge/e")
		[ "${out% *}" = 200 ] && ok=$((ok + 1))
		worst=$(awk -v a="$worst" -v b="${out#* }" 'BEGIN { print (b > a ? b : a) }')
	done
	echo "$ok $worst"
}
cat >"$WORK/flood.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"visitor":"tarpit000000001","events":[{"type":"pageview","page":"/p"}]}'
wrk.headers["Content-Type"] = "text/plain"
wrk.headers["X-Forwarded-For"] = "203.0.113.66"
LUA
# flood PORT CONNECTIONS SECONDS OUT WAIT: wrk in the background (its pid
# in wp), then WAIT seconds
flood() {
	wrk -t1 -c"$2" -d"$3"s -s "$WORK/flood.lua" "http://127.0.0.1:$1/nudge/e" >"$4" 2>&1 &
	wp=$!
	PIDS+=("$wp")
	sleep "$5"
}

port=$(conf tp "$HOLD_MS")
start_agent tp --config "$WORK/tp.conf" || exit 1

# 1. Under tarpit_after refusals: every 429 at once.
burst "$port" tarpit000000002 25 >"$WORK/b1"
expect_eq "the bucket's burst got through" "$(head -5 "$WORK/b1" | awk '{ print $1 }' | sort -u)" 200
n429=$(grep -c '^429 ' "$WORK/b1")
slow=$(awk '$2 >= 1' "$WORK/b1" | wc -l)
check "then 429s ($n429 of 25)" test "$n429" -ge 18
expect_eq "up to tarpit_after refusals, none was held" "$slow" 0
expect_eq "... and the tarpit counted none" "$(health "$port" | jq .tarpitted)" 0

# 2. Past it: the next 429 is held tarpit_ms, then answered as a 429.
# The hold refilled 4 strikes (tarpit_after / 10 a second), so the three
# after it go out at once: only a client that keeps going is held again.
burst "$port" tarpit000000002 4 >"$WORK/b2"
first=$(head -1 "$WORK/b2")
held=$(awk -v h=$HOLD_MS '$1 == 429 && $2 >= h / 1000 - 0.1 && $2 < h / 1000 + 2' "$WORK/b2" | wc -l)
check "past tarpit_after the next 429 was held ${HOLD_MS} ms ($(awk '{ print $2 }' "$WORK/b2" | xargs))" \
	awk -v h=$HOLD_MS -v t="${first#* }" 'BEGIN { split(t, a, " "); exit !(a[1] >= h / 1000 - 0.1 && a[1] < h / 1000 + 2) }'
expect_eq "... still a 429 with Retry-After" "$(awk '{ print $1, $3 }' <<<"$first")" "429 1"
expect_eq "... and the next three were not held (the hold refilled the strikes)" "$held" 1
h=$(health "$port")
check "... and counted tarpitted ($(jq .tarpitted <<<"$h"))" test "$(jq .tarpitted <<<"$h")" -ge "$held"
expect_eq "nothing is held once answered" "$(jq .tarpit_held <<<"$h")" 0

# 3. A flood on 16 connections: held on its own connections; other
# visitors answered at once throughout; the flooder gets a few answers
# per hold per connection instead of tens of thousands a second.
# Holds begin and end together (every connection was refused at once),
# so a sample at a multiple of the hold may find none: the most of three
# samples within the second round of holds (2-4 s).
flood "$port" 16 6 "$WORK/w3" 2.5
h=$(health "$port")
for _ in 1 2; do
	sleep 0.5
	h2=$(health "$port")
	[ "$(jq .tarpit_held <<<"$h2")" -gt "$(jq .tarpit_held <<<"$h")" ] && h=$h2
done
read -r ok worst <<<"$(probe "$port" 20)"
wait "$wp"
nreq=$(awk '/requests in/ { print $1 }' "$WORK/w3")
echo "flood on 16 connections for 6 s: ${nreq:-?} requests; while it ran: $(jq -c '{tarpitted, tarpit_held}' <<<"$h"), probes $ok/20 answered 200, slowest ${worst}s"
check "the flood's connections were held (tarpit_held $(jq .tarpit_held <<<"$h"))" \
	test "$(jq .tarpit_held <<<"$h")" -ge 1 -a "$(jq .tarpit_held <<<"$h")" -le 16
expect_eq "other visitors were answered 200 during the flood" "$ok" 20
check "... at once (slowest ${worst}s < 0.5 s)" awk -v w="$worst" 'BEGIN { exit !(w < 0.5) }'
# at most: the strikes (20, +2/s), the bucket (5, +1/s), one held answer
# per connection per hold (16 x (6 / 2 + 1))
check "the flooder got few answers (${nreq:-?} <= 20 + 12 + 5 + 6 + 64 + slack 43)" test "${nreq:-999999}" -le 150

# 4. Bounded: with 300 connections at most 256 are held; the rest are
# answered at once (counted tarpit_full); others are still served.
flood "$port" 300 4 "$WORK/w4" 2.5
h=$(health "$port")
read -r ok worst <<<"$(probe "$port" 5)"
wait "$wp"
echo "flood on 300 connections: $(jq -c '{tarpit_held, tarpit_full}' <<<"$h"), probes $ok/5, slowest ${worst}s"
check "at most 256 held ($(jq .tarpit_held <<<"$h"))" test "$(jq .tarpit_held <<<"$h")" -le 256
check "past them, 429s go out at once (tarpit_full $(jq .tarpit_full <<<"$h"))" test "$(jq .tarpit_full <<<"$h")" -gt 0
expect_eq "others still served" "$ok" 5

# 5. A stop while connections are held: prompt and clean.
flood "$port" 32 10 "$WORK/w5" 3
nheld=$(health "$port" | jq .tarpit_held)
check "connections held before the stop ($nheld)" test "${nheld:-0}" -ge 1
t0=$(date +%s%N)
stop_agent tp
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "the agent stopped with status 0" "$rc" 0
check "... within 3 s ($ms ms)" test "$ms" -lt 3000
check "... with a clean log" bash -c "! grep -E ' (error|warning):|AddressSanitizer|LeakSanitizer|runtime error' '$WORK/tp/log'"
wait "$wp"

# 6. tarpit_ms = 0: never held.
port=$(conf off 0)
start_agent off --config "$WORK/off.conf" || exit 1
burst "$port" tarpit000000003 40 >"$WORK/b6"
h=$(health "$port")
expect_eq "tarpit_ms = 0: no 429 held" "$(awk '$2 >= 1' "$WORK/b6" | wc -l)" 0
check "... though past tarpit_after ($(grep -c '^429 ' "$WORK/b6") refusals)" test "$(grep -c '^429 ' "$WORK/b6")" -gt 20
expect_eq "... counted none, and reports no tarpit" "$(jq -c '[.tarpitted, .tarpit_held]' <<<"$h")" "[0,null]"
stop_agent off
exit 0
