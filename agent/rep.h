/*
 * rep.h - a request/reply server on one nng REP socket, served by a few
 * contexts in parallel (nng aio callbacks, no thread of our own).
 *
 * Worker state machine, per context (rep.c makes each transition in
 * rep_callback):
 *
 *	RECV --request--> handler() --> SEND --sent/failed--> RECV
 *	  \--error: re-arm RECV          any --NNG_ECLOSED--> (stopped)
 *
 * The handler runs on an nng worker thread; it must always produce a reply
 * message (an error reply for bad input), so a client is never left
 * waiting.
 */
#ifndef NUDGE_REP_H
#define NUDGE_REP_H

#include <stddef.h>

#include <nng/nng.h>

struct rep_server;

/* Builds the reply to req (len bytes) into a new message *reply. */
typedef void (*rep_handler)(void *arg, const void *req, size_t len,
    nng_msg **reply);

/*
 * Listens on url (creating an ipc:// socket's directory if needed) with
 * `workers` contexts.  Sets NNG_OPT_RECVMAXSZ to max_bytes.  Returns 0 or
 * NUDGE_ECONN with d->msg saying which URL failed and why.
 */
struct nudge_diag;
int rep_start(struct rep_server **out, const char *url, unsigned workers,
    size_t max_bytes, rep_handler handler, void *arg, struct nudge_diag *d);
/* Closes the socket and waits for every callback to finish. */
void rep_stop(struct rep_server *s);

/*
 * Shared by every listener of the agent: listens on url; for ipc:// makes
 * the directory (0750) and, since a socket file lets anyone who can reach
 * it talk to the agent, restricts the socket to owner and group.
 */
int rep_listen(nng_socket sock, const char *url, struct nudge_diag *d);

#endif
