/*
 * oneoff.c - the operator's one-off messages to a visitor (oneoff.h).  A
 * flat array searched by the id's hash: at most ONEOFF_MAX entries, and
 * only searched when something is pending.
 */
#include "oneoff.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <xxhash.h>

#include "event.h"

struct oneoff_entry {
	bool used;
	uint64_t hash;
	uint64_t expires_ms;
	char visitor[EVENT_VISITOR_MAX + 1];
	struct rrt_decision d;
};

struct oneoff {
	pthread_mutex_t lock;
	atomic_size_t used;	/* entries in use, expired ones included */
	uint32_t seq;		/* the next message's id number */
	struct oneoff_entry e[ONEOFF_MAX];
};

int
oneoff_new(struct oneoff **out)
{
	struct oneoff *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NUDGE_ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	/* a start of 0 if there is no entropy: ids stay unique in this run */
	if (getrandom(&q->seq, sizeof(q->seq), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(q->seq))
		q->seq = 0;
	*out = q;
	return 0;
}

void
oneoff_free(struct oneoff *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static bool
oneoff_is(const struct oneoff_entry *e, uint64_t h, struct nudge_strv v)
{
	return e->used && e->hash == h && strlen(e->visitor) == v.len &&
	    memcmp(e->visitor, v.ptr, v.len) == 0;
}

/* Frees expired entries; the caller holds the lock. */
static void
oneoff_expire(struct oneoff *q, uint64_t now_ms)
{
	for (size_t i = 0; i < ONEOFF_MAX; i++)
		if (q->e[i].used && q->e[i].expires_ms <= now_ms) {
			q->e[i].used = false;
			atomic_fetch_sub(&q->used, 1);
		}
}

int
oneoff_put(struct oneoff *q, struct nudge_strv visitor,
    const struct rrt_decision *d, uint64_t now_ms, bool *replaced)
{
	uint64_t h = XXH3_64bits(visitor.ptr, visitor.len);
	struct oneoff_entry *slot = NULL;

	*replaced = false;
	if (visitor.len == 0 || visitor.len > EVENT_VISITOR_MAX)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < ONEOFF_MAX && !*replaced; i++)
		if (oneoff_is(&q->e[i], h, visitor)) {
			slot = &q->e[i];
			*replaced = true;
		}
	if (slot == NULL) {
		if (atomic_load(&q->used) == ONEOFF_MAX)
			oneoff_expire(q, now_ms);
		for (size_t i = 0; i < ONEOFF_MAX && slot == NULL; i++)
			if (!q->e[i].used)
				slot = &q->e[i];
		if (slot == NULL) {
			pthread_mutex_unlock(&q->lock);
			return NUDGE_EFULL;
		}
		atomic_fetch_add(&q->used, 1);
	}
	slot->used = true;
	slot->hash = h;
	slot->expires_ms = now_ms + ONEOFF_TTL_MS;
	memcpy(slot->visitor, visitor.ptr, visitor.len);
	slot->visitor[visitor.len] = '\0';
	slot->d = *d;
	snprintf(slot->d.id, sizeof(slot->d.id), "op-%u", (unsigned)q->seq++);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

bool
oneoff_take(struct oneoff *q, struct nudge_strv visitor, uint64_t now_ms,
    struct rrt_decision *d)
{
	bool found = false;

	if (q == NULL || atomic_load_explicit(&q->used,
	    memory_order_relaxed) == 0)
		return false;
	uint64_t h = XXH3_64bits(visitor.ptr, visitor.len);
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < ONEOFF_MAX && !found; i++) {
		struct oneoff_entry *e = &q->e[i];
		if (!oneoff_is(e, h, visitor))
			continue;
		found = e->expires_ms > now_ms;
		if (found)
			*d = e->d;
		e->used = false;
		atomic_fetch_sub(&q->used, 1);
	}
	pthread_mutex_unlock(&q->lock);
	return found;
}

size_t
oneoff_pending(struct oneoff *q, uint64_t now_ms)
{
	size_t n = 0;

	pthread_mutex_lock(&q->lock);
	oneoff_expire(q, now_ms);
	n = atomic_load(&q->used);
	pthread_mutex_unlock(&q->lock);
	return n;
}
