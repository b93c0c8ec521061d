/*
 * ratelim.c - sharded, fixed-size token-bucket table.
 *
 * Owns its slots.  Tokens are kept in thousandths so that refilling is
 * integer arithmetic: elapsed ms * rate = thousandths of a token.  Any
 * thread; a shard's lock is held for one probe window only.
 */
#include "ratelim.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define RATELIM_SHARDS 16

struct rl_slot {
	uint64_t key;		/* 0 = free (key 0 is stored as 1) */
	uint64_t last_ms;
	uint64_t milli;		/* tokens * 1000 */
	uint64_t marked_ms;	/* ratelim_mark: marked until then */
};

struct rl_shard {
	pthread_mutex_t lock;
	size_t mask;
	struct rl_slot *slots;
};

struct ratelim {
	uint64_t rate;		/* tokens per second */
	uint64_t burst_milli;
	atomic_uint_fast64_t evictions;
	struct rl_shard shard[RATELIM_SHARDS];
};

int
ratelim_new(struct ratelim **out, size_t capacity, unsigned rate,
    unsigned burst)
{
	struct ratelim *r;
	size_t per = RATELIM_PROBE;

	if (burst == 0 || capacity == 0 || capacity > (1u << 24))
		return NUDGE_EINVAL;
	while (per * RATELIM_SHARDS < capacity)
		per *= 2;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NUDGE_ENOMEM;
	r->rate = rate;
	r->burst_milli = (uint64_t)burst * 1000;
	for (int i = 0; i < RATELIM_SHARDS; i++) {
		struct rl_shard *sh = &r->shard[i];
		pthread_mutex_init(&sh->lock, NULL);
		sh->mask = per - 1;
		if ((sh->slots = calloc(per, sizeof(*sh->slots))) == NULL) {
			ratelim_free(r);
			return NUDGE_ENOMEM;
		}
	}
	*out = r;
	return 0;
}

void
ratelim_free(struct ratelim *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < RATELIM_SHARDS; i++) {
		free(r->shard[i].slots);
		pthread_mutex_destroy(&r->shard[i].lock);
	}
	free(r);
}

/* The key's slot in its probe window, or the one to take over. */
static struct rl_slot *
rl_find(struct ratelim *r, struct rl_shard *sh, uint64_t key, uint64_t now)
{
	struct rl_slot *victim = NULL;
	size_t at = (size_t)(key >> 4) & sh->mask;

	for (size_t i = 0; i < RATELIM_PROBE; i++) {
		struct rl_slot *s = &sh->slots[(at + i) & sh->mask];
		if (s->key == key)
			return s;
		if (s->key == 0) {
			if (victim == NULL || victim->key != 0)
				victim = s;
		} else if (victim == NULL ||
		    (victim->key != 0 && s->last_ms < victim->last_ms)) {
			victim = s;
		}
	}
	if (victim->key != 0)
		atomic_fetch_add(&r->evictions, 1);
	victim->key = key;
	victim->last_ms = now;
	victim->milli = r->burst_milli;
	victim->marked_ms = 0;
	return victim;
}

/* The key's slot, locked and refilled up to now; unlock sh after. */
static struct rl_slot *
rl_lock(struct ratelim *r, uint64_t key, uint64_t now_ms,
    struct rl_shard **sh)
{
	struct rl_slot *s;

	key = key == 0 ? 1 : key;
	*sh = &r->shard[key % RATELIM_SHARDS];
	pthread_mutex_lock(&(*sh)->lock);
	s = rl_find(r, *sh, key, now_ms);
	if (now_ms > s->last_ms) {
		uint64_t add = (now_ms - s->last_ms) * r->rate;
		s->milli = s->milli + add > r->burst_milli ? r->burst_milli :
		    s->milli + add;
		s->last_ms = now_ms;
	}
	return s;
}

bool
ratelim_take(struct ratelim *r, uint64_t key, uint64_t now_ms)
{
	struct rl_shard *sh;
	struct rl_slot *s;
	bool ok;

	if (r == NULL || r->rate == 0)
		return true;
	s = rl_lock(r, key, now_ms, &sh);
	ok = s->milli >= 1000;
	if (ok)
		s->milli -= 1000;
	pthread_mutex_unlock(&sh->lock);
	return ok;
}

bool
ratelim_mark(struct ratelim *r, uint64_t key, uint64_t now_ms, unsigned n,
    uint64_t hold_ms)
{
	struct rl_shard *sh;
	struct rl_slot *s;
	uint64_t need = (uint64_t)n * 1000;
	bool marked;

	if (r == NULL || r->rate == 0)
		return false;
	s = rl_lock(r, key, now_ms, &sh);
	if (s->milli >= need) {
		s->milli -= need;
	} else {
		s->milli = 0;
		s->marked_ms = now_ms + hold_ms;
	}
	marked = s->marked_ms > now_ms;
	pthread_mutex_unlock(&sh->lock);
	return marked;
}

uint64_t
ratelim_evictions(struct ratelim *r)
{
	return r ? atomic_load(&r->evictions) : 0;
}
