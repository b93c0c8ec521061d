/*
 * ratelim.h - token buckets per key (a visitor id's or an address's hash)
 * in a bounded table.
 *
 * Each key gets `rate` tokens per second up to `burst`; a request takes one
 * token or is refused.  The table never grows: a key that is not there
 * takes a free slot near its hash or evicts the least recently used of the
 * RATELIM_PROBE slots it may live in, and comes back with a full bucket.
 * So a flood of fresh keys costs memory nothing and can only make the
 * limiter forget (forgiving, never refusing, someone it forgot); the
 * per-address bucket stands behind the per-visitor one for that case.
 *
 * Sharded (own lock per shard); ratelim_take may be called from any thread.
 */
#ifndef NUDGE_RATELIM_H
#define NUDGE_RATELIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define RATELIM_PROBE 8

struct ratelim;

/*
 * capacity: keys remembered (rounded up to a power of two per shard);
 * rate: tokens per second (0 disables: everything passes); burst: bucket
 * size (>= 1).  Returns 0 and *out, NUDGE_EINVAL or NUDGE_ENOMEM.
 */
int ratelim_new(struct ratelim **out, size_t capacity, unsigned rate,
    unsigned burst);
void ratelim_free(struct ratelim *r);

/* Takes a token for key at monotonic time now_ms: true if allowed. */
bool ratelim_take(struct ratelim *r, uint64_t key, uint64_t now_ms);

/*
 * For marking keys that go too fast: takes n tokens (0 only refills); a
 * key that runs short is marked for hold_ms from now, and a shortfall
 * while marked extends the mark.  Returns true while the key is marked.
 * Tokens are taken even while marked, so only a key that slows down to
 * the rate gets out.  An evicted key forgets its mark (the table stays
 * bounded).  rate 0: never marks.
 */
bool ratelim_mark(struct ratelim *r, uint64_t key, uint64_t now_ms,
    unsigned n, uint64_t hold_ms);

/* Keys evicted so far (a flood of fresh keys shows here). */
uint64_t ratelim_evictions(struct ratelim *r);

#endif
