#!/usr/bin/env bash
# bench/logs.sh BUILD_DIR: access-log ingestion, nudged against GoAccess on
# the same 2,000,000-line combined log in the same run.
#
# nudged: `nudged --tail FILE --tail-from-start`, sessionized with the
# default funnel; lines/s is lines / (time from launch until the agent's
# counters account for every line: events (bots included) + rejected =
# page views + bots + malformed, as the tailer reports them), and the
# tailer's own figure; peak RSS is VmHWM.  GoAccess (Debian's package):
# `goaccess access.log --log-format=COMBINED -o report.json`, without and
# with TZ set (which spares it a stat of /etc/localtime per line), and with
# `-j 2` when the installed version has it; wall time and peak RSS from
# /usr/bin/time.  Figures only, no timed asserts.  LINES and RUNS (median)
# may be set in the environment.
set -u
BUILD=${1:-build}
LINES=${LINES:-2000000}
RUNS=${RUNS:-1}
cd "$(dirname "$0")/.."
BUILD=$(cd "$BUILD" && pwd)
WORK=$(mktemp -d /tmp/nudge-bench-logs.XXXXXX)
apid=
trap '[ -n "$apid" ] && kill "$apid" 2>/dev/null; rm -rf "$WORK"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
row() { printf '%-44s %14s %10s %10s\n' "$1" "$2" "$3" "$4"; }

# ---- the log ---------------------------------------------------------------
LOG=$WORK/access.log
gen_awk() { # fallback generator: visitors with assets and a few bots
	awk -v n="$LINES" 'BEGIN {
		srand(7); split("/ /category/new /category/sale /product/SH-1 /product/KD-2 /cart /checkout", pages, " ")
		split("/static/app.css /static/app.js /favicon.ico /img/p/a.jpg", assets, " ")
		ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
		bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
		for (i = 0; i < n; i++) {
			v = int(rand() * 250000); s = i % 60
			ip = sprintf("10.%d.%d.%d", v % 200, int(v / 200) % 250, int(v / 50000) + 1)
			r = rand()
			if (r < 0.45) p = pages[1 + int(rand() * 7)]; else if (r < 0.98) p = assets[1 + int(rand() * 4)]; else { p = "/product/SH-1"; u = bot }
			printf "%s - - [01/Dec/2026:21:%02d:%02d +0000] \"GET %s HTTP/1.1\" 200 %d \"https://shop.example/\" \"%s\"\n", ip, int(i / 60) % 60, s, p, 2000 + i % 40000, (r < 0.98 ? ua : bot)
		}
	}'
}
if "$BUILD/nudge-sim" --help 2>&1 | grep -q -- '--log '; then
	how="nudge-sim --log --log-noise"
	"$BUILD/nudge-sim" --log --log-noise --seed 7 --visitors $((LINES * 3 / 20)) \
		--start 1796160000000 2>/dev/null | head -n "$LINES" >"$LOG"
else
	how="awk"
	gen_awk >"$LOG"
fi
n=$(wc -l <"$LOG")
bytes=$(stat -c %s "$LOG")
echo "log: $n lines, $((bytes / 1048576)) MiB, made by $how"
[ "$n" -eq "$LINES" ] || echo "warning: $n lines instead of $LINES"

# ---- nudged ------------------------------------------------------------------
nudged_run() { # -> "lines_per_s tailer_lines_per_s hwm_kb events rejected"
	local dir="$WORK/agent$1" port=$((30000 + RANDOM % 20000)) t0 t1 line
	mkdir -p "$dir"
	t0=$(now)
	"$BUILD/nudged" --name bench --pub "tcp://127.0.0.1:$port" --control "ipc://$dir/c.sock" \
		--ingest "ipc://$dir/i.sock" --push "ipc://$dir/p.sock" --db "$dir/db" \
		--tail "$LOG" --tail-from-start >"$dir/log" 2>&1 &
	apid=$!
	for _ in $(seq 1 6000); do
		line=$(grep -m1 'caught up' "$dir/log")
		[ -n "$line" ] && break
		sleep 0.01
	done
	t1=$(now)
	local hwm pv bots bad tl status ev rej
	hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$apid/status")
	pv=$(echo "$line" | sed -n 's/.*: \([0-9]*\) page views.*/\1/p')
	bots=$(echo "$line" | sed -n 's/.* \([0-9]*\) bots.*/\1/p')
	bad=$(echo "$line" | sed -n 's/.* \([0-9]*\) malformed.*/\1/p')
	tl=$(echo "$line" | sed -n 's/.*(\([0-9]*\) lines\/s).*/\1/p')
	# the counters must hold every line (the tailer applies before it says so)
	for _ in $(seq 1 50); do
		status=$("$BUILD/nudge" status --json --agent "tcp://127.0.0.1:$port" 2>/dev/null)
		ev=$(echo "$status" | jq -r .events 2>/dev/null)
		rej=$(echo "$status" | jq -r .rejected 2>/dev/null)
		[ "$ev" = $((pv + bots)) ] && [ "$rej" = "$bad" ] && break
		sleep 0.1
	done
	echo "$status" >"$WORK/status$1.json"
	kill "$apid"
	wait "$apid" 2>/dev/null
	apid=
	awk -v n="$n" -v a="$t0" -v b="$t1" -v tl="$tl" -v h="$hwm" -v e="$ev" -v r="$rej" \
		'BEGIN { printf "%d %d %d %s %s\n", n / (b - a), tl, h, e, r }'
}

