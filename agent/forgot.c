/*
 * forgot.c - the ring of lately forgotten visitors (see forgot.h).  Owns
 * FORGOT_MAX (hash, time) pairs under one mutex and the archiver barrier;
 * called from nng workers (`forget`), the publisher and the archiver.
 */
#include "forgot.h"

#include <pthread.h>
#include <stdlib.h>

#include "wire.h"

struct forgot {
	pthread_mutex_t mu;		/* the ring */
	pthread_mutex_t barrier;	/* the archiver's batch */
	uint64_t hash[FORGOT_MAX];
	uint64_t at_ms[FORGOT_MAX];	/* 0: empty */
	unsigned head;			/* next slot to write */
};

int
forgot_new(struct forgot **out)
{
	struct forgot *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NUDGE_ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	pthread_mutex_init(&f->barrier, NULL);
	*out = f;
	return 0;
}

void
forgot_free(struct forgot *f)
{
	if (f == NULL)
		return;
	pthread_mutex_destroy(&f->mu);
	pthread_mutex_destroy(&f->barrier);
	free(f);
}

void
forgot_add(struct forgot *f, struct nudge_strv visitor, uint64_t now_ms)
{
	uint64_t h = wire_visitor_hash(visitor);

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < FORGOT_MAX; i++)
		if (f->at_ms[i] != 0 && f->hash[i] == h)
			f->at_ms[i] = 0;	/* moves to the newest slot */
	f->hash[f->head] = h;
	f->at_ms[f->head] = now_ms ? now_ms : 1;
	f->head = (f->head + 1) % FORGOT_MAX;
	pthread_mutex_unlock(&f->mu);
}

static bool
forgot_fresh(const struct forgot *f, unsigned i, uint64_t now_ms)
{
	return f->at_ms[i] != 0 && now_ms - f->at_ms[i] < FORGOT_KEEP_MS;
}

bool
forgot_has(struct forgot *f, struct nudge_strv visitor, uint64_t now_ms)
{
	uint64_t h = wire_visitor_hash(visitor);
	bool found = false;

	if (f == NULL)
		return false;
	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < FORGOT_MAX && !found; i++)
		found = forgot_fresh(f, i, now_ms) && f->hash[i] == h;
	pthread_mutex_unlock(&f->mu);
	return found;
}

size_t
forgot_list(struct forgot *f, uint64_t now_ms, uint64_t *out, size_t cap)
{
	size_t n = 0;

	if (f == NULL)
		return 0;
	pthread_mutex_lock(&f->mu);
	for (unsigned k = 1; k <= FORGOT_MAX && n < cap; k++) {
		unsigned i = (f->head + FORGOT_MAX - k) % FORGOT_MAX;
		if (forgot_fresh(f, i, now_ms))
			out[n++] = f->hash[i];
	}
	pthread_mutex_unlock(&f->mu);
	return n;
}

void
forgot_barrier_lock(struct forgot *f)
{
	if (f != NULL)
		pthread_mutex_lock(&f->barrier);
}

void
forgot_barrier_unlock(struct forgot *f)
{
	if (f != NULL)
		pthread_mutex_unlock(&f->barrier);
}
