#!/usr/bin/env bash
# Forced reconnects against one agent under ASan/LSan (issue 7, "Links and
# load"): PLAIN (default 1000) client reconnects over tcp:// and TLS
# (default 200) over tls+tcp://, then agent restarts while a console
# stays connected.  A reconnect is a client process that connects to the
# agent's PUB and control sockets and goes away: most exit cleanly after a
# snapshot (`nudge status`, `nudge audit`), every 5th is killed with
# SIGKILL mid-stream or mid-handshake (the connection dropped under the
# agent).  Checks: no sanitizer or error line in the agent's log, its fd
# count flat (+2 at most after the clients are gone), its VmRSS flat (see
# RSS_TOL_KB), LeakSanitizer silent at each graceful exit, and the
# console live again with counts continuing after each agent restart.
# The same TLS clients then go through nginx ending TLS in front of a
# plain agent (the README's advice while nng 1.5.2 leaks TLS pipes).
#
# Run with BUILD=build/hsan (make SANITIZE=address,undefined); with a
# plain build the leak checks are skipped (and said so).  TLS: 200 rather
# than 1000 because each handshake (RSA 2048) under ASan costs ~0.2 s of
# CPU on a shared 2-core box; PLAIN=1000 TLS=1000 runs the full count.
# builds: san
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tmux.sh"
command -v openssl >/dev/null || { fail reconnect "openssl not installed"; exit 0; }
command -v tmux >/dev/null || { fail reconnect "tmux not installed"; exit 0; }
command -v jq >/dev/null || { fail reconnect "jq not installed"; exit 0; }
PLAIN=${PLAIN:-1000}
TLS=${TLS:-200}
RESTARTS=${RESTARTS:-3}
# ASan keeps freed memory in quarantine (256 MiB by default), which makes
# RSS climb for reasons that are not leaks; a small quarantine lets it
# plateau.  Leak detection is not affected.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:quarantine_size_mb=16:malloc_context_size=20"
SUPP="$(cd "$(dirname "$0")" && pwd)/lsan.supp"
[ -f "$SUPP" ] && export LSAN_OPTIONS="suppressions=$SUPP:print_suppressions=1"
SAN=0
nm "$BUILD/nudged" 2>/dev/null | grep -q __asan_init && SAN=1
[ "$SAN" = 1 ] || echo "    note: $BUILD/nudged is not an ASan build: no leak check"
N="$BUILD/nudge"

# ---- TLS material (as in auth.sh) -----------------------------------------
T=$WORK/tls
mkdir -p "$T"
mkca ca
mkcert server ca 127.0.0.1
mkcert client ca client
printf '[console]\ntls_ca = %s\ntls_cert = %s\ntls_key = %s\n' "$T/ca.pem" "$T/client.pem" "$T/client.key" >"$T/client.conf"

# a remote (tcp) control socket needs credentials: one operator key
$N key new --id ops --role operator --out "$WORK/ops.key" >"$WORK/creds" 2>/dev/null
chmod 600 "$WORK/creds"
N="$N --key $WORK/ops.key"

