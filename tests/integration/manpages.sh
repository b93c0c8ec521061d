#!/usr/bin/env bash
# The man pages (packaging/man) against the programs' --help: every long
# option nudged and nudge-sim print, and every subcommand and global flag
# nudge prints, is in the matching page; every page renders with groff and
# man without a warning and has a NAME line whatis can read; the example
# in nudge-rules(5) compiles.
. "$(dirname "$0")/lib/common.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
MAN=$SRC/packaging/man

# The page's text with roff's \- turned back into -, fonts dropped.
page_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(ti/~/g' "$1"; }

# long_opts PROGRAM: every --option at the start of a --help line.
long_opts() {
	"$@" --help 2>&1 | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

missing_opts() { # PAGE PROGRAM...
	local page=$1 o
	shift
	for o in $(long_opts "$@"); do
		page_text "$page" | grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|$)" || printf '%s ' "$o"
	done
}

n=$(long_opts "$BUILD/nudged" | wc -l)
check "nudged --help lists long options ($n)" test "$n" -ge 10
m=$(missing_opts "$MAN/nudged.8" "$BUILD/nudged")
expect_eq "every nudged --help option is in nudged.8" "$m" ""

n=$(long_opts "$BUILD/nudge-sim" | wc -l)
check "nudge-sim --help lists long options ($n)" test "$n" -ge 10
m=$(missing_opts "$MAN/nudge-sim.1" "$BUILD/nudge-sim")
expect_eq "every nudge-sim --help option is in nudge-sim.1" "$m" ""

# nudge: "  nudge CMD [SUB|SUB...] ..." lines name the subcommands (a
# second word in lower case, or a|b|c, names sub-subcommands); "  --flag"
# lines are the global flags.
"$BUILD/nudge" --help >"$WORK/nudge.help" 2>&1
cmds=$(grep -E '^ +nudge [a-z]' "$WORK/nudge.help" | awk '{
	if ($3 ~ /^[a-z][a-z|-]*$/) { n = split($3, alt, "|"); for (i = 1; i <= n; i++) print $2 " " alt[i] }
	else print $2 }' | sort -u)
check "nudge --help lists subcommands ($(echo "$cmds" | tr '\n' ,))" test -n "$cmds"
m=""
while read -r c; do
	[ -n "$c" ] || continue
	# a subcommand is a tag (.TP then .B CMD ...) of the COMMANDS section
	page_text "$MAN/nudge.1" | grep -qE "^\.B $c( |$)" || m="$m[$c] "
done <<<"$cmds"
expect_eq "every nudge subcommand is described in nudge.1" "$m" ""
m=""
for o in $(grep -oE '^ +--[a-z][a-z-]*' "$WORK/nudge.help" | tr -d ' ' | sort -u); do
	page_text "$MAN/nudge.1" | grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|$)" || m="$m$o "
done
expect_eq "every nudge global flag is in nudge.1" "$m" ""
# the exit codes of nudge --help are the page's
m=""
for code in 0 1 2 3 4 5; do
	grep -qE "^ +$code " "$WORK/nudge.help" || continue
	page_text "$MAN/nudge.1" | grep -qxF ".B $code" || m="$m$code "
done
expect_eq "every nudge exit code is in nudge.1" "$m" ""

for p in "$MAN"/*.[1-8]; do
	name=$(basename "$p")
	w=$(groff -man -Tutf8 -ww -z "$p" 2>&1)
	expect_eq "$name: groff -man -ww renders without warnings" "$w" ""
	if command -v man >/dev/null; then
		w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$p" 2>&1 >/dev/null)
		expect_eq "$name: man --warnings -l renders without warnings" "$w" ""
	fi
	if command -v lexgrog >/dev/null; then
		check "$name: NAME section readable by whatis (lexgrog)" sh -c "lexgrog \"\$1\" >/dev/null" _ "$p"
	fi
	th=$(grep -m1 '^\.TH' "$p" | awk '{ print $3 }')
	expect_eq "$name: .TH section matches the file name" "$th" "${name##*.}"
done

# The example of nudge-rules(5) is a valid rule file.
sed -n '/^\.SH EXAMPLE/,/^\.fi/p' "$MAN/nudge-rules.5" | sed '1,2d;$d' |
	sed -e 's/\\(ti/~/g' -e 's/\\-/-/g' >"$WORK/example.rules"
"$BUILD/nudge" rules check "$WORK/example.rules" >"$WORK/rc.out" 2>&1
expect_eq "the nudge-rules(5) example compiles" "$?" "0"
exit 0
