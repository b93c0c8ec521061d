# Shared helpers for the console tests: the real nudge in a real terminal
# (tmux).  Source it; a test that sets TMUX_SOCKET gets its own tmux
# server (and kills it on exit), otherwise the user's default one.
#
# Why a settled capture: ncurses sends a frame in several writes and tmux
# answers capture-pane between its reads, so one capture can hold half a
# frame.  A test that waited for one line and then read another from the
# same capture saw the first line of a new frame beside the rest of the
# old one (heat.sh: the map's header without its last rows).  Two
# captures a moment apart that agree are a whole frame.

tm() { tmux ${TMUX_SOCKET:+-L "$TMUX_SOCKET"} "$@"; }

# tm_screen TARGET FILE: TARGET's pane as text into FILE, once two
# captures 30 ms apart agree; a screen that never holds still that long
# (10 tries) is taken as last seen, which is no worse than one capture.
tm_screen() {
	local i
	tm capture-pane -p -t "$1" >"$2" 2>/dev/null
	for i in 1 2 3 4 5 6 7 8 9 10; do
		cp "$2" "$2.prev"
		sleep 0.03
		tm capture-pane -p -t "$1" >"$2" 2>/dev/null
		cmp -s "$2" "$2.prev" && break
	done
	rm -f "$2.prev"
}

# tm_wait TARGET FILE SECONDS PATTERN...: until every grep -E PATTERN is
# on the screen (FILE then holds it); 1 when SECONDS pass first.
tm_wait() {
	local target=$1 file=$2 end=$((SECONDS + $3)) p ok
	shift 3
	while :; do
		tm_screen "$target" "$file"
		ok=1
		for p in "$@"; do
			grep -Eq -- "$p" "$file" || { ok=0; break; }
		done
		[ "$ok" = 1 ] && return 0
		[ "$SECONDS" -gt "$end" ] && return 1
		sleep 0.2
	done
}

# tm_expect TARGET FILE SECONDS PATTERN...: tm_wait, and when it fails the
# screen it last saw, indented so that no line of it reads as a result.
tm_expect() {
	tm_wait "$@" && return 0
	echo "    --- screen of $1 (waiting for ${*:4})"
	sed 's/^/    | /' "$2"
	return 1
}

# tm_gone TARGET FILE SECONDS PATTERN: until PATTERN is not on the screen.
tm_gone() {
	local end=$((SECONDS + $3))
	while :; do
		tm_screen "$1" "$2"
		grep -Eq -- "$4" "$2" || return 0
		[ "$SECONDS" -gt "$end" ] && return 1
		sleep 0.2
	done
}

if [ -n "${TMUX_SOCKET:-}" ]; then
	trap 'tm kill-server >/dev/null 2>&1; cleanup' EXIT
fi