# ---- GoAccess ----------------------------------------------------------------
goaccess_run() { # TZ|"" extra-args... -> "lines_per_s hwm_kb"
	local tz=$1
	shift
	local t0 t1 out
	t0=$(now)
	if [ -n "$tz" ]; then
		out=$(TZ=$tz /usr/bin/time -f '%M' goaccess "$LOG" --log-format=COMBINED \
			--no-global-config "$@" -o "$WORK/report.json" 2>&1 >/dev/null | tail -1)
	else
		out=$(env -u TZ /usr/bin/time -f '%M' goaccess "$LOG" --log-format=COMBINED \
			--no-global-config "$@" -o "$WORK/report.json" 2>&1 >/dev/null | tail -1)
	fi
	t1=$(now)
	awk -v n="$n" -v a="$t0" -v b="$t1" -v h="$out" 'BEGIN { printf "%d %d\n", n / (b - a), h }'
}

have_goaccess=1
command -v goaccess >/dev/null || have_goaccess=0
[ -x /usr/bin/time ] || have_goaccess=0
[ $have_goaccess = 1 ] || echo "goaccess or /usr/bin/time missing (apt-get install goaccess time): nudged only"

declare -A lps hwm
collect() { # name command...: median lines/s and RSS over RUNS
	local name=$1 r
	shift
	: >"$WORK/$name.runs"
	for r in $(seq 1 "$RUNS"); do "$@" "$r" >>"$WORK/$name.runs"; done
	lps[$name]=$(awk '{ print $1 }' "$WORK/$name.runs" | median)
	hwm[$name]=$(awk '{ print $NF }' "$WORK/$name.runs" | median)
}

: >"$WORK/nudged.runs"
for r in $(seq 1 "$RUNS"); do nudged_run "$r" >>"$WORK/nudged.runs"; done
lps[nudged]=$(awk '{ print $1 }' "$WORK/nudged.runs" | median)
lps[tailer]=$(awk '{ print $2 }' "$WORK/nudged.runs" | median)
hwm[nudged]=$(awk '{ print $3 }' "$WORK/nudged.runs" | median)
read -r _ _ _ ev rej <"$WORK/nudged.runs"

best=0
if [ $have_goaccess = 1 ]; then
	ga_plain() { goaccess_run ""; }
	ga_tz() { goaccess_run UTC; }
	ga_j2() { goaccess_run UTC -j 2; }
	collect goaccess ga_plain
	collect goaccess_tz ga_tz
	if goaccess --help 2>&1 | grep -qE -- '--jobs|-j,'; then
		collect goaccess_j2 ga_j2
	fi
	for k in goaccess goaccess_tz goaccess_j2; do
		v=${lps[$k]:-0}
		awk -v a="$v" -v b="$best" 'BEGIN { exit !(a > b) }' && best=$v
	done
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.1fx", a / b }'; }
echo
row figure "lines/s" "peak RSS" "vs best"
row "nudged --tail (sessionized, funnel)" "${lps[nudged]}" "$((hwm[nudged] / 1024)) MiB" "$(ratio "${lps[nudged]}" "$best")"
row "  tailer's own figure (no startup)" "${lps[tailer]}" "" "$(ratio "${lps[tailer]}" "$best")"
for k in goaccess goaccess_tz goaccess_j2; do
	[ -n "${lps[$k]:-}" ] || continue
	case $k in
	goaccess) label="goaccess -o report.json" ;;
	goaccess_tz) label="goaccess, TZ=UTC" ;;
	goaccess_j2) label="goaccess, TZ=UTC, -j 2" ;;
	esac
	row "$label" "${lps[$k]}" "$((hwm[$k] / 1024)) MiB" "$(ratio "${lps[$k]}" "$best")"
done
[ $have_goaccess = 1 ] && ! goaccess --help 2>&1 | grep -qE -- '--jobs|-j,' &&
	echo "(this goaccess has no -j option: best of the runs above)"
echo "nudged counted: events $ev (bots included), rejected $rej; funnel" \
	"$(jq -r '[.funnel.steps[] | "\(.label) \(.count)"] | join(", ")' "$WORK/status1.json" 2>/dev/null)"
# one line for bench/run.sh
echo "logs: nudged_lines_per_s=${lps[nudged]} nudged_rss_kb=${hwm[nudged]}" \
	"goaccess_best_lines_per_s=$best goaccess_rss_kb=${hwm[goaccess_tz]:-0}"
