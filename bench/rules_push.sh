#!/usr/bin/env bash
# bench/rules_push.sh - push-to-acknowledge latency across 3 real agents on
# loopback (control over ipc://): PUSHES rule sets of RULES rules, each
# under a new version, acknowledged by every agent; bench/rules_push.c
# does the timing over the control URLs directly, so no snapshot wait is
# counted, and measures a bare ping round trip as the reference.  Prints
# its one line of figures.  Goal: <= 100 ms per push.
#
# usage: bench/rules_push.sh [BUILD]   env: AGENTS (3), PUSHES (50), RULES
set -u
BUILD=$(cd "${1:-build}" && pwd)
AGENTS=${AGENTS:-3}
PUSHES=${PUSHES:-50}
RULES=${RULES:-100}
WORK=$(mktemp -d /tmp/nudge-bpush.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

ctls=()
for i in $(seq 1 "$AGENTS"); do
	d="$WORK/a$i"
	mkdir -p "$d"
	"$BUILD/nudged" --name "push$i" --pub "ipc://$d/pub.sock" \
		--control "ipc://$d/control.sock" --ingest "ipc://$d/ingest.sock" \
		--push "ipc://$d/push.sock" --db "$d/nudged.db" -q >"$d/log" 2>&1 &
	pids+=("$!")
	ctls+=("ipc://$d/control.sock")
done
for c in "${ctls[@]}"; do # ready when the control socket exists
	for _ in $(seq 1 50); do
		[ -S "${c#ipc://}" ] && break
		sleep 0.1
	done
done
"$BUILD/bench/rules_push" "$PUSHES" "$RULES" "${ctls[@]}"
