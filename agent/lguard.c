/*
 * lguard.c - the ipc listener guard (see lguard.h).
 *
 * Owns the table of guarded listeners and the guard thread.  lg.mu guards
 * the table (entries are only appended while the thread runs) and the stop
 * flag, and is never held across an nng call.
 */
#include "lguard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "log.h"
#include "reaper.h"
#include "tlsconf.h"

#define LGUARD_MAX 16
#define LGUARD_POLL_MS 20

struct lguard_entry {
	nng_socket sock;
	nng_listener l;
	int (*open_peer)(nng_socket *);
	char url[256];
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* stop */
	bool running, stop;
	pthread_t thread;
	unsigned n;
	struct lguard_entry e[LGUARD_MAX];
} lg = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t lg_once = PTHREAD_ONCE_INIT;

/* lg.cv on the monotonic clock, which lguard_wait's deadlines use. */
static void
lguard_init(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lg.cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* The protocol that dials a listening socket, from its peer's name. */
static int (*peer_opener(nng_socket s))(nng_socket *)
{
	char *name = NULL;
	int (*open)(nng_socket *) = NULL;

	if (nng_socket_get_string(s, NNG_OPT_PEERNAME, &name) != 0)
		return NULL;
	if (strcmp(name, "req") == 0)
		open = nng_req0_open;
	else if (strcmp(name, "push") == 0)
		open = nng_push0_open;
	else if (strcmp(name, "sub") == 0)
		open = nng_sub0_open;
	nng_strfree(name);
	return open;
}

/* Waits on lg.cv until ms have passed or stop (lg.mu held). */
static void
lguard_wait(uint64_t ms)
{
	struct timespec ts;

	clock_mono_deadline(&ts, ms);
	pthread_cond_timedwait(&lg.cv, &lg.mu, &ts);
}

enum probe_result { PROBE_UP, PROBE_MISS, PROBE_UNSURE };

/* The "accept" of the listener scope whose id is id, under s. */
static nng_stat *
lguard_find_accept(nng_stat *s, int id)
{
	for (; s != NULL; s = nng_stat_next(s)) {
		nng_stat *idst, *found;

		if (nng_stat_type(s) == NNG_STAT_SCOPE &&
		    strcmp(nng_stat_name(s), "listener") == 0 &&
		    (idst = nng_stat_find(s, "id")) != NULL &&
		    nng_stat_value(idst) == (uint64_t)id)
			return nng_stat_find(s, "accept");
		if ((found = lguard_find_accept(nng_stat_child(s), id)) != NULL)
			return found;
	}
	return NULL;
}

/*
 * Connections the listener handed to its socket (nng's "accept" statistic;
 * UINT64_MAX if unknown), from a snapshot of the statistics.  A broken
 * listener still completes handshakes: what stops is the handing over, so
 * that is what a probe looks at.  (nng_stat_find_listener() of 1.5.2 does
 * not find the listener's scope: the walk is ours.)
 */
static uint64_t
lguard_accepted(nng_stat *all, nng_listener l)
{
	nng_stat *st = lguard_find_accept(all, nng_listener_id(l));

	return st != NULL ? nng_stat_value(st) : UINT64_MAX;
}

struct lguard_probe {
	unsigned i;		/* the entry */
	struct lguard_entry e;	/* its copy */
	uint64_t before;
	nng_socket p;
	bool dialled, handed;
	enum probe_result r;
};

/*
 * Dials every probe's listener at once and waits until each handed its
 * probe to its socket, LGUARD_WAIT_MS at most: a round costs that however
 * many listeners are broken.  UNSURE when a probe could not even start,
 * without the statistic, on stop, or when the wait took far longer than
 * asked (the process was frozen: the listener had no chance to answer).
 */
static void
lguard_round(struct lguard_probe *pr, unsigned n)
{
	uint64_t t0 = clock_mono_ms(), waited;
	unsigned left = 0;
	nng_stat *all;

	if (nng_stats_get(&all) != 0)
		all = NULL;
	for (unsigned k = 0; k < n; k++) {
		struct lguard_probe *q = &pr[k];

		q->r = PROBE_UNSURE;
		q->handed = q->dialled = false;
		q->p = (nng_socket)NNG_SOCKET_INITIALIZER;
		q->before = all != NULL ? lguard_accepted(all, q->e.l) :
		    UINT64_MAX;
		if (q->before == UINT64_MAX || q->e.open_peer(&q->p) != 0) {
			q->p = (nng_socket)NNG_SOCKET_INITIALIZER;
			continue;
		}
		nng_socket_set_ms(q->p, NNG_OPT_RECONNMINT, LGUARD_WAIT_MS);
		q->dialled = nng_dial(q->p, q->e.url, NULL,
		    NNG_FLAG_NONBLOCK) == 0;
		left += q->dialled;
	}
	if (all != NULL)
		nng_stats_free(all);
	pthread_mutex_lock(&lg.mu);
	while (left > 0 && !lg.stop && clock_mono_ms() - t0 < LGUARD_WAIT_MS) {
		lguard_wait(LGUARD_POLL_MS);
		pthread_mutex_unlock(&lg.mu);
		if (nng_stats_get(&all) == 0) {
			for (unsigned k = 0; k < n; k++) {
				struct lguard_probe *q = &pr[k];
				if (q->dialled && !q->handed &&
				    lguard_accepted(all, q->e.l) > q->before) {
					q->handed = true;
					left--;
				}
			}
			nng_stats_free(all);
		}
		pthread_mutex_lock(&lg.mu);
	}
	waited = clock_mono_ms() - t0;
	for (unsigned k = 0; k < n; k++) {
		struct lguard_probe *q = &pr[k];
		if (q->handed)
			q->r = PROBE_UP;
		else if (q->dialled && !lg.stop && waited < 2 * LGUARD_WAIT_MS)
			q->r = PROBE_MISS;
	}
	pthread_mutex_unlock(&lg.mu);
	/* a close mid-dial can hang in nng 1.5.2 (reaper.h) */
	for (unsigned k = 0; k < n; k++)
		if (pr[k].p.id != 0)
			reaper_close(pr[k].p);
}

/* Closes e's listener and makes it again; e is the guard's copy. */
static void
lguard_relisten(struct lguard_entry *e)
{
	nng_listener l;
	int rv;

	nng_listener_close(e->l);
	if ((rv = nng_listen(e->sock, e->url, &l, 0)) != 0) {
		log_error("%s: stopped accepting and cannot listen again: %s",
		    e->url, nng_strerror(rv));
		return;
	}
	e->l = l;
	chmod(e->url + strlen("ipc://"), 0660);
	log_warn("%s: stopped accepting (nng 1.5.2 after a peer hung up "
	    "mid-handshake, nng #1518); listening again", e->url);
}

/*
 * Probes every listener; those that missed are probed again at once (one
 * slow handover is no proof), and those that missed twice made again.
 */
static void
lguard_check(void)
{
	struct lguard_probe pr[LGUARD_MAX];
	unsigned n, again = 0;

	memset(pr, 0, sizeof(pr));
	pthread_mutex_lock(&lg.mu);
	n = lg.n;
	for (unsigned i = 0; i < n; i++) {
		pr[i].i = i;
		pr[i].e = lg.e[i];
	}
	pthread_mutex_unlock(&lg.mu);
	lguard_round(pr, n);
	for (unsigned k = 0; k < n; k++)
		if (pr[k].r == PROBE_MISS)
			pr[again++] = pr[k];
	if (again > 0)
		lguard_round(pr, again);
	for (unsigned k = 0; k < again; k++) {
		if (pr[k].r != PROBE_MISS)
			continue;
		lguard_relisten(&pr[k].e);
		pthread_mutex_lock(&lg.mu);
		lg.e[pr[k].i].l = pr[k].e.l;
		pthread_mutex_unlock(&lg.mu);
	}
}

static void *
lguard_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lg.mu);
	while (!lg.stop) {
		lguard_wait(LGUARD_PERIOD_MS);
		if (lg.stop)
			break;
		pthread_mutex_unlock(&lg.mu);
		lguard_check();
		pthread_mutex_lock(&lg.mu);
	}
	pthread_mutex_unlock(&lg.mu);
	return NULL;
}

