#!/usr/bin/env bash
# The Debian packages in a clean Debian 12 root: `make deb` (or build/deb
# when it is newer than the sources), lintian, a minbase root made with
# debootstrap (cached as build/debroot/bookworm-minbase.tar.gz), the
# packages installed there with their dependencies from the archive, the
# programs run inside it (the agent as the service user, with the
# directories systemd would give it), `systemd-analyze verify` of the
# installed unit, then remove (only the conffile, the state directory and
# systemd's enablement memory may stay) and purge (nothing may stay).
# Slow the first time (debootstrap, apt): every step is bounded by timeout.
# Runs once: skipped for the sanitized tree.
case "${BUILD:-build}" in */san | */san/) exit 0 ;; esac
. "$(dirname "$0")/lib/common.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DEBS=$SRC/build/deb
CACHE=$SRC/build/debroot/bookworm-minbase.tar.gz
R=$WORK/root
MOUNTS=()

if [ "$(id -u)" != 0 ]; then
	echo "SKIP deb: needs root (debootstrap, chroot)"
	exit 0
fi

umount_all() {
	for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
	MOUNTS=()
}
trap 'umount_all; cleanup' EXIT

in_root() { timeout "${T:-120}" chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# ---- the packages ------------------------------------------------------
deb_of() { ls "$DEBS"/"$1"_*_*.deb 2>/dev/null | grep -v dbgsym | head -1; }
stale=yes
if [ -n "$(deb_of nudged)" ] && [ -n "$(deb_of nudge)" ]; then
	newer=$(cd "$SRC" && find agent common console tests/sim packaging examples Makefile \
		-type f -newer "$(deb_of nudged)" 2>/dev/null | head -1)
	[ -z "$newer" ] && stale=no
fi
if [ "$stale" = yes ]; then
	# DEB_TREE=DIR (passed on to make deb): build from another checkout
	if ! timeout 900 make -C "$SRC" deb ${DEB_TREE:+DEB_TREE="$DEB_TREE"} >"$WORK/make-deb.log" 2>&1; then
		fail "make deb" "$(tail -n 15 "$WORK/make-deb.log" | tr '\n' ' ')"
		exit 0
	fi
fi
pass "make deb: nudged and nudge packages in build/deb ($(basename "$(deb_of nudged)"), $(basename "$(deb_of nudge)"))"
if [ -f "$DEBS/lintian.log" ] && ! grep -q '^[EW]:' "$DEBS/lintian.log"; then
	pass "lintian: no errors or warnings"
else
	fail "lintian: no errors or warnings" "$(grep '^[EW]:' "$DEBS/lintian.log" 2>/dev/null | head -5 | tr '\n' ' ')"
fi
ver=$(dpkg-deb -f "$(deb_of nudged)" Version)
check "nudged package marks /etc/nudge/nudged.conf a conffile" \
	sh -c "dpkg-deb --ctrl-tarfile '$(deb_of nudged)' | tar -xO ./conffiles | grep -qx /etc/nudge/nudged.conf"

# ---- a clean Debian 12 root --------------------------------------------
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
mkdir -p "$R"
if [ ! -s "$CACHE" ]; then
	if ! command -v debootstrap >/dev/null; then
		echo "SKIP deb: debootstrap is not installed (make test-deps)"
		exit 0
	fi
	if ! timeout 900 debootstrap --variant=minbase bookworm "$R" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
		if grep -qiE "fail(ed)? (to )?(download|fetch|resolve)|couldn't download|Temporary failure|unable to connect|connection" "$WORK/debootstrap.log"; then
			echo "SKIP deb: debootstrap cannot reach the archive $mirror: $(grep -iE 'E:|W:' "$WORK/debootstrap.log" | head -2 | tr '\n' ' ')"
			exit 0
		fi
		fail "debootstrap bookworm" "$(tail -n 5 "$WORK/debootstrap.log" | tr '\n' ' ')"
		exit 0
	fi
	mkdir -p "$(dirname "$CACHE")"
	tar -C "$R" -czf "$CACHE.tmp" . && mv "$CACHE.tmp" "$CACHE"
else
	tar -C "$R" -xzf "$CACHE" || { fail "unpack the cached root" "$CACHE"; exit 0; }
fi
pass "clean Debian 12 (bookworm) minbase root"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null
# no service starts inside the root (there is no systemd running anyway)
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d" && chmod 755 "$R/usr/sbin/policy-rc.d"

# systemd (for systemd-analyze verify) comes in first, as part of the
# "before" picture: it is not one of our dependencies.
T=600 in_root apt-get update -qq >"$WORK/apt.log" 2>&1 &&
	T=600 in_root apt-get install -y -qq --no-install-recommends systemd >>"$WORK/apt.log" 2>&1
if [ $? -ne 0 ]; then
	if grep -qiE "Temporary failure|Could not resolve|Unable to connect|Failed to fetch" "$WORK/apt.log"; then
		echo "SKIP deb: apt in the root cannot reach the archive: $(grep -iE '^(E|W):' "$WORK/apt.log" | head -2 | tr '\n' ' ')"
		exit 0
	fi
	fail "apt-get in the root" "$(tail -n 5 "$WORK/apt.log" | tr '\n' ' ')"
	exit 0
fi

# Files of the root, bookkeeping and volatile places left out.
snapshot() {
	(cd "$R" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \
		-o -path ./tmp -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
		-o -path ./var/log -o -path ./root \) -prune -o -print | sed 's|^\.||' | sort)
}
snapshot >"$WORK/before"

