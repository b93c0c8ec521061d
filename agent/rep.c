/*
 * rep.c - REP socket served by nng contexts and aio callbacks.
 *
 * Owns the socket, its contexts and aios.  Callbacks run on nng's task
 * threads; each worker touches only its own state, and the handler is
 * responsible for its own locking (the session table and store lock
 * themselves).
 */
#include "rep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nng/protocol/reqrep0/rep.h>

#include "err.h"
#include "lguard.h"
#include "log.h"

enum rep_state {
	REP_RECV,
	REP_SEND
};

struct rep_worker {
	struct rep_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	enum rep_state state;
};

struct rep_server {
	nng_socket sock;
	rep_handler handler;
	void *arg;
	unsigned n;
	struct rep_worker *w;
};

static void
rep_callback(void *arg)
{
	struct rep_worker *w = arg;
	int rv = nng_aio_result(w->aio);
	nng_msg *msg, *reply = NULL;

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (w->state == REP_SEND) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(w->aio));
		w->state = REP_RECV;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	if (rv != 0) {
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	msg = nng_aio_get_msg(w->aio);
	w->srv->handler(w->srv->arg, nng_msg_body(msg), nng_msg_len(msg),
	    &reply);
	nng_msg_free(msg);
	if (reply == NULL) {
		/* the handler could not even allocate: drop, client retries */
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	nng_aio_set_msg(w->aio, reply);
	w->state = REP_SEND;
	nng_ctx_send(w->ctx, w->aio);
}

static int
ipc_prepare(const char *url)
{
	char dir[512];
	const char *path = url + strlen("ipc://");
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
rep_listen(nng_socket sock, const char *url, struct nudge_diag *d)
{
	bool ipc = strncmp(url, "ipc://", 6) == 0;
	int rv;

	if (ipc && ipc_prepare(url) != 0) {
		nudge_diag_set(d, 0, 0, "%s: cannot create its directory: %s",
		    url, strerror(errno));
		return NUDGE_ECONN;
	}
	/* tls+tcp:// gets the agent's certificate (tlsconf.h); ipc:// is
	 * guarded against nng #1518 and made 0660 (lguard.h) */
	rv = lguard_listen(sock, url);
	if (rv != 0) {
		nudge_diag_set(d, 0, 0, "cannot listen on %s: %s", url,
		    nng_strerror(rv));
		return NUDGE_ECONN;
	}
	return 0;
}

static void
rep_release(struct rep_server *s)
{
	nng_close(s->sock);
	for (unsigned i = 0; i < s->n; i++) {
		if (s->w[i].aio != NULL) {
			nng_aio_stop(s->w[i].aio);
			nng_aio_free(s->w[i].aio);
		}
	}
	free(s->w);
	free(s);
}

int
rep_start(struct rep_server **out, const char *url, unsigned workers,
    size_t max_bytes, rep_handler handler, void *arg, struct nudge_diag *d)
{
	struct rep_server *s = calloc(1, sizeof(*s));
	int rv;

	if (s == NULL || (s->w = calloc(workers, sizeof(*s->w))) == NULL) {
		free(s);
		return NUDGE_ENOMEM;
	}
	s->handler = handler;
	s->arg = arg;
	s->n = workers;
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		nudge_diag_set(d, 0, 0, "rep socket: %s", nng_strerror(rv));
		free(s->w);
		free(s);
		return NUDGE_ECONN;
	}
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, max_bytes);
	for (unsigned i = 0; i < workers; i++) {
		struct rep_worker *w = &s->w[i];
		w->srv = s;
		if (nng_aio_alloc(&w->aio, rep_callback, w) != 0 ||
		    nng_ctx_open(&w->ctx, s->sock) != 0) {
			nudge_diag_set(d, 0, 0, "rep context: out of memory");
			rep_release(s);
			return NUDGE_ENOMEM;
		}
	}
	if ((rv = rep_listen(s->sock, url, d)) != 0) {
		rep_release(s);
		return rv;
	}
	for (unsigned i = 0; i < workers; i++) {
		s->w[i].state = REP_RECV;
		nng_ctx_recv(s->w[i].ctx, s->w[i].aio);
	}
	*out = s;
	return 0;
}

void
rep_stop(struct rep_server *s)
{
	if (s != NULL)
		rep_release(s);
}
