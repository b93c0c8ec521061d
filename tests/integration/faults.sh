#!/usr/bin/env bash
# Bad input on every path into a real agent and console: hostile msgpack on
# the control, ingest and push sockets, garbage from a "publisher", a bad
# config line, a corrupt and a locked SQLite file.  Each gets a clear error,
# costs nothing else, and loses nothing already accepted.
. "$(dirname "$0")/lib/common.sh"
RAW="$BUILD/tools/nngraw"

start_agent f1 || exit 1
D="$WORK/f1"
"$BUILD/nudge" emit purchase --visitor before-1 --value 10 --ingest "$AGENT_INGEST_f1" >/dev/null
expect_eq "an event accepted before the attacks" "$?" "0"

printf '\xdd\xff\xff\xff\xff' >"$WORK/bomb"          # array of 4 billion
printf '\xdf\xff\xff\xff\xff' >"$WORK/mapbomb"       # map of 4 billion
printf '\x96\x01\xc1' >"$WORK/reserved"              # reserved type byte
printf '\x96\x01\xa5emit\xc4\x10' >"$WORK/truncated" # cut inside the id
printf '\x96\x02\xa4ping\xc4\x10AAAAAAAAAAAAAAAA\x01\xc0\xc0' >"$WORK/v2"
head -c 5000000 /dev/zero >"$WORK/huge"               # over the size limit
printf '\xdb\xff\xff\xff\xff' >"$WORK/strlie"         # str of 4 GiB

for f in bomb mapbomb reserved truncated v2 strlie; do
	out=$("$RAW" req "ipc://$D/control.sock" "$WORK/$f" 2>&1)
	case "$out" in
	"status -"*) pass "control answers '$f' with an error ($out)" ;;
	*) fail "control answers '$f' with an error" "$out" ;;
	esac
	"$RAW" push "ipc://$D/push.sock" "$WORK/$f" >/dev/null 2>&1
done
out=$("$RAW" req "ipc://$D/ingest.sock" "$WORK/bomb" 2>&1)
case "$out" in "status -"*) pass "ingest refuses the array bomb" ;; *) fail "ingest refuses the array bomb" "$out" ;; esac
"$RAW" req "ipc://$D/control.sock" "$WORK/huge" >/dev/null 2>&1
expect_eq "an oversized request is dropped unread (NNG_OPT_RECVMAXSZ)" "$?" "1"

rss=$(awk '/VmRSS/ { print $2 }' "/proc/$AGENT_PID_f1/status")
check "memory stays flat after the bombs (RSS < 200 MiB)" test "$rss" -lt 204800
check "agent still alive" kill -0 "$AGENT_PID_f1"
"$BUILD/nudge" emit purchase --visitor after-1 --value 5 --ingest "$AGENT_INGEST_f1" >/dev/null
expect_eq "agent still accepts events" "$?" "0"
sleep 1.3
"$BUILD/nudge" status --json --agent "$AGENT_PUB_f1" >"$WORK/s.json"
expect_eq "nothing accepted was lost" "$(jq -r .purchases "$WORK/s.json")" "2"
check "bad push messages counted as bad rows" test "$(jq -r .rejected "$WORK/s.json")" -ge 6

# a "publisher" that sends garbage: the console side survives and says so
port=$(free_port)
"$RAW" pub "tcp://127.0.0.1:$port" "$WORK/bomb" 3000 &
PIDS+=($!)
sleep 0.3
"$BUILD/nudge" status --json --timeout 1500 --agent "tcp://127.0.0.1:$port" >"$WORK/g.json" 2>&1
expect_eq "status against a garbage publisher exits 3" "$?" "3"

# bad configuration: file:line and exit 78
printf '[agent]\nname = ok\nshards = 0\n' >"$WORK/bad.conf"
"$BUILD/nudged" --config "$WORK/bad.conf" --check-config >"$WORK/c.out" 2>&1
expect_eq "bad config exits 78" "$?" "78"
check "bad config names file:line" grep -q "bad.conf:3:" "$WORK/c.out"
printf '[agent]\nbogus_key = 1\n' >"$WORK/bad2.conf"
"$BUILD/nudged" --config "$WORK/bad2.conf" --check-config >"$WORK/c2.out" 2>&1
expect_eq "unknown key exits 78" "$?" "78"
check "unknown key is named" grep -q "bogus_key" "$WORK/c2.out"
"$BUILD/nudged" --shards nope --check-config >"$WORK/c3.out" 2>&1
expect_eq "bad flag value exits 78" "$?" "78"

# a corrupt database: a clear error and exit 1, no crash
mkdir -p "$WORK/corrupt"
head -c 8192 /dev/urandom >"$WORK/corrupt/nudged.db"
timeout 10 "$BUILD/nudged" --name c1 --pub "tcp://127.0.0.1:$(free_port)" \
	--control "ipc://$WORK/corrupt/c.sock" --ingest "ipc://$WORK/corrupt/i.sock" \
	--push "ipc://$WORK/corrupt/p.sock" --db "$WORK/corrupt/nudged.db" >"$WORK/corrupt.out" 2>&1
