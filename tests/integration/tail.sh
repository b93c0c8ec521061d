#!/usr/bin/env bash
# Access-log tailing end to end: a real nudged follows two logs while they
# are written, rotated (rename + new file), truncated, and while one of them
# appears only later.  The status must show exactly the page views, bots,
# malformed lines and funnel steps written; assets, POSTs and 404s are
# skipped; lines present before the start are not read (tail from the end);
# the visitor-hash salt survives a restart (a returning visitor continues
# their session instead of starting a new one) and so does the position in
# each file (lines written while the agent was down count once).
. "$(dirname "$0")/lib/common.sh"

LOG=$WORK/access.log
LATER=$WORK/later.log
UA='Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0'
GBOT='Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
BING='Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)'
FUNNEL='visit -> product: page ~ "/product/" -> cart: page == "/cart" -> checkout: page == "/checkout" -> done: page == "/thanks"'

# line IP PATH [STATUS [UA [METHOD]]]: one combined line on stdout
line() {
	printf '%s - - [01/Dec/2026:21:30:%02d +0100] "%s %s HTTP/1.1" %s 512 "-" "%s"\n' \
		"$1" $((RANDOM % 60)) "${5:-GET}" "$2" "${3:-200}" "${4:-$UA}"
}
visit() { # IP PATH...: page views of one visitor
	local ip=$1
	shift
	for p in "$@"; do line "$ip" "$p"; done
}

status() {
	"$BUILD/nudge" status --json --agent "$AGENT_PUB_a" >"$WORK/status.json" 2>"$WORK/status.err"
}
# settle EVENTS REJECTED: waits until the agent has counted them
settle() {
	local ev rej
	for _ in $(seq 1 40); do
		status
		ev=$(jq -r .events "$WORK/status.json" 2>/dev/null)
		rej=$(jq -r .rejected "$WORK/status.json" 2>/dev/null)
		[ "$ev" = "$1" ] && [ "$rej" = "$2" ] && return 0
		sleep 0.25
	done
	fail "settle $1/$2" "events=$ev rejected=$rej: $(cat "$WORK/status.err")"
	return 1
}
funnel() { jq -r '[.funnel.steps[].count] | map(tostring) | join(",")' "$WORK/status.json"; }

# before the start: must not be read
visit 10.9.9.9 / /product/old /cart >"$LOG"

start_agent a --tail "$LOG" --tail "$LATER" --funnel "$FUNNEL" || exit 1

# batch A: 9 page views, 1 bot, 2 malformed; assets, POST, 404 skipped
{
	visit 10.0.0.1 / /product/a
	line 10.0.0.1 /static/app.css
	line 10.0.0.1 /img/p/a.jpg
	visit 10.0.0.1 /cart /checkout /thanks
	visit 10.0.0.2 / /product/b '/cart?step=1'
	line 10.0.0.2 /cart 200 "$UA" POST
	visit 10.0.0.3 /category/x
	line 10.0.0.3 /nope 404
	line 66.249.66.1 /product/a 200 "$GBOT"
	line 66.249.66.1 /robots.txt 200 "$GBOT"
	line 10.0.0.1 /nudge/nudge.js
	echo 'this is not a log line'
	echo '10.0.0.5 - - [01/Dek/2026:21:30:00 +0100] "GET / HTTP/1.1" 200 1 "-" "-"'
} >>"$LOG"
settle 10 2 || exit 1
expect_eq "batch A funnel" "$(funnel)" "3,2,2,1,1"
expect_eq "batch A bots" "$(jq -r .bots "$WORK/status.json")" "1"

# rotation: rename, a late line into the old file, then the new file
mv "$LOG" "$LOG.1"
visit 10.0.0.3 /product/c >>"$LOG.1"
{
	visit 10.0.0.4 / /product/d /cart /checkout
	visit 10.0.0.1 /product/a
	line 157.55.39.7 /category/sale 200 "$BING"
	head -c 20000 /dev/zero | tr '\0' 'x'
	echo
	printf '10.0.0.6 - - [01/Dec/2026:21:30:00 +0100] "GET /\001\002 HTTP/1.1" 200 1 "-" "-"\n'
} >"$LOG"
settle 17 4 || exit 1
expect_eq "after rotation funnel" "$(funnel)" "4,4,3,2,1"
# nginx keeps writing to the renamed file until it reopens its logs
visit 10.0.0.2 /checkout >>"$LOG.1"
settle 18 4 || exit 1
expect_eq "late line in the rotated-away file" "$(funnel)" "4,4,3,3,1"

# truncation: the file shrinks below what was read, then grows again
: >"$LOG"
sleep 0.8
visit 10.0.0.5 / /thanks >>"$LOG"
settle 20 4 || exit 1

# a file missing at the start appears
visit 10.0.0.7 /product/z >"$LATER"
settle 21 4 || exit 1

expect_eq "page views + bots" "$(jq -r .events "$WORK/status.json")" "21"
expect_eq "bots" "$(jq -r .bots "$WORK/status.json")" "2"
expect_eq "malformed lines rejected" "$(jq -r .rejected "$WORK/status.json")" "4"
expect_eq "funnel" "$(funnel)" "6,5,3,3,1"
expect_eq "distinct visitors (bots excluded)" "$(jq -r .visitors "$WORK/status.json")" "6"
check "rotation logged" grep -q "access.log: rotated" "$WORK/a/log"
check "truncation logged" grep -q "access.log: truncated" "$WORK/a/log"
check "malformed lines logged" grep -q "malformed lines" "$WORK/a/log"
check "missing file waited for" grep -q "later.log: .*waiting for it" "$WORK/a/log"
check "no address in the log" bash -c "! grep -q '10\.0\.0\.' '$WORK/a/log'"

# the salt is kept: after a restart visitor 10.0.0.1 continues its session
salt=$(sqlite3 "$WORK/a/nudged.db" "SELECT value FROM meta WHERE key = 'log_salt'")
check "salt stored" test -n "$salt"
stop_agent a
expect_eq "graceful stop" "$?" "0"
check "no address in the database" bash -c "! sqlite3 '$WORK/a/nudged.db' .dump | grep -q '10\.0\.0\.'"
visit 10.0.0.8 / /product/q >>"$LATER" # while the agent is down
start_agent a --tail "$LATER" --funnel "$FUNNEL" || exit 1
visit 10.0.0.1 /product/a >>"$LATER"
settle 24 4 || exit 1
check "resumed where it stopped" grep -q "later.log: following from where the last run stopped" "$WORK/a/log"
expect_eq "same salt after restart" "$(sqlite3 "$WORK/a/nudged.db" "SELECT value FROM meta WHERE key = 'log_salt'")" "$salt"
expect_eq "down-time lines once, returning visitor no new session" "$(funnel)" "7,6,3,3,1"
exit 0
