/*
 * tui.h - the interactive console's terminal checks.  The TUI itself is
 * cli_tui() (cli.h); its views plug in through view.h.
 */
#ifndef NUDGE_TUI_H
#define NUDGE_TUI_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether stdin and stdout are a terminal that can address the cursor
 * (terminfo "cup"): TERM=dumb passes newterm() yet cannot draw a screen.
 * On false, why says what is missing.
 */
bool tui_term_usable(char *why, size_t cap);

#endif
