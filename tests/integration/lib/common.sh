# Shared helpers for integration tests: real nudged processes on loopback.
# Source it; it sets BUILD (default build), WORK (a temp dir removed on exit)
# and cleans up every process it started.
set -u
BUILD=${BUILD:-build}
BUILD=$(cd "$BUILD" && pwd)
WORK=$(mktemp -d /tmp/nudge-it.XXXXXX)
PIDS=()
TMUX_SESSIONS=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# leaks inside Debian's nng 1.5.2 only, each explained in the file
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lsan.supp:print_suppressions=0}

cleanup() {
	for s in "${TMUX_SESSIONS[@]}"; do tmux kill-session -t "$s" 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "${NUDGE_KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
# check NAME COMMAND...: PASS if the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}
# known NAME WHY COMMAND...: a check that fails today for a reason outside
# this project (a bug of a dependency in the version Debian ships, listed
# in RELIABILITY.md).  PASS when the command succeeds (the bug is gone);
# otherwise "KNOWN name: why", which tests/run.sh counts and lists apart
# from the failures, so it is never silent and never hides our own bugs.
known() {
	local name=$1 why=$2
	shift 2
	if "$@"; then pass "$name"; else echo "KNOWN $name: $why"; fi
}
# expect_eq NAME GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# A free TCP port on loopback, below the kernel's ephemeral range: a port
# in that range that is free now may be taken by a client connection's
# local end before the agent binds it (seen as "address in use").
free_port() {
	local p lo
	lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	lo=${lo:-32768}
	[ "$lo" -gt 12000 ] || lo=32768
	for _ in $(seq 1 50); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}

# start_agent NAME [extra flags...]: starts nudged with its sockets in
# $WORK/NAME/, PUB on a free port; sets AGENT_PUB_<NAME>, AGENT_PID_<NAME>.
start_agent() {
	local name=$1
	shift
	local dir="$WORK/$name" port
	mkdir -p "$dir"
	if [ -f "$dir/port" ]; then port=$(cat "$dir/port"); else port=$(free_port); echo "$port" >"$dir/port"; fi
	"$BUILD/nudged" --name "$name" --pub "tcp://127.0.0.1:$port" \
		--control "ipc://$dir/control.sock" --ingest "ipc://$dir/ingest.sock" \
		--push "ipc://$dir/push.sock" --db "$dir/nudged.db" "$@" \
		>>"$dir/log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	eval "AGENT_PID_$name=$pid"
	eval "AGENT_PUB_$name=tcp://127.0.0.1:$port"
	eval "AGENT_INGEST_$name=ipc://$dir/ingest.sock"
	# ready when a snapshot arrives
	for _ in $(seq 1 50); do
		if "$BUILD/nudge" status --json --timeout 1000 --agent "tcp://127.0.0.1:$port" >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "agent $name died:"; cat "$dir/log"; return 1
		fi
		sleep 0.1
	done
	echo "agent $name not ready"; cat "$dir/log"
	return 1
}

# stop_agent NAME: graceful SIGTERM, waits for exit; returns its status.
stop_agent() {
	local pid
	eval "pid=\$AGENT_PID_$1"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
}

# TLS material for tests, in the directory $T (set it first): mkca NAME
# makes a self-signed CA (NAME.pem, NAME.key), mkcert NAME CA CN a
# certificate signed by CA (NAME.pem, NAME.key, mode 0600).
mkca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.pem" -days 2 -subj "/CN=$1" >/dev/null 2>&1; }
mkcert() { # NAME CA CN
	openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$3" >/dev/null 2>&1
	openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial -out "$T/$1.pem" -days 2 >/dev/null 2>&1
	chmod 600 "$T/$1.key"
}