expect_eq "corrupt database exits 1" "$?" "1"
check "corrupt database explained" grep -qi "database" "$WORK/corrupt.out"

# a database locked by another process: a clear error after the busy
# timeout, not a hang
mkdir -p "$WORK/locked"
sqlite3 "$WORK/locked/nudged.db" "PRAGMA journal_mode=WAL; CREATE TABLE x(a);" >/dev/null
( echo "BEGIN EXCLUSIVE; INSERT INTO x VALUES (1);"; sleep 12 ) | sqlite3 "$WORK/locked/nudged.db" &
PIDS+=($!)
sleep 0.5
start=$(date +%s)
timeout 20 "$BUILD/nudged" --name l1 --pub "tcp://127.0.0.1:$(free_port)" \
	--control "ipc://$WORK/locked/c.sock" --ingest "ipc://$WORK/locked/i.sock" \
	--push "ipc://$WORK/locked/p.sock" --db "$WORK/locked/nudged.db" >"$WORK/locked.out" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
expect_eq "locked database exits 1" "$rc" "1"
check "locked database explained" grep -qi "lock\|busy" "$WORK/locked.out"
check "locked database gives up within the busy timeout (<= 10 s)" test "$took" -le 10

# locked while the agent runs (issue 7): its writes give up after the busy
# timeout (2 s; then 0.1 s per write while the lock stays) with an error
# that reaches the console, the agent keeps serving, a rule push is told
# "locked" (no hang, no "no reply"), and writes resume when the lock goes
start_agent f2 --snapshot-ms 200 || exit 1
"$BUILD/tools/snapwatch" "$AGENT_PUB_f2" >"$WORK/f2.watch" 2>/dev/null &
PIDS+=($!)
lerr() { grep ' snapshot ' "$WORK/f2.watch" | tail -1 | sed -n 's/.* lerr=//p'; }
serr() { grep ' snapshot ' "$WORK/f2.watch" | tail -1 | sed -n 's/.* serr=\([0-9]*\) .*/\1/p'; }
printf 'rule r1:\n  when event == "pageview"\n  show banner "x"\n' >"$WORK/f2.rules"
F2=(--agent "$AGENT_PUB_f2,ipc://$WORK/f2/control.sock")
printf '\x96\x01\xa4ping\xc4\x10PINGPINGPINGPING\x00\xc0\xc0' >"$WORK/ping"
sleep 1
( echo "BEGIN EXCLUSIVE; INSERT INTO meta VALUES ('lock', 'x');"; sleep 13 ) |
	sqlite3 "$WORK/f2/nudged.db" &
LOCKER=$!
PIDS+=("$LOCKER")
start=$(date +%s%3N)
"$BUILD/nudge" rules push "$WORK/f2.rules" "${F2[@]}" >"$WORK/f2.push" 2>&1
rc=$?
took=$(( $(date +%s%3N) - start ))
check "locked at run time: a rule push answers within 11 s, not acknowledged (exit $rc after $took ms: $(head -1 "$WORK/f2.push"))" \
	test "$rc" -ne 0 -a "$took" -le 11000
# the answer is the agent's, within the console's 5 s timeout: "locked"
check "locked at run time: the push is told the database is locked (exit 5), not 'no reply'" \
	test "$rc" -eq 5 -a "$took" -lt 5000
check "locked at run time: the refusal names the lock" grep -q 'locked' "$WORK/f2.push"
seen=0
while [ $(( $(date +%s%3N) - start )) -lt 12000 ]; do
	if lerr | grep -q 'locked'; then seen=$(( $(date +%s%3N) - start )); break; fi
	sleep 0.2
done
check "locked at run time: the error reaches the snapshot within the busy timeout + 2 s flush (after $seen ms): $(lerr | cut -c1-60)" \
	test "$seen" -gt 0 -a "$seen" -le 12000
ping_ms=$(date +%s%3N)
"$RAW" req "ipc://$WORK/f2/control.sock" "$WORK/ping" | grep -q '^status 0'
expect_eq "locked at run time: control still answers a ping (in $(( $(date +%s%3N) - ping_ms )) ms)" "$?" 0
"$BUILD/nudge" status "${F2[@]}" >"$WORK/f2.status" 2>&1
check "locked at run time: nudge status names it" grep -q 'store errors .*locked' "$WORK/f2.status"
wait "$LOCKER"
sleep 3
e1=$(serr)
sleep 2.5
expect_eq "lock gone: store errors stop growing" "$(serr)" "$e1"
"$BUILD/nudge" rules push "$WORK/f2.rules" "${F2[@]}" >/dev/null 2>&1
expect_eq "lock gone: a rule push is acknowledged" "$?" 0
expect_eq "lock gone: PRAGMA integrity_check" "$(sqlite3 "$WORK/f2/nudged.db" 'PRAGMA integrity_check')" ok
exit 0
