#!/usr/bin/env bash
# console_tmux.sh - the TUI against a real agent, driven through tmux.
#
# Starts nudged, feeds it a known set of events with `nudge emit --stdin`
# (100 visitors: 100 visit, 40 product, 10 add_to_cart, 5 /checkout,
# 3 purchase), runs `nudge` in a detached 80x24 tmux session, and checks
# what is on screen: the funnel's labels and counts, the live sessions,
# the help overlay, and that q exits with status 0.
#
# Env: BUILD (default build) holds nudged and nudge.  Prints "PASS name" or
# "FAIL name: why"; exits 0 on pass.
set -u

NAME=console_tmux
BUILD=${BUILD:-build}
BIN=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "FAIL $NAME: no $BUILD"; exit 1; }
DIR=$(mktemp -d /tmp/nudge-ctmux.XXXXXX)
TMUX_SOCKET="nudge-ctmux-$$"
AGENT_PID=

cleanup() {
	tm kill-server >/dev/null 2>&1
	if [ -n "$AGENT_PID" ]; then
		kill "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/tmux.sh"

fail() {
	echo "FAIL $NAME: $*"
	if [ -f "$DIR/screen.txt" ]; then
		echo "--- last screen"
		cat "$DIR/screen.txt"
	fi
	if [ -f "$DIR/agent.log" ]; then
		echo "--- agent log (tail)"
		tail -n 20 "$DIR/agent.log"
	fi
	exit 1
}

command -v tmux >/dev/null || fail "tmux not installed"
[ -x "$BIN/nudged" ] || fail "no $BIN/nudged"
[ -x "$BIN/nudge" ] || fail "no $BIN/nudge"

# A port nobody listens on (bash's /dev/tcp tells).
for _ in 1 2 3 4 5 6 7 8 9 10; do
	PORT=$((10000 + RANDOM % 22000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
PUB="tcp://127.0.0.1:$PORT"

"$BIN/nudged" --name a1 --pub "$PUB" --control "ipc://$DIR/ctl.sock" \
	--ingest "ipc://$DIR/ing.sock" --push "ipc://$DIR/push.sock" \
	--db "$DIR/a1.db" >"$DIR/agent.log" 2>&1 &
AGENT_PID=$!

# The agent is up when `nudge status` gets a snapshot from it.
up=0
for _ in $(seq 1 40); do
	kill -0 "$AGENT_PID" 2>/dev/null || fail "nudged exited"
	if "$BIN/nudge" status --timeout 500 --agent "$PUB" >/dev/null 2>&1; then
		up=1
		break
	fi
	sleep 0.25
done
[ "$up" = 1 ] || fail "no snapshot from nudged on $PUB"

# The known traffic: the funnel must read 100, 40, 10, 5, 3.
gen_events() {
	local i v
	for i in $(seq 1 100); do
		v=$(printf 'v%03d' "$i")
		echo "{\"type\":\"pageview\",\"visitor\":\"$v\",\"page\":\"/\",\"country\":\"FR\",\"device\":\"desktop\"}"
		if [ "$i" -le 40 ]; then
			echo "{\"type\":\"pageview\",\"visitor\":\"$v\",\"page\":\"/product/$i\"}"
		fi
		if [ "$i" -le 10 ]; then
			echo "{\"type\":\"add_to_cart\",\"visitor\":\"$v\",\"sku\":\"sku-$i\",\"value\":19.90,\"quantity\":1}"
		fi
		if [ "$i" -le 5 ]; then
			echo "{\"type\":\"pageview\",\"visitor\":\"$v\",\"page\":\"/checkout\"}"
		fi
		if [ "$i" -le 3 ]; then
			echo "{\"type\":\"purchase\",\"visitor\":\"$v\",\"value\":59.90}"
		fi
	done
}
out=$(gen_events | "$BIN/nudge" emit --stdin --ingest "ipc://$DIR/ing.sock" 2>"$DIR/emit.err")
rc=$?
[ "$rc" = 0 ] || fail "emit exited $rc: $out $(cat "$DIR/emit.err")"
[ "$out" = "accepted 158, rejected 0" ] || fail "emit said: $out"

capture() { tm_screen t "$DIR/screen.txt"; }
wait_screen() { tm_wait t "$DIR/screen.txt" 10 "$1"; } # PATTERN: up to 10 s

tm -f /dev/null new-session -d -s t -x 80 -y 24 \
	"$BIN/nudge --agent $PUB; echo EXIT=\$? >$DIR/exit; sleep 30" ||
	fail "tmux new-session failed"

wait_screen "1 agents up" || fail "header never said '1 agents up'"

# Funnel view: every label on a line with its count.
tm send-keys -t t 2
wait_screen "Funnel" || fail "no funnel view after key 2"
wait_screen "purchase .* 3 " || fail "funnel counts not shown"
for pair in visit:100 product:40 cart:10 checkout:5 purchase:3; do
	label=${pair%%:*}
	count=${pair##*:}
	grep -E "^ *$label( |$)" "$DIR/screen.txt" | grep -Eq "(^| )$count( |$)" ||
		fail "funnel step '$label' does not show $count"
done

# Sessions view: the visitors the agent holds, through the control socket.
tm send-keys -t t 3
wait_screen "v0[0-9][0-9] " || fail "no live sessions listed"

# Help overlay lists the global keys and the view's own.
tm send-keys -t t '?'
wait_screen "help: sessions" || fail "? did not open the help"
grep -q "quit" "$DIR/screen.txt" || fail "help does not mention quit"
grep -q "cycle the sort" "$DIR/screen.txt" || fail "help lacks the view's keys"

# q closes the help and quits; the exit status is 0.
tm send-keys -t t q
for _ in $(seq 1 50); do
	[ -s "$DIR/exit" ] && break
	sleep 0.1
done
[ -s "$DIR/exit" ] || fail "nudge did not exit on q"
grep -qx "EXIT=0" "$DIR/exit" || fail "nudge exited with $(cat "$DIR/exit")"

echo "PASS $NAME"
exit 0