# ---- the agent --------------------------------------------------------------
D=$WORK/r1
mkdir -p "$D"
# ports below the ephemeral range (32768-60999): thousands of client
# connections would otherwise sooner or later hold the agent's port when
# it restarts
low_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}
PP=$(low_port)
PC=$(low_port)
TP=$(low_port)
TC=$(low_port)
FP=$(low_port)
FC=$(low_port)
PUB="tcp://127.0.0.1:$PP"
CTL="tcp://127.0.0.1:$PC"
cat >"$D/agent.conf" <<CONF
[agent]
snapshot_ms = 200
CONF
AGENT_PID=
LOGN=0
# start_r1 MODE: plain (tcp) or tls (tls+tcp, server certificate); one
# log file per run, so each exit's LeakSanitizer report is its own
start_r1() {
	local pub=$PUB ctl=$CTL tls=()
	if [ "$1" = tls ]; then
		pub="tls+tcp://127.0.0.1:$TP"
		ctl="tls+tcp://127.0.0.1:$TC"
		tls=(--tls-cert "$T/server.pem" --tls-key "$T/server.key" --tls-ca "$T/ca.pem")
	fi
	LOGN=$((LOGN + 1))
	"$BUILD/nudged" --name r1 --pub "$pub" --control "$ctl" --config "$D/agent.conf" \
		--ingest "ipc://$D/ingest.sock" --push "ipc://$D/push.sock" \
		--db "$D/nudged.db" --credentials "$WORK/creds" "${tls[@]}" \
		>"$D/log.$LOGN" 2>&1 &
	AGENT_PID=$!
	PIDS+=("$AGENT_PID")
	local cf=()
	[ "$1" = tls ] && cf=(--config "$T/client.conf")
	for _ in $(seq 1 100); do
		$N "${cf[@]}" status --json --timeout 2000 --agent "$pub,$ctl" >/dev/null 2>&1 && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.2
	done
	fail "agent r1 ($1) ready" "$(tail -5 "$D/log.$LOGN") $(ss -tan | grep -E ":($PP|$PC|$TP|$TC) " | head -5)"
	exit 0
}
# stop_r1 NAME: graceful SIGTERM; the exit status and the leak report
stop_r1() {
	kill -TERM "$AGENT_PID"
	local rc=0
	wait "$AGENT_PID" || rc=$?
	verdict "$1: graceful exit status ($rc)" test "$rc" = 0
	if [ "$SAN" = 1 ]; then
		grep -A4 'Suppressions used' "$D/log.$LOGN" | sed 's/^/    lsan.supp: /'
		if grep -q 'did not finish within' "$D/log.$LOGN"; then
			# the stop watchdog ended the process: no atexit, no leak check
			verdict "$1: LeakSanitizer silent at exit (not run: nng_close hung and the watchdog exited)" false
		elif grep -q 'LeakSanitizer' "$D/log.$LOGN"; then
			fail "$1: LeakSanitizer silent at exit" "$(grep -A12 -m1 'LeakSanitizer' "$D/log.$LOGN" | tr '\n' ' ' | cut -c1-600)"
		else
			pass "$1: LeakSanitizer silent at exit"
		fi
	fi
	log_clean "$1"
}
log_clean() {
	local bad
	bad=$(grep -m3 -E 'AddressSanitizer|runtime error|ERROR|error:' "$D/log.$LOGN" | tr '\n' ' ')
	# a sanitizer report is ours whatever the run; the stop watchdog's
	# line after the TLS run is nng's close hang (verdict: KNOWN there)
	if echo "$bad" | grep -qE 'AddressSanitizer|runtime error'; then
		fail "$1: agent log clean" "$bad"
	else
		verdict "$1: agent log clean${bad:+ ($bad)}" test -z "$bad"
	fi
}
fds() { ls "/proc/$AGENT_PID/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status"; }
# settle: wait until the agent has closed what the clients left
settle_fds() { # BASELINE
	for _ in $(seq 1 40); do
		[ "$(fds)" -le $(($1 + 2)) ] && return 0
		sleep 0.25
	done
	return 1
}

# one_client I MODE PUB CTL: one reconnect; every 5th is killed mid-way
one_client() {
	local i=$1 cf=()
	[ "$2" != plain ] && cf=(--config "$T/client.conf")
	if [ $((i % 5)) -eq 4 ]; then
		# killed while dialing, handshaking or receiving
		$N "${cf[@]}" status --json --timeout "$CT" --agent "$3,$4" >/dev/null 2>&1 &
		local p=$!
		sleep "0.0$((RANDOM % 9 + 1))"
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		return 0
	fi
	if [ $((i % 5)) -eq 2 ]; then # a control request (REP pipe churn)
		$N "${cf[@]}" --agent "$3,$4" audit --lim 1 --json >/dev/null 2>&1
	else	# exits 0 with "up": false too: a snapshot must have come
		$N "${cf[@]}" status --json --timeout "$CT" --agent "$3,$4" 2>/dev/null |
			jq -e '.agents[0].up' >/dev/null
	fi
}

