#!/usr/bin/env bash
# bench/restart.sh - agent restart to serving: bench/restart.c fills one
# database with SESSIONS archived sessions, a RULES-rule active set and
# LIVE saved live sessions through the store API, then RUNS times times a
# fresh copy of it from exec until `ping` on control is answered and until
# a first snapshot is heard (pub on ipc://); the same with an empty database as the
# reference.  Prints "restart ..." lines (milliseconds), those of the
# empty database prefixed "empty".  Goal: <= 1 s.
#
# usage: bench/restart.sh [BUILD]
#   env: RUNS (3), SESSIONS (1000000), RULES (1000), LIVE (10000)
set -u
BUILD=$(cd "${1:-build}" && pwd)
RUNS=${RUNS:-3}
SESSIONS=${SESSIONS:-1000000}
RULES=${RULES:-1000}
LIVE=${LIVE:-10000}
WORK=$(mktemp -d /tmp/nudge-brestart.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$BUILD/bench/restart" fill "$WORK/full.db" "$SESSIONS" "$RULES" "$LIVE" || exit 1
for r in $(seq 1 "$RUNS"); do
	for kind in full empty; do
		rm -f "$WORK"/run.db*
		[ "$kind" = full ] && cp "$WORK/full.db" "$WORK/run.db"
		out=$("$BUILD/bench/restart" time "$BUILD/nudged" "$WORK/run.db" \
			"ipc://$WORK/control.sock" "ipc://$WORK/pub.sock" \
			--name restart --ingest "ipc://$WORK/ingest.sock" \
			--push "ipc://$WORK/push.sock" -q) || continue
		if [ "$kind" = full ]; then echo "$out"; else echo "empty $out"; fi
	done
done