# ---- install -------------------------------------------------------------
mkdir -p "$R/tmp/debs"
cp "$(deb_of nudged)" "$(deb_of nudge)" "$R/tmp/debs/"
if T=600 in_root apt-get install -y -qq /tmp/debs/"$(basename "$(deb_of nudged)")" \
	/tmp/debs/"$(basename "$(deb_of nudge)")" >"$WORK/install.log" 2>&1; then
	pass "apt-get install ./nudged.deb ./nudge.deb (dependencies from the archive)"
else
	fail "apt-get install the packages" "$(tail -n 8 "$WORK/install.log" | tr '\n' ' ')"
	exit 0
fi
expect_eq "nudged --version in the root" "$(in_root nudged --version 2>&1)" "nudged $ver"
out=$(in_root nudged --check-config 2>&1)
expect_eq "nudged --check-config reads /etc/nudge/nudged.conf" "$out" "/etc/nudge/nudged.conf: configuration ok"
in_root nudge --help >"$WORK/help.out" 2>&1
expect_eq "nudge --help exits 0" "$?" "0"
check "nudge --help prints the usage" grep -q "usage: nudge" "$WORK/help.out"
check "nudge-sim is installed" test -x "$R/usr/bin/nudge-sim"
for m in man8/nudged.8.gz man1/nudge.1.gz man5/nudge-rules.5.gz man1/nudge-sim.1.gz; do
	check "man page $m installed" test -s "$R/usr/share/man/$m"
done
check "system user nudge created" sh -c "grep -q '^nudge:' '$R/etc/passwd'"
check "service user has no login shell" sh -c "grep '^nudge:' '$R/etc/passwd' | grep -q 'nologin\|/bin/false'"
check "unit installed" test -f "$R/lib/systemd/system/nudged.service"
check "unit enabled by the package" test -L "$R/etc/systemd/system/multi-user.target.wants/nudged.service"

# a bad value in the installed file: file:line and 78
cp "$R/etc/nudge/nudged.conf" "$WORK/conf.orig"
printf '\n[http]\nmax_body = 1\n' >>"$R/etc/nudge/nudged.conf"
line=$(wc -l <"$R/etc/nudge/nudged.conf")
out=$(in_root nudged --check-config 2>&1)
rc=$?
expect_eq "a bad value in /etc/nudge/nudged.conf exits 78" "$rc" "78"
check "and names /etc/nudge/nudged.conf:$line" sh -c "printf '%s' \"\$1\" | grep -q '^/etc/nudge/nudged.conf:$line: max_body'" _ "$out"
cp "$WORK/conf.orig" "$R/etc/nudge/nudged.conf"

# ---- systemd-analyze verify on the installed unit ----------------------
if command -v systemd-analyze >/dev/null; then
	out=$(timeout 60 systemd-analyze verify --root="$R" --man=no /lib/systemd/system/nudged.service 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		pass "systemd-analyze verify nudged.service (in the root)"
	else
		fail "systemd-analyze verify nudged.service" "rc $rc: $out"
	fi
	sec=$(timeout 60 systemd-analyze security --root="$R" --offline=yes /lib/systemd/system/nudged.service 2>&1 | tail -1)
	case "$sec" in
	*"Overall exposure level"*) echo "note: $sec" ;;
	esac
	check "the unit is Type=notify with the service directories" sh -c "
		grep -qx 'Type=notify' '$R/lib/systemd/system/nudged.service' &&
		grep -qx 'StateDirectory=nudge' '$R/lib/systemd/system/nudged.service' &&
		grep -qx 'RuntimeDirectory=nudge' '$R/lib/systemd/system/nudged.service' &&
		grep -qx 'ConfigurationDirectory=nudge' '$R/lib/systemd/system/nudged.service'"
else
	fail "systemd-analyze verify" "systemd-analyze not installed"
fi

# ---- the agent as the service would run it -----------------------------
# What systemd does for the unit, done by hand: the directories, owned by
# the service user, named in the environment; READY=1 on NOTIFY_SOCKET.
mkdir -p "$R/run"
uid=$(awk -F: '$1 == "nudge" { print $3 }' "$R/etc/passwd")
gid=$(awk -F: '$1 == "nudge" { print $3 }' "$R/etc/group")
install -d -o "$uid" -g "$gid" -m 750 "$R/var/lib/nudge" "$R/run/nudge"
python3 - "$R/run/notify.sock" >"$WORK/notify.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o777)
s.settimeout(30)
try:
    while True:
        d = s.recv(4096).decode()
        print(d.replace("\n", " "), flush=True)
        if "STOPPING=1" in d:
            break