# run_clients MODE COUNT NAME [BUDGET]: COUNT reconnects, two at a time;
# samples fds and RSS at 20% and at the end.  With BUDGET (seconds) no new
# client starts once it is spent, and the clients not run are said.
run_clients() {
	local mode=$1 count=$2 name=$3 budget=${4:-0} pub=$PUB ctl=$CTL bad=0 i
	local bad_first=0 ran=0
	if [ "$mode" = tls ]; then
		pub="tls+tcp://127.0.0.1:$TP"
		ctl="tls+tcp://127.0.0.1:$TC"
	elif [ "$mode" = front ]; then # TLS ended by nginx, tcp to the agent
		pub="tls+tcp://127.0.0.1:$FP"
		ctl="tls+tcp://127.0.0.1:$FC"
	fi
	local f0 r0 fw=0 rw=0 t0
	t0=$(date +%s)
	f0=$(fds)
	local bg=
	for i in $(seq 0 $((count - 1))); do
		# a second client alongside every other one (not `wait`: that
		# would wait for the agent too)
		if [ $((i % 2)) -eq 0 ]; then
			[ -n "$bg" ] && wait "$bg"
			one_client "$((i + 1000000))" "$mode" "$pub" "$ctl" &
			bg=$!
		fi
		if ! one_client "$i" "$mode" "$pub" "$ctl"; then
			bad=$((bad + 1))
			[ "$i" -lt 10 ] && bad_first=$((bad_first + 1))
		fi
		ran=$((i + 1))
		if [ "$budget" -gt 0 ] && [ $(($(date +%s) - t0)) -ge "$budget" ]; then
			echo "    $name: budget of $budget s spent after $ran of $count reconnects"
			break
		fi
		if [ "$i" -eq $((count / 5)) ]; then
			wait "$bg"
			settle_fds "$f0"
			fw=$(fds)
			rw=$(rss)
		fi
	done
	wait "$bg"
	local dt=$(($(date +%s) - t0))
	check "$name: agent alive after $ran reconnects ($((ran * 3 / 2)) clients, ${dt} s)" kill -0 "$AGENT_PID"
	# the first ten come before any pipe could have leaked: they always answer
	check "$name: the first clients answered ($bad_first of 10 failed)" test "$bad_first" -eq 0
	verdict "$name: clean clients answered ($bad of $ran failed, <= 1%)" test "$bad" -le $((ran / 100))
	[ "$ran" -eq "$count" ] || verdict "$name: every reconnect run ($ran of $count in the budget)" false
	settle_fds "$f0"
	local f1 r1
	f1=$(fds)
	r1=$(rss)
	echo "    $name fds: $f0 before, $fw at 20%, $f1 after; VmRSS KiB: $rw at 20%, $r1 after"
	[ "$f1" -le $((f0 + 2)) ] || ls -l "/proc/$AGENT_PID/fd" | awk '{ print "    | " $9, $10, $11 }' >&2
	verdict "$name: fd count flat ($f1 <= $f0 + 2)" test "$f1" -le $((f0 + 2))
	# RSS: compared from 20% on (after the allocator and ASan's quarantine
	# warmed up): at most +RSS_TOL_KB for the remaining 80%
	verdict "$name: VmRSS flat (+$((r1 - rw)) KiB <= ${RSS_TOL_KB} KiB)" test $((r1 - rw)) -le "$RSS_TOL_KB"
}
RSS_TOL_KB=${RSS_TOL_KB:-16384}
# verdict NAME COMMAND...: a check; during the TLS run the checks that
# nng 1.5.2's TLS transport breaks (it leaks the descriptor of a pipe whose
# peer dies mid-stream, and its close then hangs) are reported as KNOWN
NNG_TLS_LEAK="nng 1.5.2 leaks the fd of a TLS pipe whose peer dies mid-stream"
verdict() {
	local name=$1
	shift
	if [ "${IN_TLS:-0}" = 1 ]; then known "$name" "$NNG_TLS_LEAK" "$@"
	else check "$name" "$@"; fi
}
# a client's wait for its snapshot: generous, a TLS handshake with an ASan
# agent on a loaded 2-core box can take seconds
CT=${CT:-10000}

