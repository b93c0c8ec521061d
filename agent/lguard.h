/*
 * lguard.h - keeps the agent's ipc:// listeners accepting.
 *
 * Debian's nng 1.5.2 stops an ipc listener for good when a peer hangs up
 * during the SP handshake (nng #1518, fixed after 1.5.2): one connect and
 * close on the control socket, or a console whose call timed out on a
 * frozen agent, and the socket never answers anyone again.  (The handshake
 * of later peers still completes; the listener just no longer hands them
 * to its socket.)  TCP listeners recover by themselves.  So every ipc
 * listener made here is probed by a guard thread: each LGUARD_PERIOD_MS a
 * socket of the peer protocol dials each one (all at once), and nng's
 * "accept" statistic of the listener must move within LGUARD_WAIT_MS.
 * Those that miss are probed again at once; a listener that misses twice
 * (while the guard itself was not frozen) is closed and made again:
 * within about 5 s of the hang-up, however many broke.  Peers it had
 * connected are dropped with it and redial.
 */
#ifndef NUDGE_LGUARD_H
#define NUDGE_LGUARD_H

#include <nng/nng.h>

#define LGUARD_PERIOD_MS 2000
#define LGUARD_WAIT_MS 1500

/*
 * Listens on url (tlsconf_listen); an ipc:// one gets mode 0660 and is
 * guarded.  Returns 0 or an nng error.
 */
int lguard_listen(nng_socket s, const char *url);

/* Stops the guard thread (before the guarded sockets are closed). */
void lguard_stop(void);

#endif