except Exception as e:
    print("timeout", e, flush=True)
PY
PIDS+=($!)
for _ in $(seq 1 30); do [ -S "$R/run/notify.sock" ] && break; sleep 0.1; done
pubport=$(free_port)
# journald names the stream by device:inode; the agent checks it is stderr
: >"$WORK/agent.log"
journal_stream=$(stat -c '%d:%i' "$WORK/agent.log")
chroot --userspec="$uid:$gid" "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin \
	STATE_DIRECTORY=/var/lib/nudge RUNTIME_DIRECTORY=/run/nudge NOTIFY_SOCKET=/run/notify.sock \
	JOURNAL_STREAM="$journal_stream" NUDGE_HTTP_LISTEN= NUDGE_AGENT_PUB="tcp://127.0.0.1:$pubport" \
	/usr/sbin/nudged --config /etc/nudge/nudged.conf >"$WORK/agent.log" 2>&1 &
apid=$!
PIDS+=($apid)
for _ in $(seq 1 50); do grep -q "READY=1" "$WORK/notify.out" && break; sleep 0.1; done
check "agent in the root sends READY=1 on NOTIFY_SOCKET" grep -q "READY=1" "$WORK/notify.out"
check "its sockets are in /run/nudge (RuntimeDirectory)" test -S "$R/run/nudge/ingest.sock"
out=$(in_root nudge emit purchase --visitor deb-1 --value 10 2>&1)
expect_eq "nudge emit as root reaches it through /run/nudge (the default)" "$out" "accepted 1, rejected 0"
check "journal-style log lines (<6>ready ..., no time stamp)" grep -q '^<6>ready' "$WORK/agent.log"
kill -TERM "$apid" 2>/dev/null
wait "$apid"
expect_eq "agent stops cleanly on SIGTERM" "$?" "0"
check "STOPPING=1 sent" grep -q "STOPPING=1" "$WORK/notify.out"
check "its database is in /var/lib/nudge (StateDirectory)" test -s "$R/var/lib/nudge/nudged.db"
rm -rf "$R/run/nudge" "$R/run/notify.sock" # systemd removes RuntimeDirectory at stop

# ---- remove, then purge --------------------------------------------------
leftovers() { # files now present that were not before, owned by no package
	snapshot >"$WORK/now"
	# merged /usr: dpkg lists /bin/kill, the file is found as /usr/bin/kill
	cat "$R"/var/lib/dpkg/info/*.list 2>/dev/null |
		sed -E 'p; s@^/(bin|sbin|lib|lib32|lib64|libx32)/@/usr/\1/@' | sort -u >"$WORK/owned"
	comm -13 "$WORK/before" "$WORK/now" | comm -23 - "$WORK/owned" | grep -vxE "$1" || true
}
# Allowed after remove: the conffile and its directory (dpkg keeps them
# until purge), the state directory, the user's entries' backups
# (/etc/passwd- ...), and deb-systemd-helper's memory of the enablement
# and its multi-user.target.wants link (kept so a reinstall keeps the
# administrator's choice; purge clears both).  Dependencies' sysvinit links
# (/etc/rcS.d/S01procps) are made by update-rc.d and belong to no list.
KEEP_RM='/etc/rc[0-6S]\.d/[SK][0-9]+[a-z-]+|/etc/systemd/system/multi-user\.target\.wants/nudged\.service|/etc/nudge|/etc/nudge/nudged.conf|/var/lib/nudge(/.*)?|/etc/(passwd|group|shadow|gshadow)-|/var/lib/systemd/deb-systemd-helper-(enabled|masked)(/.*)?|/etc/systemd/system/nudged.service'
KEEP_PURGE='/etc/rc[0-6S]\.d/[SK][0-9]+[a-z-]+|/etc/(passwd|group|shadow|gshadow)-|/var/lib/systemd/deb-systemd-helper-(enabled|masked)'
if in_root apt-get remove -y -qq nudged nudge >"$WORK/remove.log" 2>&1; then
	pass "apt-get remove nudged nudge"
else
	fail "apt-get remove" "$(tail -n 5 "$WORK/remove.log" | tr '\n' ' ')"
fi
left=$(leftovers "$KEEP_RM")
expect_eq "after remove nothing is left but the conffile and the state directory" "$left" ""
check "remove keeps the state directory" test -s "$R/var/lib/nudge/nudged.db"
check "remove keeps the conffile" test -f "$R/etc/nudge/nudged.conf"
if in_root dpkg --purge nudged nudge >"$WORK/purge.log" 2>&1; then
	pass "dpkg --purge nudged nudge"
else
	fail "dpkg --purge" "$(tail -n 5 "$WORK/purge.log" | tr '\n' ' ')"
fi
left=$(leftovers "$KEEP_PURGE")
expect_eq "after purge nothing is left (state directory and configuration gone)" "$left" ""
check "purge removes /var/lib/nudge" test ! -e "$R/var/lib/nudge"
check "purge removes /etc/nudge" test ! -e "$R/etc/nudge"
exit 0
