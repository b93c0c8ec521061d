#!/usr/bin/env bash
# hangup.sh - a peer that hangs up during the SP handshake on an ipc
# socket (nng 1.5.2 #1518: the listener then never hands a connection to
# its socket again) costs the agent at most a few seconds: the listener
# guard (agent/lguard.c) sees it and listens again.  Each of the agent's
# ipc sockets (control, ingest, push), then the case that hit a console:
# a caller that gives up on a frozen agent.
. "$(dirname "$0")/lib/common.sh"
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan_hangup.supp:print_suppressions=0"
N="$BUILD/nudge"
RAW="$BUILD/tools/nngraw"
command -v python3 >/dev/null || { fail hangup "python3 not installed"; exit 0; }

start_agent h1 || exit 1
D="$WORK/h1"
printf '\x96\x01\xa4ping\xc4\x10PINGPINGPINGPING\x00\xc0\xc0' >"$WORK/ping.bin"
# hang_up PATH: connect to the unix socket and hang up at once, before
# the agent sent its half of the handshake (what breaks the listener: a
# peer that first reads the agent's half, or waits, does not)
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
# nng 1.5.2 breaks the listener only when its accept is idle: space out
IDLE_S=1
NNG15=0
case "$(dpkg-query -W -f '${Version}' libnng1 2>/dev/null)" in 1.5.*) NNG15=1 ;; esac

check "control answers before" ping_ok
sleep "$IDLE_S"
hang_up "$D/control.sock"
sleep "$GUARD_S"
check "control answers ${GUARD_S} s after a hang-up mid-handshake" ping_ok
"$N" rules show --json --agent "$AGENT_PUB_h1" >"$WORK/show.json" 2>/dev/null
expect_eq "rules show reaches it" "$(jq -r '.agents[0].up' "$WORK/show.json")" true
c1=$(made_again control.sock)
[ "$NNG15" = 1 ] && check "nng 1.5: the control listener was made again ($c1)" test "$c1" -ge 1

hang_up "$D/ingest.sock"
sleep "$IDLE_S"
hang_up "$D/push.sock"
sleep "$GUARD_S"
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
	check "nng 1.5: the ingest listener was made again" test "$(made_again ingest.sock)" -ge 1
	check "nng 1.5: the push listener was made again" test "$(made_again push.sock)" -ge 1
fi

# A caller that gives up on a frozen agent: when the agent thaws, the
# connection is already gone.  That is how a console's timed-out call
# broke one.
sleep "$IDLE_S"
kill -STOP "$AGENT_PID_h1"
hang_up "$D/control.sock"
kill -CONT "$AGENT_PID_h1"
sleep "$GUARD_S"
check "control answers ${GUARD_S} s after a caller gave up on the frozen agent" ping_ok
c2=$(made_again control.sock)
[ "$NNG15" = 1 ] && check "nng 1.5: made again after the thaw ($c1 -> $c2)" test "$c2" -gt "$c1"
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
