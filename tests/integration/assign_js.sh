#!/usr/bin/env bash
# Campaign assignment in C and in the tag's JavaScript agree: the C
# buckets and variants of 100,000 visitor ids under several plans
# (build/tools/assign_dump) recomputed with nudgeAssign from
# agent/web/nudge.js in node (tests/browser/assign.mjs).  No agent, no
# browser.  Prints PASS/FAIL lines; exits 0.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

command -v node >/dev/null || { fail assign_js "node not installed (make test-deps)"; exit 0; }
[ -x "$BUILD/tools/assign_dump" ] || { fail assign_js "$BUILD/tools/assign_dump not built (make tests)"; exit 0; }
if ! "$BUILD/tools/assign_dump" >"$WORK/dump.txt" 2>"$WORK/dump.err"; then
	fail assign_js "assign_dump failed: $(head -3 "$WORK/dump.err")"
	exit 0
fi
node "$ROOT/tests/browser/assign.mjs" "$WORK/dump.txt" 2>"$WORK/node.err" ||
	[ ! -s "$WORK/node.err" ] || fail assign_js "node: $(tail -3 "$WORK/node.err")"
exit 0
