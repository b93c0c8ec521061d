#!/usr/bin/env bash
# SQLite write volume: bytes an agent writes to its disk (/proc/PID/io
# write_bytes: pages dirtied in the page cache, so a page rewritten before
# writeback counts once) while the simulator sends it events (--ingest:
# acknowledged batches, so none are dropped), and the size of the
# database and its WAL afterwards.  Sessions close after a 2 s timeout so
# that every session is archived within the run.
#
# Three feeds with the same seed, so the same visitors:
#   V visitors sent R times: the repeats continue the same sessions
#   (sessions are keyed by visitor and time out on the agent's clock), so
#   R times the events over the same V sessions.
# and an idle agent for as long, for the writes that come with time alone
# (counters, minutes, the rules' flusher).
#
# usage: bench/writevol.sh BUILD [VISITORS:REPEATS ...]
# Prints one "writevol ..." line per feed (bytes) and one "writevol idle".
set -u
BUILD=${1:-build/bench}
shift
FEEDS=${*:-20000:5 100000:1 20000:1}
SEED=${SEED:-7}
START_MS=1764000000000
SETTLE=${SETTLE:-5}
WORK=$(mktemp -d /tmp/nudge-writevol.XXXXXX)
apid=
trap '[ -n "$apid" ] && kill "$apid" 2>/dev/null; rm -rf "$WORK"' EXIT

wbytes() { awk '/^write_bytes/ { print $2 }' "/proc/$1/io"; }
fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

# feed NAME VISITORS REPEATS: prints the figures of one run
feed() {
	local dir="$WORK/$1" port=$((30000 + RANDOM % 20000)) t0 t1 w0 w1 ev
	mkdir -p "$dir"
	"$BUILD/nudged" --name wv --pub "tcp://127.0.0.1:$port" \
		--control "ipc://$dir/c.sock" --ingest "ipc://$dir/i.sock" \
		--db "$dir/db" --session-timeout 2s -q &
	apid=$!
	sleep 1
	w0=$(wbytes "$apid")
	t0=$(date +%s.%N)
	for _ in $(seq 1 "$3"); do
		[ "$2" -gt 0 ] || break
		"$BUILD/nudge-sim" --ingest "ipc://$dir/i.sock" --seed "$SEED" \
			--visitors "$2" --start "$START_MS" --batch 1000 --quiet
	done
	# every session times out (2 s) and is archived
	sleep "$SETTLE"
	for _ in $(seq 1 20); do
		st=$("$BUILD/nudge" status --json --agent "tcp://127.0.0.1:$port")
		[ "$(echo "$st" | jq -r .sessions_live)" = 0 ] && break
		sleep 1
	done
	w1=$(wbytes "$apid")
	t1=$(date +%s.%N)
	ev=$(echo "$st" | jq -r .events)
	local closed
	closed=$(echo "$st" | jq -r '.counters.sessions_closed // 0')
	kill "$apid"
	wait "$apid" 2>/dev/null
	apid=
	echo "writevol $1 visitors=$2 repeats=$3 events=$ev sessions=$closed" \
		"write_bytes=$((w1 - w0)) secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
		"db_bytes=$(fsize "$dir/db") wal_bytes=$(fsize "$dir/db-wal")" \
		"archived=$(sqlite3 "$dir/db" 'select count(*) from sessions' 2>/dev/null || echo n/a)"
}

for f in $FEEDS; do
	feed "v${f%%:*}x${f##*:}" "${f%%:*}" "${f##*:}"
done
feed idle 0 0
