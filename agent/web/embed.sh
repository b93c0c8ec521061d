#!/bin/sh
# embed.sh TAG.js > web_tag.c: the browser tag as C arrays, plain and
# gzip -9 (precomputed, so serving it costs no compression), for
# agent/web_tag.h.  Only POSIX sh, gzip and od: no xxd needed.
set -eu
src=$1
arr() { # name < bytes
	echo "const unsigned char $1[] = {"
	od -An -v -tx1 | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/\t/'
	echo "};"
}
# The served tag: indentation, blank lines and whole-line // comments go.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sed -e 's/^[[:space:]]*//' -e '/^\/\//d' -e '/^$/d' "$src" >"$tmp"
echo "/* Generated from $src by agent/web/embed.sh: do not edit. */"
echo '#include "web_tag.h"'
arr web_tag_js <"$tmp"
echo "const size_t web_tag_js_len = sizeof(web_tag_js);"
gzip -9 -n -c "$tmp" | arr web_tag_js_gz
echo "const size_t web_tag_js_gz_len = sizeof(web_tag_js_gz);"
