#!/usr/bin/env bash
# Disk full (issue 7, durability): the agent's database on a 2 MiB tmpfs
# (a loop-mounted ext2 image if tmpfs cannot be mounted; SKIP if neither),
# filled up under a steady event stream.  No crash; ingest goes on in
# memory; the error reaches the console within 5 s (snapshot serr/lerr,
# `nudge status`, `nudge top --once --json`); a rule push is refused with a
# clear error and not applied; writes resume by themselves when space is
# freed; PRAGMA integrity_check is ok; a stop while full exits cleanly and
# the next start has everything acknowledged.
. "$(dirname "$0")/lib/common.sh"
N="$BUILD/nudge"
RAW="$BUILD/tools/nngraw"
D="$WORK/d1"
MNT="$WORK/disk"
mkdir -p "$D" "$MNT"
now_ms() { date +%s%3N; }

unmount() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	mountpoint -q "$MNT" && umount -l "$MNT"
	cleanup
}
trap unmount EXIT

if mount -t tmpfs -o size=2m nudge-diskfull "$MNT" 2>"$WORK/mount.err"; then
	echo "disk: tmpfs, 2 MiB"
elif truncate -s 2M "$WORK/disk.img" && mkfs.ext2 -q -F -m 0 "$WORK/disk.img" >/dev/null 2>&1 &&
	mount -o loop "$WORK/disk.img" "$MNT" 2>>"$WORK/mount.err"; then
	echo "disk: loop ext2, 2 MiB"
else
	echo "SKIP diskfull: cannot mount a small filesystem (needs root): $(head -1 "$WORK/mount.err")"
	exit 0
fi
DB="$MNT/nudged.db"
PORT=$(free_port)
PUB="tcp://127.0.0.1:$PORT"
CTL="ipc://$D/control.sock"
AG=(--agent "$PUB,$CTL")
printf '\x96\x01\xa4ping\xc4\x10PINGPINGPINGPING\x00\xc0\xc0' >"$WORK/ping.bin"

