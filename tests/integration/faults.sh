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
exit 0
