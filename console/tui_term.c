/*
 * tui_term.c - decides whether the terminal can run the TUI, before
 * ncurses takes it over.  Kept apart because <term.h> defines macros with
 * common names (lines, columns, ...).  Main thread, before initscr().
 */
#include "tui.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <curses.h>
#include <term.h>

bool
tui_term_usable(char *why, size_t cap)
{
	const char *term = getenv("TERM");
	char *cup;
	int err = 0;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		snprintf(why, cap, "not a terminal");
		return false;
	}
	if (term == NULL || term[0] == '\0') {
		snprintf(why, cap, "TERM is not set");
		return false;
	}
	if (setupterm(NULL, STDOUT_FILENO, &err) != OK) {
		snprintf(why, cap, "unknown terminal type '%s'", term);
		return false;
	}
	cup = tigetstr("cup");
	del_curterm(cur_term);
	if (cup == NULL || cup == (char *)-1) {
		snprintf(
		    why, cap, "terminal '%s' cannot move the cursor", term);
		return false;
	}
	return true;
}
