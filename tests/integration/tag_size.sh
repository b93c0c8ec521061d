#!/usr/bin/env bash
# The tag's budget: under 4 KB gzipped as served, and stripping for
# serving leaves every string and regex literal as written.
. "$(dirname "$0")/lib/common.sh"
case "$BUILD" in */san) exit 0 ;; esac # one run is enough
src=agent/web/nudge.js
size=$(sh agent/web/embed.sh --stripped "$src" | gzip -9 -n | wc -c)
check "tag is under 4 KiB gzipped ($size bytes)" test "$size" -lt 4096
literals() { grep -oE "'([^'\\\\]|\\\\.)*'|/\^?\[[^]]*\][^/]*/|/\(\?[^/]*/" ; }
n=$(sed -e 's/^[[:space:]]*//' -e '/^\/\//d' "$src" | literals | wc -l)
check "literals found to compare ($n)" test "$n" -gt 30
expect_eq "serving keeps the string and regex literals" \
	"$(sh agent/web/embed.sh --stripped "$src" | literals | md5sum)" \
	"$(sed -e 's/^[[:space:]]*//' -e '/^\/\//d' "$src" | literals | md5sum)"
node -e "new Function(require('fs').readFileSync(0, 'utf8'))" \
	< <(sh agent/web/embed.sh --stripped "$src")
expect_eq "the served tag parses" "$?" "0"
exit 0
