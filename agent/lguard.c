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
#define LGUARD_MISSES 2
#define LGUARD_POLL_MS 20

struct lguard_entry {
	nng_socket sock;
	nng_listener l;
	int (*open_peer)(nng_socket *);
	unsigned misses;
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
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + ms * 1000000ull;
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	pthread_cond_timedwait(&lg.cv, &lg.mu, &ts);
}

enum probe_result { PROBE_UP, PROBE_MISS, PROBE_UNSURE };

/*
 * Connections the listener handed to its socket (nng's "accept" statistic;
 * UINT64_MAX if unknown).  A broken listener still completes handshakes:
 * what stops is the handing over, so that is what a probe looks at.
 */
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
 * UINT64_MAX if unknown).  A broken listener still completes handshakes:
 * what stops is the handing over, so that is what a probe looks at.
 * (nng_stat_find_listener() of 1.5.2 does not find the listener's scope:
 * the walk is ours.)
 */
static uint64_t
lguard_accepted(nng_listener l)
{
	nng_stat *all, *st;
	uint64_t n = UINT64_MAX;

	if (nng_stats_get(&all) != 0)
		return n;
	if ((st = lguard_find_accept(all, nng_listener_id(l))) != NULL)
		n = nng_stat_value(st);
	nng_stats_free(all);
	return n;
}

/*
 * Dials the listener of e and waits until it hands the probe's connection
 * to its socket.  UNSURE when the probe could not even start, without the
 * statistic, on stop, or when the wait took far longer than asked (the
 * process was frozen: the listener had no chance to answer).
 */
static enum probe_result
lguard_probe(const struct lguard_entry *e)
{
	enum probe_result r = PROBE_UNSURE;
	uint64_t before = lguard_accepted(e->l), t0, waited;
	bool dialled, handed = false;
	nng_socket p;

	if (before == UINT64_MAX || e->open_peer(&p) != 0)
		return PROBE_UNSURE;
	nng_socket_set_ms(p, NNG_OPT_RECONNMINT, LGUARD_WAIT_MS);
	t0 = clock_mono_ms();
	dialled = nng_dial(p, e->url, NULL, NNG_FLAG_NONBLOCK) == 0;
	pthread_mutex_lock(&lg.mu);
	while (dialled && !lg.stop && clock_mono_ms() - t0 < LGUARD_WAIT_MS) {
		pthread_mutex_unlock(&lg.mu);
		handed = lguard_accepted(e->l) > before;
		pthread_mutex_lock(&lg.mu);
		if (handed)
			break;
		lguard_wait(LGUARD_POLL_MS);
	}
	waited = clock_mono_ms() - t0;
	if (handed)
		r = PROBE_UP;
	else if (dialled && !lg.stop && waited < 2 * LGUARD_WAIT_MS)
		r = PROBE_MISS;
	pthread_mutex_unlock(&lg.mu);
	/* a close mid-dial can hang in nng 1.5.2 (reaper.h) */
	reaper_close(p);
	return r;
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

/* Probes entry i once, and makes its listener again after the misses. */
static void
lguard_check(unsigned i)
{
	struct lguard_entry e;
	enum probe_result r;

	pthread_mutex_lock(&lg.mu);
	e = lg.e[i];
	pthread_mutex_unlock(&lg.mu);
	/* a miss is probed again at once: one slow handover is no proof */
	do {
		r = lguard_probe(&e);
		if (r == PROBE_UP)
			e.misses = 0;
		else if (r == PROBE_MISS)
			e.misses++;
	} while (r == PROBE_MISS && e.misses < LGUARD_MISSES);
	if (e.misses >= LGUARD_MISSES) {
		lguard_relisten(&e);
		e.misses = 0;
	}
	pthread_mutex_lock(&lg.mu);
	lg.e[i].l = e.l;
	lg.e[i].misses = e.misses;
	pthread_mutex_unlock(&lg.mu);
}

static void *
lguard_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lg.mu);
	while (!lg.stop) {
		lguard_wait(LGUARD_PERIOD_MS);
		for (unsigned i = 0; i < lg.n && !lg.stop; i++) {
			pthread_mutex_unlock(&lg.mu);
			lguard_check(i);
			pthread_mutex_lock(&lg.mu);
		}
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
		e->misses = 0;
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
