#!/bin/sh
# embed.sh TAG.js > web_tag.c: the browser tag as C arrays, plain and
# gzip -9 (precomputed, so serving it costs no compression), for
# agent/web_tag.h.  embed.sh --stripped TAG.js prints the served text.
# Only POSIX sh, sed, gzip and od: no xxd needed.
set -eu
mode=c
if [ "$1" = --stripped ]; then
	mode=text
	shift
fi
src=$1
arr() { # name < bytes
	echo "const unsigned char $1[] = {"
	od -An -v -tx1 | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/\t/'
	echo "};"
}
# The served tag: indentation, blank lines and whole-line // comments go,
# and the spaces of a few operator spellings.  nudge.js therefore keeps
# these spellings out of its string and regex literals: "function (",
# ") {", " || ", " && ", " = ", " == ", " + " (the browser tests run the
# served text, and tests/integration/tag_size.sh checks the literals).
strip() {
	sed -e 's/^[[:space:]]*//' -e '/^\/\//d' -e '/^$/d' \
	    -e 's/function (/function(/g' -e 's/) {/){/g' \
	    -e 's/ || /||/g' -e 's/ && /\&\&/g' -e 's/ == /==/g' \
	    -e 's/ = /=/g' -e 's/ + /+/g' "$1"
}
if [ $mode = text ]; then
	strip "$src"
	exit 0
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
strip "$src" >"$tmp"
echo "/* Generated from $src by agent/web/embed.sh: do not edit. */"
echo '#include "web_tag.h"'
arr web_tag_js <"$tmp"
echo "const size_t web_tag_js_len = sizeof(web_tag_js);"
gzip -9 -n -c "$tmp" | arr web_tag_js_gz
echo "const size_t web_tag_js_gz_len = sizeof(web_tag_js_gz);"
