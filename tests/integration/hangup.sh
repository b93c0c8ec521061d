#!/usr/bin/env bash
# hangup.sh - a peer that hangs up during the SP handshake on an ipc
# socket (nng 1.5.2 #1518: the listener then never hands a connection to
# its socket again) costs the agent at most a few seconds: the listener
# guard (agent/lguard.c) sees it and listens again.  Each of the agent's
# ipc sockets: control, ingest, push.
. "$(dirname "$0")/lib/common.sh"
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan_hangup.supp:print_suppressions=0"
N="$BUILD/nudge"
RAW="$BUILD/tools/nngraw"
command -v python3 >/dev/null || { fail hangup "python3 not installed"; exit 0; }

start_agent h1 || exit 1
D="$WORK/h1"
printf '\x96\x01\xa4ping\xc4\x10PINGPINGPINGPING\x00\xc0\xc0' >"$WORK/ping.bin"
# hang_up PATH: connect to the unix socket and hang up at once.  The
# agent is frozen meanwhile, so that it meets a connection already closed
# when it accepts it, before it sent its half of the handshake: that is
# what breaks the listener (a peer that first reads the agent's half does
# not), and how a console whose call to a frozen agent timed out broke
# one.  Without the freeze the hang-up races the agent's accept.
hang_up() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.close()' "$1"
}
ping_ok() { timeout 3 "$RAW" req "ipc://$D/control.sock" "$WORK/ping.bin" 2>/dev/null | grep -q '^status 0'; }
events() { "$N" status --json --agent "$AGENT_PUB_h1" 2>/dev/null | jq -r '.events // 0'; }
# made_again SOCKET: how often the guard made that listener again
made_again() { grep -c "$1: stopped accepting.*listening again" "$D/log"; }
# The guard needs up to ~5 s (lguard.h); a broken listener stays broken.
GUARD_S=7
NNG15=0
case "$(dpkg-query -W -f '${Version}' libnng1 2>/dev/null)" in 1.5.*) NNG15=1 ;; esac

check "control answers before" ping_ok
kill -STOP "$AGENT_PID_h1"
for s in control ingest push; do hang_up "$D/$s.sock"; done
kill -CONT "$AGENT_PID_h1"
sleep "$GUARD_S"
check "control answers ${GUARD_S} s after a hang-up mid-handshake" ping_ok
"$N" rules show --json --agent "$AGENT_PUB_h1" >"$WORK/show.json" 2>/dev/null
expect_eq "rules show reaches it" "$(jq -r '.agents[0].up' "$WORK/show.json")" true
e0=$(events)
"$BUILD/nudge-sim" --push "ipc://$D/push.sock" --rate 200 --duration 1 --quiet 2>/dev/null
sleep 0.5
e1=$(events)
check "push: events arrive after a hang-up ($e0 -> $e1)" test "$e1" -gt "$e0"
"$BUILD/nudge-sim" --seed 3 --visitors 20 --ingest "ipc://$D/ingest.sock" >/dev/null 2>&1
sleep 0.5
e2=$(events)
check "ingest: events arrive after a hang-up ($e1 -> $e2)" test "$e2" -gt "$e1"
if [ "$NNG15" = 1 ]; then
	for s in control ingest push; do
		expect_eq "nng 1.5: the $s listener was made again" "$(made_again "$s.sock")" 1
	done
fi
# and a healthy listener is left alone: nothing made again in 3 periods
all=$(grep -c 'listening again' "$D/log")
sleep 6
expect_eq "no hang-up, no listener made again" "$(grep -c 'listening again' "$D/log")" "$all"
check "control answers at the end" ping_ok
check "the agent is alive" kill -0 "$AGENT_PID_h1"
stop_agent h1
expect_eq "a clean stop" "$?" 0
if grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error' "$D/log"; then
	fail "sanitizer" "$(grep -m3 'Sanitizer\|runtime error' "$D/log")"
fi
exit 0
