/*
 * tarpit.c - a FIFO ring of suspended connections and the thread that
 * resumes each when its hold is over (see tarpit.h).
 *
 * Owns the ring; the connections belong to the server.  One mutex guards
 * everything; the thread waits on a condition variable on the monotonic
 * clock for the head's due time, a push into an empty ring or close.
 * Resumes happen without the lock, so a server that takes its own locks
 * inside resume can never deadlock against tarpit_hold.
 */
#include "tarpit.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

struct tarpit_entry {
	void *conn;
	uint64_t due_ms;
};

struct tarpit {
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* the thread: work or close */
	pthread_cond_t gone;	/* tarpit_close: a release */
	pthread_t thread;
	bool thread_ok, closed, quit;
	tarpit_conn_fn suspend, resume;
	uint64_t hold_ms;
	size_t max, head, count;	/* count: in the ring */
	size_t held;		/* suspended and not yet released */
	uint64_t holds, overflows;
	struct tarpit_entry *ring;
	void **due;		/* the thread's: what it resumes next */
	void **all;		/* tarpit_close's */
};

/* Moves the entries due at now (all when every is set) into out. */
static size_t
take_due(struct tarpit *t, uint64_t now, bool every, void **out)
{
	size_t n = 0;

	while (t->count > 0 &&
	    (every || t->ring[t->head].due_ms <= now)) {
		out[n++] = t->ring[t->head].conn;
		t->head = (t->head + 1) % t->max;
		t->count--;
	}
	return n;
}

static void *
tarpit_main(void *arg)
{
	struct tarpit *t = arg;
	struct timespec ts;

	pthread_mutex_lock(&t->mu);
	while (!t->quit) {
		uint64_t now = clock_mono_ms();
		size_t n = take_due(t, now, false, t->due);
		if (n > 0) {
			pthread_mutex_unlock(&t->mu);
			for (size_t i = 0; i < n; i++)
				t->resume(t->due[i]);
			pthread_mutex_lock(&t->mu);
			continue;
		}
		if (t->count == 0) {
			pthread_cond_wait(&t->cv, &t->mu);
			continue;
		}
		clock_mono_deadline(&ts, t->ring[t->head].due_ms - now);
		pthread_cond_timedwait(&t->cv, &t->mu, &ts);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int
tarpit_new(struct tarpit **out, size_t max, uint64_t hold_ms,
    tarpit_conn_fn suspend, tarpit_conn_fn resume)
{
	struct tarpit *t;
	pthread_condattr_t ca;

	if (max == 0 || hold_ms == 0 || suspend == NULL || resume == NULL)
		return NUDGE_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NUDGE_ENOMEM;
	t->ring = calloc(max, sizeof(*t->ring));
	t->due = calloc(max, sizeof(*t->due));
	t->all = calloc(max, sizeof(*t->all));
	t->max = max;
	t->hold_ms = hold_ms;
	t->suspend = suspend;
	t->resume = resume;
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_cond_init(&t->gone, &ca);
	pthread_condattr_destroy(&ca);
	if (t->ring == NULL || t->due == NULL || t->all == NULL ||
	    pthread_create(&t->thread, NULL, tarpit_main, t) != 0) {
		tarpit_free(t);
		return NUDGE_ENOMEM;
	}
	t->thread_ok = true;
	*out = t;
	return 0;
}

bool
tarpit_hold(struct tarpit *t, void *conn)
{
	bool ok;

	pthread_mutex_lock(&t->mu);
	ok = !t->closed && t->count < t->max;
	if (ok) {
		t->ring[(t->head + t->count) % t->max] = (struct tarpit_entry){
			.conn = conn, .due_ms = clock_mono_ms() + t->hold_ms};
		t->count++;
		t->held++;
		t->holds++;
		t->suspend(conn);
		if (t->count == 1)
			pthread_cond_signal(&t->cv);
	} else if (!t->closed) {
		t->overflows++;
	}
	pthread_mutex_unlock(&t->mu);
	return ok;
}

void
tarpit_release(struct tarpit *t)
{
	pthread_mutex_lock(&t->mu);
	if (t->held > 0 && --t->held == 0)
		pthread_cond_broadcast(&t->gone);
	pthread_mutex_unlock(&t->mu);
}

struct tarpit_stats
tarpit_stats(struct tarpit *t)
{
	struct tarpit_stats st;

	pthread_mutex_lock(&t->mu);
	st = (struct tarpit_stats){t->held, t->holds, t->overflows};
	pthread_mutex_unlock(&t->mu);
	return st;
}

int
tarpit_close(struct tarpit *t, uint64_t wait_ms)
{
	struct timespec ts;
	size_t n;
	int rv = 0;

	clock_mono_deadline(&ts, wait_ms);
	pthread_mutex_lock(&t->mu);
	t->closed = true;
	n = take_due(t, 0, true, t->all);
	pthread_mutex_unlock(&t->mu);
	for (size_t i = 0; i < n; i++)
		t->resume(t->all[i]);
	pthread_mutex_lock(&t->mu);
	while (t->held > 0 && rv == 0)
		if (pthread_cond_timedwait(&t->gone, &t->mu, &ts) != 0)
			rv = t->held > 0 ? NUDGE_ETIMEOUT : 0;
	pthread_mutex_unlock(&t->mu);
	return rv;
}

void
tarpit_free(struct tarpit *t)
{
	if (t == NULL)
		return;
	if (t->thread_ok) {
		tarpit_close(t, 1000);
		pthread_mutex_lock(&t->mu);
		t->quit = true;
		pthread_cond_signal(&t->cv);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->thread, NULL);
	}
	pthread_cond_destroy(&t->cv);
	pthread_cond_destroy(&t->gone);
	pthread_mutex_destroy(&t->mu);
	free(t->ring);
	free(t->due);
	free(t->all);
	free(t);
}
