#!/usr/bin/env bash
# bench/beacon.sh [BUILD]: wrk -t2 -c64 against POST /nudge/e with realistic
# batched beacons doing the full work (parse, validate, session updates,
# decision answer; bench/beacon.lua), side by side in the same run with
# nginx answering `return 204;` on another port.  Prints req/s, p50/p99 for
# both and the ratio; goal >= 75% of nginx's rate, p99 <= 5 ms.  Figures,
# no timed asserts.  DURATION (s, default 10) per run; ROUNDS (default 1)
# pairs of runs, alternating which server goes first, report the medians
# (req/s, p50, p99 and the ratio, each its own median) and each round.
set -u
BUILD=${1:-build}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for t in wrk nginx; do
	command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "beacon bench: $t missing (apt-get install wrk nginx-light)"; exit 0; }
done
WORK=$(mktemp -d /tmp/nudge-bench-beacon.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
	sleep 0.3
	rm -rf "$WORK"
}
trap cleanup EXIT
port() { echo $((20000 + RANDOM % 30000)); }
NPORT=$(port)
APORT=$(port)
mkdir -p "$WORK/ng"
cat >"$WORK/ng/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/ng/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $WORK/ng/body;
	server { listen 127.0.0.1:$NPORT; location / { return 204; } }
}
CONF
PATH=$PATH:/usr/sbin nginx -c "$WORK/ng/nginx.conf" -p "$WORK/ng" || { echo "nginx did not start"; exit 0; }
cat >"$WORK/agent.conf" <<CONF
[agent]
name = bench
pub = tcp://127.0.0.1:$(port)
control = ipc://$WORK/control.sock
ingest = ipc://$WORK/ingest.sock
push = ipc://$WORK/push.sock
db = $WORK/nudged.db
[http]
listen = 127.0.0.1:$APORT
# wrk is one address: only the per-visitor bucket applies here
rate_per_address = 0
# 16384 visitors each turn a page per request: past ~65k req/s that is
# over 4 a second each, which would count them as bots and skip the work
bot_pageviews_per_s = 0
CONF
"$BUILD/nudged" --config "$WORK/agent.conf" 2>"$WORK/agent.log" &
pids+=($!)
# a loaded machine may take a while: wait until it answers (up to ~10 s)
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$APORT/nudge/health" && break
	sleep 0.2
done
run() { # name port
	wrk -t2 -c64 -d"${DURATION}s" --latency -s "$ROOT/bench/beacon.lua" \
		"http://127.0.0.1:$2/nudge/e" 2>&1 | sed -n 's/^RESULT //p'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# ROUNDS pairs, the order flipping each round so that a drift in the
# machine's load favours neither; the figures are the rounds' medians.
: >"$WORK/rounds"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		n=$(run nginx "$NPORT"); a=$(run nudged "$APORT")
	else
		a=$(run nudged "$APORT"); n=$(run nginx "$NPORT")
	fi
	echo "$n" | sed 's/^/nginx /' >>"$WORK/rounds"
	echo "$a" | sed 's/^/nudged /' >>"$WORK/rounds"
	[ "$ROUNDS" -gt 1 ] && awk -v r="$r" -v a="$(field "$a" req_s)" -v n="$(field "$n" req_s)" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
		'BEGIN { printf "round %d: nginx %s nudged %s req/s, ratio %.0f%% (load %s)\n", r, n, a, (n > 0 ? 100 * a / n : 0), l }'
done
med() { # server field
	grep "^$1 " "$WORK/rounds" | tr ' ' '\n' | sed -n "s/^$2=//p" | median
}
ratios=$(paste -d' ' <(grep '^nginx ' "$WORK/rounds" | tr ' ' '\n' | sed -n 's/^req_s=//p') \
	<(grep '^nudged ' "$WORK/rounds" | tr ' ' '\n' | sed -n 's/^req_s=//p') |
	awk '$1 > 0 { printf "%.4f\n", $2 / $1 }')
health=$(curl -s "http://127.0.0.1:$APORT/nudge/health")
printf '%-24s %10s %9s %9s %s\n' server req/s p50_ms p99_ms errors
printf '%-24s %10s %9s %9s %s\n' "nginx return 204" "$(med nginx req_s)" "$(med nginx p50_ms)" "$(med nginx p99_ms)" "$(med nginx errors)"
printf '%-24s %10s %9s %9s %s non2xx=%s\n' "nudged POST /nudge/e" "$(med nudged req_s)" "$(med nudged p50_ms)" "$(med nudged p99_ms)" "$(med nudged errors)" "$(med nudged non2xx)"
echo "$ratios" | median | awk -v r="$ROUNDS" '{ printf "ratio nudged/nginx: %.0f%% (goal >= 75%%)%s\n", 100 * $1, (r > 1 ? ", median of " r " rounds" : "") }'
echo "agent: $(echo "$health" | jq -c '{beacons, events, rate_limited, refused}' 2>/dev/null)"
