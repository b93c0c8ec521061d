#!/usr/bin/env bash
# bench/latency.sh - event -> console latency: RUNS times, a fresh agent
# (pub on tcp loopback, ingest on ipc://) and bench/latency.c, which emits
# COUNT events at RATE events/s over the ingest socket and follows the
# agent with the console's own link and model code; its reference is a
# bare nng pub/sub round trip on tcp loopback in the same run.  Prints one
# "latency ..." line per run (microseconds), ending with the load average
# when the run ended (load=).  Goal: p99 <= 250 ms.
#
# usage: bench/latency.sh [BUILD]   env: RUNS (3), RATE (2000), COUNT (20000)
set -u
BUILD=$(cd "${1:-build}" && pwd)
RUNS=${RUNS:-3}
RATE=${RATE:-2000}
COUNT=${COUNT:-20000}
WORK=$(mktemp -d /tmp/nudge-blat.XXXXXX)
apid=
trap '[ -n "$apid" ] && kill "$apid" 2>/dev/null; rm -rf "$WORK"' EXIT

for r in $(seq 1 "$RUNS"); do
	d="$WORK/r$r" port=$((30000 + RANDOM % 20000))
	mkdir -p "$d"
	"$BUILD/nudged" --name "lat$r" --pub "tcp://127.0.0.1:$port" \
		--control "ipc://$d/control.sock" --ingest "ipc://$d/ingest.sock" \
		--push "ipc://$d/push.sock" --db "$d/nudged.db" -q >"$d/log" 2>&1 &
	apid=$!
	for _ in $(seq 1 50); do # ready when the ingest socket exists
		[ -S "$d/ingest.sock" ] && break
		sleep 0.1
	done
	# the machine's 1-minute load average at the end, with each line
	# bounded: a run stuck in nng prints nothing and the next one goes on
	out=$(timeout 120 "$BUILD/bench/latency" "tcp://127.0.0.1:$port" \
		"ipc://$d/ingest.sock" "tcp://127.0.0.1:$((port + 1))" \
		"tcp://127.0.0.1:$((port + 2))" "$RATE" "$COUNT")
	echo "$out" | sed "/^latency /s/\$/ load=$(cut -d' ' -f1 /proc/loadavg)/"
	kill "$apid"
	wait "$apid" 2>/dev/null
	apid=
done