launch() {
	"$BUILD/nudged" --name d1 --pub "$PUB" --control "$CTL" \
		--ingest "ipc://$D/ingest.sock" --push "ipc://$D/push.sock" \
		--db "$DB" --snapshot-ms 200 --session-timeout 2s >>"$D/log" 2>&1 &
	AGENT=$!
	PIDS+=("$AGENT")
	for _ in $(seq 1 100); do
		"$RAW" req "$CTL" "$WORK/ping.bin" 2>/dev/null | grep -q '^status 0' && return 0
		kill -0 "$AGENT" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# last FIELD: the newest snapshot's events or serr (0 if none yet); lasterr:
# its lerr, the rest of the line
last() {
	local v
	v=$(grep ' snapshot ' "$WORK/watch" | tail -1 | sed -n "s/.* $1=\([^ ]*\).*/\1/p")
	echo "${v:-0}"
}
lasterr() { grep ' snapshot ' "$WORK/watch" | tail -1 | sed -n 's/.* lerr=//p'; }
disk_events() { sqlite3 "$DB" "SELECT value FROM counters WHERE name = 'events'" 2>/dev/null; }
rules_file() {
	printf '# %s\nrule r%s:\n  when event == "pageview"\n  show banner "%s"\n  at most 1 per day\n' \
		"$1" "$1" "$1" >"$WORK/$1.rules"
	echo "$WORK/$1.rules"
}

launch || { fail "start" "$(tail -5 "$D/log")"; exit 1; }
"$BUILD/tools/snapwatch" "$PUB" >"$WORK/watch" 2>/dev/null &
PIDS+=($!)
"$N" rules push "$(rules_file one)" "${AG[@]}" >/dev/null 2>&1
expect_eq "a rule push before the disk fills: acknowledged" "$?" 0
"$BUILD/nudge-sim" --push "ipc://$D/push.sock" --rate 50 --duration 120 --quiet 2>/dev/null &
SIM=$!
PIDS+=("$SIM")
sleep 2.5
serr0=$(last serr)
ev_disk0=$(disk_events)
check "counters reach the disk before it fills ($ev_disk0)" test "${ev_disk0:-0}" -gt 0

# fill the disk to the last block
dd if=/dev/zero of="$MNT/filler" bs=4k >/dev/null 2>&1
t_full=$(now_ms)
echo "disk full: $(df -k "$MNT" | tail -1)"
seen=0
while [ $(( $(now_ms) - t_full )) -lt 6000 ]; do
	if [ "$(last serr)" -gt "$serr0" ] && lasterr | grep -qi 'full'; then
		seen=$(( $(now_ms) - t_full ))
		break
	fi
	sleep 0.1
done
check "the error is in the agent's snapshot within 5 s (serr, lerr; after $seen ms)" \
	test "$seen" -gt 0 -a "$seen" -le 5000
"$N" status --json "${AG[@]}" >"$WORK/status.json" 2>/dev/null
check "nudge status --json shows it: $(jq -r '.agents[0].last_error' "$WORK/status.json")" \
	jq -e '.agents[0].store_errors > 0 and (.agents[0].last_error | test("full"))' "$WORK/status.json" >/dev/null
"$N" status "${AG[@]}" >"$WORK/status.txt" 2>/dev/null
check "nudge status shows it" grep -q 'store errors [0-9]*, last: .*full' "$WORK/status.txt"
"$N" --agent "$PUB" top --once --view agents --json >"$WORK/top.json" 2>/dev/null
check "nudge top --once --json shows it" \
	jq -e '.[0].store_errors > 0 and (.[0].last_error | test("full"))' "$WORK/top.json" >/dev/null

ev1=$(last events)
sleep 2
check "while full: the agent is alive" kill -0 "$AGENT"
check "while full: ingest goes on in memory (events $ev1 -> $(last events))" test "$(last events)" -gt "$ev1"
check "while full: control answers a ping" sh -c "'$RAW' req '$CTL' '$WORK/ping.bin' | grep -q '^status 0'"
# SQLite reuses a WAL whose frames are all in the database: a push written
# there needs no new block, is durable, and is rightly acknowledged even on
# a full disk.  For a push that meets a disk truly full, empty the WAL
# first: with the agent frozen (its next write cannot take the space in
# between), free the disk, checkpoint and truncate the WAL from outside
# (SQLite allows it from another process), and fill the disk again.  Then
# no block is free, none can be freed, and the agent's next write fails.
wal_emptied=0
for _ in $(seq 1 20); do
	kill -STOP "$AGENT"
	rm -f "$MNT/filler"
	# busy (first column 1) if the agent was frozen inside a transaction
	if [ "$(sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' 2>/dev/null | cut -d'|' -f1)" = 0 ] &&
		[ "$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)" = 0 ]; then
		wal_emptied=1
	fi
	dd if=/dev/zero of="$MNT/filler" bs=4k >/dev/null 2>&1
	kill -CONT "$AGENT"
	[ "$wal_emptied" = 1 ] && break
	sleep 0.05
done
check "while full: the WAL emptied before the disk was filled again" test "$wal_emptied" = 1
check "while full: no block free" test "$(df --output=avail -B1 "$MNT" | tail -1 | tr -d ' ')" = 0
sleep 0.6 # a flush meets the full disk
t0=$(now_ms)
"$N" rules push "$(rules_file two)" "${AG[@]}" >"$WORK/push2.out" 2>&1
rc=$?
check "while full: a rule push is refused (exit $rc, in $(( $(now_ms) - t0 )) ms): $(head -1 "$WORK/push2.out")" \
	test "$rc" -ne 0
check "while full: the refusal says why" grep -qi 'full' "$WORK/push2.out"
"$N" rules show "${AG[@]}" --json >"$WORK/show2.json" 2>/dev/null
expect_eq "while full: the refused set is not in force" "$(jq -r '.agents[0].current' "$WORK/show2.json")" 1
expect_eq "while full: PRAGMA integrity_check" "$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)" ok

# free the space: writes resume by themselves
rm -f "$MNT/filler" "$MNT"/filler.*
t_free=$(now_ms)
echo "space freed: $(df -k "$MNT" | tail -1)"
sleep 3
serr_a=$(last serr)
ev_disk_a=$(disk_events)
sleep 3
serr_b=$(last serr)
ev_disk_b=$(disk_events)
expect_eq "freed: store errors stop growing (3 s to 6 s after)" "$serr_b" "$serr_a"
check "freed: later counters reach the disk ($ev_disk0 -> $ev_disk_a -> $ev_disk_b)" \
	test "${ev_disk_b:-0}" -gt "${ev_disk_a:-0}" -a "${ev_disk_a:-0}" -gt "$ev_disk0"
check "freed: the disk is at most ~2 s of counts behind ($ev_disk_b vs $(last events) published)" \
	test $(( $(last events) - ev_disk_b )) -le 1000
"$N" rules push "$(rules_file three)" "${AG[@]}" --json >"$WORK/push3.json" 2>/dev/null
expect_eq "freed: a rule push is acknowledged again" "$?" 0
v3=$(jq -r '.agents[0].version' "$WORK/push3.json")
echo "disk after recovery: $(df -k "$MNT" | tail -1); $(ls -s "$MNT" | tr '\n' ' ')"

# full again, then a stop: it exits, and the next start has what was
# acknowledged
dd if=/dev/zero of="$MNT/filler" bs=4k >/dev/null 2>&1
sleep 1.5
kill "$SIM" 2>/dev/null
wait "$SIM" 2>/dev/null
t0=$(now_ms)
kill -TERM "$AGENT"
wait "$AGENT"
rc=$?
took=$(( $(now_ms) - t0 ))
expect_eq "a stop while full exits 0 (in $took ms)" "$rc" 0
[ "$rc" -eq 0 ] || tail -20 "$D/log" | sed 's/^/    | /'
check "a stop while full takes < 10 s" test "$took" -lt 10000
expect_eq "after the stop: PRAGMA integrity_check" "$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)" ok
rm -f "$MNT/filler"
launch || { fail "restart" "$(tail -5 "$D/log")"; exit 1; }
"$N" rules show "${AG[@]}" --json >"$WORK/show4.json" 2>/dev/null
expect_eq "restart: the acknowledged set is in force" "$(jq -r '.agents[0].current' "$WORK/show4.json")" "$v3"
kill -TERM "$AGENT"
wait "$AGENT"
expect_eq "a clean stop at the end" "$?" 0
expect_eq "at the end: PRAGMA integrity_check" "$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)" ok
if grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error' "$D/log"; then
	fail "sanitizer" "$(grep -m3 'Sanitizer\|runtime error' "$D/log")"
fi
exit 0
