#!/usr/bin/env bash
# heat.sh - click heatmaps and scroll depth end to end: a scripted set of
# clicks and scrolls sent with `nudge emit --stdin`, read back in the
# console's heat view (view 5) in an 80x24 tmux with LANG=C, then the agent
# restarted and the same totals read again (they persist in SQLite).
#
# The traffic: /cart gets 50 clicks (so that it lists first), and
# /product/boots gets 30 clicks at (0.5, 0.1) - the densest cell - plus 10
# at (100, 900) permille and 5 on the bottom-right corner (1000, 1000);
# 10 visitors scroll /product/boots, each first to 25%, then 4 to the
# bottom and 6 to 50%: 10 page views, 100% reach the 50% band, 40% the
# 55% band and beyond.
. "$(dirname "$0")/lib/common.sh"

TMUX_SOCKET="nudge-heat-$$"
. "$(dirname "$0")/lib/tmux.sh"
command -v tmux >/dev/null || { fail tmux "tmux not installed"; exit 1; }

start_agent h1 || exit 1

gen_events() {
	local i
	for i in $(seq 1 50); do
		echo "{\"type\":\"click\",\"visitor\":\"c$i\",\"page\":\"/cart\",\"x\":300,\"y\":300}"
	done
	for i in $(seq 1 30); do
		echo "{\"type\":\"click\",\"visitor\":\"v$((i % 10))\",\"page\":\"/product/boots?utm_source=mail\",\"x\":0.5,\"y\":0.1}"
	done
	for i in $(seq 1 10); do
		echo "{\"type\":\"click\",\"visitor\":\"v$i\",\"page\":\"/product/boots\",\"x\":100,\"y\":900}"
	done
	for i in $(seq 1 5); do
		echo "{\"type\":\"click\",\"visitor\":\"v$i\",\"page\":\"/product/boots\",\"x\":1000,\"y\":1000}"
	done
	for i in $(seq 1 10); do
		echo "{\"type\":\"scroll\",\"visitor\":\"s$i\",\"page\":\"/product/boots\",\"scroll\":250}"
		if [ "$i" -le 4 ]; then d=1000; else d=500; fi
		echo "{\"type\":\"scroll\",\"visitor\":\"s$i\",\"page\":\"/product/boots\",\"scroll\":$d}"
	done
}
out=$(gen_events | "$BUILD/nudge" emit --stdin --ingest "$AGENT_INGEST_h1" 2>"$WORK/emit.err")
expect_eq "emit accepted every event" "$out" "accepted 115, rejected 0"

screen() { tm_screen "$1" "$WORK/$1.txt"; }
wait_screen() { # NAME PATTERN...: up to 10 s until every grep -E pattern
	local name=$1
	shift
	tm_wait "$name" "$WORK/$name.txt" 10 "$@"
}
console() { # NAME: the console in an 80x24 tmux, ASCII locale
	tm -f /dev/null new-session -d -s "$1" -x 80 -y 24 \
		"env LANG=C LC_ALL=C TERM=xterm $BUILD/nudge --agent $AGENT_PUB_h1 2>$WORK/$1.err; echo EXIT=\$? >$WORK/$1.exit; sleep 30"
	wait_screen "$1" "1 agents up"
}
keys() { tm send-keys -t "$@"; }
quit_console() { # NAME: q quits with status 0 (and, sanitized, no report)
	keys "$1" q
	for _ in $(seq 1 50); do
		[ -s "$WORK/$1.exit" ] && break
		sleep 0.1
	done
	expect_eq "console $1 quits cleanly" "$(cat "$WORK/$1.exit" 2>/dev/null)" "EXIT=0"
	[ -s "$WORK/$1.err" ] && echo "    stderr: $(head -c 400 "$WORK/$1.err")"
}

# map_char NAME ROW COL: the character drawn for map cell (ROW, COL).  The
# map's rows start on screen line 3 (header, title, labels above); a
# border '|' precedes column 0.
map_char() {
	awk -v r="$2" -v c="$3" 'NR == 4 + r { print substr($0, c + 2, 1) }' "$WORK/$1.txt"
}
map_count() { # NAME CHAR: how often CHAR appears inside the map
	awk -v ch="$2" 'NR >= 4 && NR <= 23 {
		s = substr($0, 2, 20); n += gsub(ch == "." ? "[.]" : ch, "", s)
	} END { print n + 0 }' "$WORK/$1.txt"
}

check_map() { # NAME WHEN
	local n=$1 when=$2
	# a capture can catch the console mid-draw (the rows are written top
	# down): the map is read once its last row, beside the 95% band, is in
	if ! wait_screen "$n" "/product/boots +clicks 45 +views 10" " 95% "; then
		fail "map header $when" "$(cat "$WORK/$n.txt")"
		return
	fi
	pass "map header $when"
	# (0.5, 0.1) is grid cell (row 4, col 12): drawn cell (2, 10) of 20x20
	expect_eq "densest cell is the top of the ramp $when" "$(map_char "$n" 2 10)" "@"
	expect_eq "one densest cell $when" "$(map_count "$n" @)" "1"
	# (100, 900): grid (43, 2), drawn (18, 2), half the density: '+'
	expect_eq "second spot lit $when" "$(map_char "$n" 18 2)" "+"
	# (1000, 1000): the last cell, drawn (19, 19), faint but lit
	expect_eq "corner cell lit $when" "$(map_char "$n" 19 19)" "."
	expect_eq "nothing else lit $when" "$(map_count "$n" "[^ ]")" "3"
	grep -Eq "^.{20}.*  0% 100\.0%" "$WORK/$n.txt" &&
		grep -Eq " 50% 100\.0%" "$WORK/$n.txt" &&
		grep -Eq " 55%  40\.0%" "$WORK/$n.txt" &&
		grep -Eq " 95%  40\.0%" "$WORK/$n.txt" &&
		pass "scroll depth shares $when" ||
		fail "scroll depth shares $when" "$(cat "$WORK/$n.txt")"
}

console t1 || fail "console up" "no '1 agents up'"
keys t1 5
if wait_screen t1 "/product/boots +45 +10"; then
	pass "heat view lists the pages"
	# most clicks first: /cart, then /product/boots
	expect_eq "list order" "$(grep -Eo '/(cart|product/boots) ' "$WORK/t1.txt" | tr -d ' ' | tr '\n' ,)" "/cart,/product/boots,"
else
	fail "heat view lists the pages" "$(cat "$WORK/t1.txt")"
fi
keys t1 j Enter
check_map t1 "live"
check "LANG=C screen is ASCII only" sh -c "! LC_ALL=C grep -q '[^ -~]' '$WORK/t1.txt'"
keys t1 Escape
wait_screen t1 "Heatmaps: 2 pages" && pass "Esc goes back to the list" ||
	fail "Esc goes back to the list" "$(cat "$WORK/t1.txt")"
quit_console t1

# The archiver writes changed pages every second.
sleep 2
clicks=$(sqlite3 "$WORK/h1/nudged.db" "SELECT sum(count) FROM heat WHERE page = '/product/boots' AND kind = 0" 2>&1)
expect_eq "heat saved while running" "$clicks" "45"

stop_agent h1
expect_eq "graceful stop exits 0" "$?" "0"
start_agent h1 || exit 1
console t2 || fail "console up after restart" "no '1 agents up'"
keys t2 5
wait_screen t2 "/product/boots +45 +10" || fail "list after restart" "$(cat "$WORK/t2.txt")"
keys t2 j Enter
check_map t2 "after restart"
quit_console t2
exit 0
