#!/usr/bin/env bash
# forget.sh - `nudge forget VISITOR` end to end (right to erasure,
# PRIVACY.md): an agent fed events for a visitor, some of their sessions
# archived (short session timeout), the agent restarted (live sessions
# saved and restored), a console showing them in tmux; then `nudge forget`
# and every store is searched: the agent's database (sqlite3 .dump, and
# the raw file and WAL: secure_delete and a truncated WAL), the agent's
# `visitor` query (NOTFOUND), the rules' visitor memory, the console's
# screens (session detail, sessions and events) and its history database; the audit has
# the forget under a hash, never the id.  Other visitors are untouched.
#
# Env: BUILD (default build).  Prints PASS/FAIL lines.
. "$(dirname "$0")/lib/common.sh"

command -v sqlite3 >/dev/null || { fail sqlite3 "sqlite3 not installed"; exit 1; }
command -v tmux >/dev/null || { fail tmux "tmux not installed"; exit 1; }
VIS=vForgetMe42
KEEP=vKeepMe7
TMUX_SOCKET="nudge-fg-$$"
. "$(dirname "$0")/lib/tmux.sh"
T() { tm "$@"; }
DB=$WORK/f1/nudged.db
CTL=ipc://$WORK/f1/control.sock

emit() { # emit VISITOR TYPE PAGE
	"$BUILD/nudge" emit "$2" --visitor "$1" --page "$3" --value 12.5 \
		--ingest "$AGENT_INGEST_f1" >/dev/null 2>&1
}

# ---- 1. sessions archived: a 1 s session timeout closes them
start_agent f1 --session-timeout 1s || exit 1
for v in $VIS $KEEP; do
	emit $v pageview /product/boots
	emit $v add_to_cart /product/boots
done
for _ in $(seq 1 40); do
	n=$(sqlite3 "$DB" "select count(*) from sessions" 2>/dev/null)
	[ "${n:-0}" -ge 2 ] && break
	sleep 0.25
done
check "sessions of both visitors archived" test "${n:-0}" -ge 2
stop_agent f1

# ---- 2. restarted with the default timeout: a live session, saved on a
# graceful stop and restored on the next start; rule memory flushed
start_agent f1 || exit 1
emit $VIS pageview /cart
emit $VIS purchase /confirm
emit $KEEP pageview /cart
stop_agent f1
check "live sessions saved at the stop" test "$(sqlite3 "$DB" "select count(*) from live_sessions where visitor = '$VIS'")" -ge 1
start_agent f1 || exit 1
A="$AGENT_PUB_f1,$CTL"
emit $VIS pageview /product/hat
sleep 1.5
mem_before=$(sqlite3 "$DB" "select count(*) from visitors")
check "visitor memory holds both visitors" test "$mem_before" -ge 2

# the agent's `visitor` query, by hand: [1, "visitor", id, ts, {vid}, nil]
visitor_req() {
	python3 - "$1" >"$WORK/req.bin" <<'PY'
import os, struct, sys, time
vid = sys.argv[1].encode()
b = bytes([0x96, 0x01, 0xa7]) + b"visitor" + bytes([0xc4, 16]) + os.urandom(16)
b += bytes([0xcf]) + struct.pack(">Q", int(time.time() * 1000))
b += bytes([0x81, 0xa3]) + b"vid" + bytes([0xa0 | len(vid)]) + vid + bytes([0xc0])
sys.stdout.buffer.write(b)
PY
	"$BUILD/tools/nngraw" req "$CTL" "$WORK/req.bin" 2>&1
}
if [ -x "$BUILD/tools/nngraw" ]; then
	check "visitor query finds the live session before" sh -c "echo '$(visitor_req $VIS)' | grep -q '^status 0 '"
else
	fail nngraw "$BUILD/tools/nngraw not built (make tests)"
fi

# ---- 3. a console showing them: sessions view, then the events view
T -f /dev/null new-session -d -s c -x 120 -y 40 \
	"LANG=C.UTF-8 $BUILD/nudge --agent $A --history $WORK/console.db; sleep 60" ||
	{ fail tmux "new-session failed"; exit 1; }
