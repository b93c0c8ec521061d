/*
 * reaper.h - closing nng sockets without risking the caller's thread.
 *
 * Debian's nng 1.5.2 can deadlock in nng_close() when a socket is closed
 * while its dialer is connecting or retrying (nng #1543, fixed after 1.5.2;
 * seen here when a console closes the link of an absent agent).  A console
 * or CLI must never freeze on that, so sockets of dialers are closed on a
 * detached thread.  A close that never returns costs one sleeping thread,
 * and is counted so it can be shown.  Any thread may call these.
 */
#ifndef NUDGE_REAPER_H
#define NUDGE_REAPER_H

#include <nng/nng.h>

/* Closes s on a detached thread (or inline if no thread can be made). */
void reaper_close(nng_socket s);

/* Closes still running; > 0 for long means nng is stuck in one. */
unsigned reaper_pending(void);

#endif