# ---- plain ----------------------------------------------------------------
start_r1 plain
"$BUILD/nudge-sim" --push "ipc://$D/push.sock" --visitors 200 --quiet >/dev/null 2>&1
if [ "$PLAIN" -gt 0 ]; then
	run_clients plain "$PLAIN" plain
fi

# ---- TLS ended in front of the agent (README, Deployment) ------------------
# What the README advises while Debian's nng leaks: nginx's stream module
# ends TLS and hands plain tcp to the agent, so the same TLS clients (every
# 5th killed mid-handshake or mid-stream) must leave the agent's fds and
# memory flat: checked, not KNOWN.  The plain run's agent, warmed up (a
# fresh ASan process grows by its quarantine first, up to the tolerance).
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
STREAM_SO=/usr/lib/nginx/modules/ngx_stream_module.so
if [ "$TLS" -gt 0 ] && [ -x "$NGINX" ] && [ -f "$STREAM_SO" ]; then
	mkdir -p "$WORK/nginx"
	user_line=""
	[ "$(id -u)" = 0 ] && user_line="user root;"
	cat >"$WORK/nginx/nginx.conf" <<NGX
load_module $STREAM_SO;
$user_line
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 256; }
stream {
	ssl_certificate $T/server.pem;
	ssl_certificate_key $T/server.key;
	server { listen 127.0.0.1:$FP ssl; proxy_pass 127.0.0.1:$PP; }
	server { listen 127.0.0.1:$FC ssl; proxy_pass 127.0.0.1:$PC; }
}
NGX
	"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
		>"$WORK/nginx/out" 2>&1 &
	NGX_PID=$!
	PIDS+=("$NGX_PID")
	for _ in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$FC") 2>/dev/null && break
		sleep 0.1
	done
	check "nginx ends TLS in front of the agent" kill -0 "$NGX_PID"
	run_clients front "$TLS" "tls ended by nginx"
	kill -TERM "$NGX_PID" 2>/dev/null
	wait "$NGX_PID" 2>/dev/null
elif [ "$TLS" -gt 0 ]; then
	fail "tls ended by nginx" "nginx or its stream module missing (make test-deps installs nginx-light and libnginx-mod-stream)"
fi

stop_r1 "plain run"

# ---- TLS ------------------------------------------------------------------
if [ "$TLS" -gt 0 ]; then
	start_r1 tls
	IN_TLS=1
	# nng 1.5.2's leaked TLS pipes slow every later handshake (at worst
	# each client waits its whole CT), so the run is bounded in time
	run_clients tls "$TLS" tls "${TLS_BUDGET:-150}"
	stop_r1 "tls run"
	IN_TLS=0
fi

# ---- agent restarts with a console connected -------------------------------
S="nudge-reconnect-$$"
TMUX_SESSIONS+=("$S")
start_r1 plain
visits() { # N FIRST
	for i in $(seq "$2" $(($2 + $1 - 1))); do
		printf '{"type":"pageview","visitor":"rc%05d","page":"/"}\n' "$i"
	done | $N emit --stdin --ingest "ipc://$D/ingest.sock" >/dev/null
}
screen() { tm_screen "$S" "$WORK/screen.txt"; cat "$WORK/screen.txt"; }
wait_screen() { tm_expect "$S" "$WORK/screen.txt" "$2" "$1"; } # PATTERN SECONDS
base=$($N status --json --agent "$PUB,$CTL" | jq '.funnel.steps[0].count')
tmux new-session -d -s "$S" -x 100 -y 30 "$N --history none --agent $PUB,$CTL"
tmux send-keys -t "$S" 2
check "console connected (visit $base)" wait_screen "visit .* $base " 15
for k in $(seq 1 "$RESTARTS"); do
	stop_r1 "restart $k"
	start_r1 plain
	visits 10 $((k * 100))
	want=$((base + 10 * k))
	tmux send-keys -t "$S" 2
	check "restart $k: console reconnected, counts continue (visit $want)" \
		wait_screen "visit .* $want " 20
done
tmux send-keys -t "$S" q
stop_r1 "last run"
exit 0