cap() { tm_screen c "$WORK/screen.txt"; }
wait_for() { tm_wait c "$WORK/screen.txt" "${2:-10}" "$1"; } # REGEX [SECONDS]
wait_gone() { tm_gone c "$WORK/screen.txt" "${2:-10}" "$1"; } # REGEX [SECONDS]
wait_for "1 agent" 20 || { fail console "console never saw the agent"; cat "$WORK/screen.txt"; exit 1; }
T send-keys -t c 6; sleep 0.5
emit $VIS click /product/hat
emit $KEEP click /cart
check "console events view shows the visitor" wait_for "$VIS"
T send-keys -t c 3; sleep 0.5
emit $VIS pageview /product/scarf
check "console sessions view shows the visitor" wait_for "$VIS"
T send-keys -t c /; sleep 0.3; T send-keys -t c "$VIS" Enter; sleep 1.5
T send-keys -t c Enter; sleep 0.5	# the only row left: their detail
check "console detail opens on the visitor" wait_for "Visitor $VIS on"
check "console detail shows the visitor's path" wait_for "EVENT / PAGE"

# ---- 4. forget
"$BUILD/nudge" forget "$VIS" --json --agent "$A" >"$WORK/forget.json" 2>"$WORK/forget.err"
expect_eq "nudge forget exits 0" "$?" "0"
expect_eq "forget: a live session was closed" "$(jq -r '.[0].live' "$WORK/forget.json")" "true"
check "forget: archived sessions deleted" test "$(jq -r '.[0].archived' "$WORK/forget.json")" -ge 1
check "forget: rule memory erased" test "$(jq -r '.[0].facts' "$WORK/forget.json")" -ge 1
"$BUILD/nudge" forget "$VIS" --agent "$A" >"$WORK/forget2.txt" 2>&1
expect_eq "forget again (nothing held) exits 0" "$?" "0"
check "forget again says nothing was live" grep -q "live session no, 0 archived" "$WORK/forget2.txt"

# ---- 5. every store searched
if wait_for "no such live session" 5; then pass "console detail drops the visitor's path"; else fail "console detail drops the visitor's path" "screen:"; cat "$WORK/screen.txt"; fi
T send-keys -t c Escape; sleep 0.5
check "console sessions view, filtered on them, is empty" wait_for "shown of 0" 5
T send-keys -t c /; sleep 0.3
T send-keys -t c C-u $(printf 'BSpace %.0s' $(seq 1 16)) Enter; sleep 1
check "console sessions view drops the visitor" wait_gone "$VIS" 5
T send-keys -t c 6; sleep 0.8
check "console events view drops the visitor" wait_gone "$VIS" 5
check "console still shows the other visitor" wait_for "$KEEP" 5
sleep 1.5	# a flush of visitor memory would come now
expect_eq "agent db dump holds no trace of the id" "$(sqlite3 "$DB" .dump | grep -c "$VIS")" "0"
check "agent db dump keeps the other visitor" test "$(sqlite3 "$DB" .dump | grep -c "$KEEP")" -ge 1
expect_eq "agent db file and WAL hold no byte of the id" \
	"$(cat "$DB" "$DB-wal" 2>/dev/null | grep -a -c "$VIS")" "0"
expect_eq "visitor memory row erased" "$(sqlite3 "$DB" "select count(*) from visitors")" "$((mem_before - 1))"
if [ -x "$BUILD/tools/nngraw" ]; then
	check "visitor query is NOTFOUND after" sh -c "echo '$(visitor_req $VIS)' | grep -q 'NOTFOUND'"
fi
if [ -f "$WORK/console.db" ]; then
	expect_eq "console history holds no trace" "$(sqlite3 "$WORK/console.db" .dump | grep -c "$VIS")" "0"
fi
"$BUILD/nudge" audit --json --agent "$A" >"$WORK/audit.json"
hash=$(jq -r '[.[] | select(.what == "forget")][-1].detail' "$WORK/audit.json")
check "audit has the forget under a hash" sh -c "echo '$hash' | grep -Eq '^visitor #[0-9a-f]{16}: live yes'"
expect_eq "audit never holds the id in clear" "$(grep -c "$VIS" "$WORK/audit.json")" "0"

# ---- 6. after a restart nothing comes back
stop_agent f1
start_agent f1 || exit 1
expect_eq "after a restart: db still clean" "$(sqlite3 "$DB" .dump | grep -c "$VIS")" "0"
if [ -x "$BUILD/tools/nngraw" ]; then
	check "after a restart: visitor query NOTFOUND" sh -c "echo '$(visitor_req $VIS)' | grep -q 'NOTFOUND'"
fi
exit 0
