#!/usr/bin/env bash
# bench/http-libs/run.sh [BUILD]: the measurement behind the HTTP library
# (README design notes): proto.c built on nng's HTTP server and on
# libmicrohttpd, the same full-work handler, wrk -t2 -c64 with
# bench/beacon.lua, next to nginx `return 204;` (bench/beacon.sh's setup).
# Needs `make` to have built BUILD's agent and common objects first.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/nudge-httplibs.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
objs="$BUILD/agent/beacon.o $BUILD/agent/sesstab.o $BUILD/agent/intern.o $BUILD/libnudge.a"
for lib in NNG MHD; do
	cc -std=c11 -D_GNU_SOURCE -O2 -DUSE_$lib -I"$ROOT/common" -I"$ROOT/agent" \
		-o "$WORK/proto_$lib" "$ROOT/bench/http-libs/proto.c" $objs \
		-ljansson -lxxhash -lnng -lmicrohttpd -lmsgpackc -lsqlite3 -lpthread -lm || exit 1
done
"$WORK/proto_NNG" 7492 & pids+=($!)
"$WORK/proto_MHD" 7493 & pids+=($!)
sleep 0.5
for p in 7492 7493; do
	echo -n "port $p ($([ $p = 7492 ] && echo nng || echo libmicrohttpd)): "
	wrk -t2 -c64 -d5s --latency -s "$ROOT/bench/beacon.lua" "http://127.0.0.1:$p/nudge/e" | grep RESULT
done
echo "(run bench/beacon.sh for nginx return 204 in the same conditions)"
