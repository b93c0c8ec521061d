#!/usr/bin/env bash
# bench/ingest.sh - events/s into one agent over ipc:// (batched push),
# side by side: each round runs every agent build given, then the nng
# PUSH/PULL ceiling of the same bytes, so that ratios are of one run.
#
# usage: bench/ingest.sh [-r ROUNDS] [-s SECONDS] BUILD [BUILD...]
# A BUILD is a directory holding nudged, nudge-sim and nudge (and, for the
# first one, bench/pushpull or pushpull).  Prints one line per run and the
# medians (events/s, agent CPU in % of one core, peak RSS, events per
# CPU-second: the figure least moved by other load on the machine, and the
# ratio to the ceiling of the same round); nothing asserts a time.
set -u
ROUNDS=3
SECS=10
while getopts r:s: o; do
	case $o in
	r) ROUNDS=$OPTARG ;;
	s) SECS=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-r ROUNDS] [-s SECONDS] BUILD..." >&2; exit 2; }
WORK=$(mktemp -d /tmp/nudge-ingest.XXXXXX)
apids=()
trap 'for p in "${apids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# one_run BUILD SEED -> "events_per_s cpu_percent rss_kib"
one_run() {
	local b=$1 dir="$WORK/run$2.$RANDOM" port=$((30000 + RANDOM % 20000))
	mkdir -p "$dir"
	"$b/nudged" --name bench --pub "tcp://127.0.0.1:$port" \
		--control "ipc://$dir/c.sock" --ingest "ipc://$dir/i.sock" \
		--push "ipc://$dir/p.sock" --db "$dir/db" -q &
	local apid=$!
	apids+=("$apid")
	sleep 0.5
	local c0 c1 t0 t1 e hwm
	c0=$(ticks "$apid")
	t0=$(date +%s.%N)
	"$b/nudge-sim" --seed "$2" --rate 0 --duration "$SECS" --batch 1000 \
		--push "ipc://$dir/p.sock" 2>"$dir/sim.log"
	sleep 1.5
	t1=$(date +%s.%N)
	c1=$(ticks "$apid")
	e=$("$b/nudge" status --json --agent "tcp://127.0.0.1:$port" | jq -r .events)
	hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$apid/status")
	kill "$apid"
	wait "$apid" 2>/dev/null
	rm -rf "$dir"
	awk -v e="$e" -v a="$t0" -v b="$t1" -v c="$((c1 - c0))" -v hz="$HZ" \
		-v h="$hwm" 'BEGIN { s = b - a - 1.5;
		printf "%.0f %.0f %s\n", e / s, 100 * c / hz / (s + 1.5), h }'
}

pp=$1/bench/pushpull
[ -x "$pp" ] || pp=$1/pushpull
for r in $(seq 1 "$ROUNDS"); do
	for b in "$@"; do
		read -r ev cpu rss <<<"$(one_run "$b" "$r")"
		echo "round $r $b events_per_s=$ev cpu=$cpu rss_kib=$rss" \
			"events_per_cpu_s=$(awk -v e="$ev" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? 100 * e / c : 0) }')"
		awk -v e="$ev" -v c="$cpu" 'BEGIN { printf "%.0f\n", (c > 0 ? 100 * e / c : 0) }' >>"$WORK/epc.$(echo "$b" | tr / _)"
		echo "$ev" >>"$WORK/ev.$(echo "$b" | tr / _)"
		echo "$cpu" >>"$WORK/cpu.$(echo "$b" | tr / _)"
		echo "$rss" >>"$WORK/rss.$(echo "$b" | tr / _)"
	done
	c=$("$pp" "ipc://$WORK/ceiling.sock" 60000 1000 "$SECS" |
		sed -n 's/.*events_per_s=\([0-9.]*\).*/\1/p')
	rm -f "$WORK/ceiling.sock"
	echo "round $r ceiling events_per_s=$c"
	echo "$c" >>"$WORK/ceiling"
done
cm=$(median <"$WORK/ceiling")
echo "median ceiling events_per_s=$cm"
for b in "$@"; do
	k=$(echo "$b" | tr / _)
	em=$(median <"$WORK/ev.$k")
	echo "median $b events_per_s=$em cpu=$(median <"$WORK/cpu.$k")" \
		"rss_kib=$(median <"$WORK/rss.$k")" \
		"events_per_cpu_s=$(median <"$WORK/epc.$k")" \
		"ratio=$(awk -v a="$em" -v b="$cm" 'BEGIN { printf "%.3f", a / b }')"
done