/* Adds a started ipc listener to the table, starting the thread once. */
static void
lguard_add(nng_socket s, nng_listener l, const char *url)
{
	int (*open_peer)(nng_socket *) = peer_opener(s);
	struct lguard_entry *e;

	if (open_peer == NULL)
		return;
	pthread_once(&lg_once, lguard_init);
	pthread_mutex_lock(&lg.mu);
	if (lg.n < LGUARD_MAX) {
		e = &lg.e[lg.n++];
		e->sock = s;
		e->l = l;
		e->open_peer = open_peer;
		snprintf(e->url, sizeof(e->url), "%s", url);
		if (!lg.running) {
			lg.stop = false;
			lg.running = pthread_create(&lg.thread, NULL,
			    lguard_thread, NULL) == 0;
		}
	}
	pthread_mutex_unlock(&lg.mu);
}

int
lguard_listen(nng_socket s, const char *url)
{
	nng_listener l;
	int rv;

	if (strncmp(url, "ipc://", 6) != 0 ||
	    strlen(url) >= sizeof(lg.e[0].url))
		return tlsconf_listen(s, url);
	if ((rv = nng_listen(s, url, &l, 0)) != 0)
		return rv;
	chmod(url + strlen("ipc://"), 0660);
	lguard_add(s, l, url);
	return 0;
}

void
lguard_stop(void)
{
	bool joined;

	pthread_once(&lg_once, lguard_init);
	pthread_mutex_lock(&lg.mu);
	lg.stop = true;
	joined = lg.running;
	lg.running = false;
	pthread_cond_broadcast(&lg.cv);
	pthread_mutex_unlock(&lg.mu);
	if (joined)
		pthread_join(lg.thread, NULL);
	pthread_mutex_lock(&lg.mu);
	lg.n = 0;
	pthread_mutex_unlock(&lg.mu);
}
