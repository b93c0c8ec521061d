#!/usr/bin/env bash
# make demo: an agent fed by the shop simulator, and the console on it.
# Everything started here is stopped when the console exits.
set -u
BUILD=${1:-build}
RUN=${NUDGE_DEMO_DIR:-$PWD/build/demo-run}
PORT=${NUDGE_DEMO_PORT:-7450}
HTTP_PORT=${NUDGE_DEMO_HTTP_PORT:-7480}
mkdir -p "$RUN"
pids=()
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap stop_all EXIT INT TERM

NUDGE_HTTP_LISTEN="127.0.0.1:$HTTP_PORT" NUDGE_HTTP_SHOP_DIR="$PWD/agent/web/shop" \
	"$BUILD/nudged" --config examples/demo.conf --pub "tcp://127.0.0.1:$PORT" \
	--control "ipc://$RUN/control.sock" --ingest "ipc://$RUN/ingest.sock" \
	--push "ipc://$RUN/push.sock" --db "$RUN/nudged.db" 2>"$RUN/nudged.log" &
pids+=($!)
sleep 0.5
if ! kill -0 "${pids[0]}" 2>/dev/null; then
	echo "nudged did not start:" >&2
	cat "$RUN/nudged.log" >&2
	exit 1
fi
# a live A/B campaign to watch in view 8: variant_c truly converts better
if [ ! -s "$RUN/campaign.started" ] &&
	"$BUILD/nudge" rules push examples/campaign.rules \
		--agent "tcp://127.0.0.1:$PORT,ipc://$RUN/control.sock" >"$RUN/rules.log" 2>&1 &&
	"$BUILD/nudge" campaign start banner_test \
		--agent "tcp://127.0.0.1:$PORT,ipc://$RUN/control.sock" >>"$RUN/rules.log" 2>&1; then
	date >"$RUN/campaign.started"
fi
"$BUILD/nudge-sim" --realtime --rate 4 --push "ipc://$RUN/push.sock" \
	--campaign banner_test:34,33,33:0.025,0.03,0.04 2>"$RUN/sim.log" &
pids+=($!)
echo "agent log: $RUN/nudged.log; simulator log: $RUN/sim.log"
echo "demo shop (with the tag): http://127.0.0.1:$HTTP_PORT/shop/"
if [ -t 1 ]; then
	"$BUILD/nudge" --agent "tcp://127.0.0.1:$PORT"
else
	echo "no terminal: printing the status every 2 s (Ctrl-C stops)"
	while sleep 2; do "$BUILD/nudge" status --agent "tcp://127.0.0.1:$PORT"; done
fi
