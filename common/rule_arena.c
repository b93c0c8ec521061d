/*
 * rule_arena.c - memory of a compiled rule set: growable node, segment
 * and deferred-check arrays, and string chunks that never move.
 *
 * Allocation failures are remembered in ar->oom instead of being returned
 * at every call, so the parser stays readable; rule_compile() checks the
 * flag once and fails with NUDGE_ENOMEM.  One arena per compile; the rule
 * set keeps it read-only afterwards.
 */
#include "fault.h"
#include "rule_arena.h"

#include <stdlib.h>
#include <string.h>

void
rarena_init(struct rarena *ar)
{
	memset(ar, 0, sizeof(*ar));
}

void
rarena_fini(struct rarena *ar)
{
	struct rpool_chunk *c, *next;

	for (c = ar->pool; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(ar->nodes);
	free(ar->segs);
	free(ar->defer);
	memset(ar, 0, sizeof(*ar));
}

/* Makes room for one more item of size sz in *v (count n, capacity cap). */
bool
rarena_grow(struct rarena *ar, void **v, uint32_t n, uint32_t *cap, size_t sz)
{
	uint32_t ncap;
	void *nv;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 64;
	if ((nv = fault_realloc(*v, (size_t)ncap * sz)) == NULL) {
		ar->oom = true;
		return false;
	}
	*v = nv;
	*cap = ncap;
	return true;
}

const char *
rarena_str(struct rarena *ar, const char *s, size_t n)
{
	struct rpool_chunk *c = ar->pool;
	char *dst;

	if (n >= RPOOL_CHUNK)
		n = RPOOL_CHUNK - 1; /* never: strings are bounded far below */
	if (c == NULL || c->used + n + 1 > RPOOL_CHUNK) {
		if ((c = fault_malloc(sizeof(*c))) == NULL) {
			ar->oom = true;
			return "";
		}
		c->next = ar->pool;
		c->used = 0;
		ar->pool = c;
	}
	dst = c->b + c->used;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
	c->used += n + 1;
	return dst;
}

const char *
rarena_intern(struct rarena *ar, const char *s, size_t n)
{
	const char *p;

	for (unsigned i = 0; i < ar->n_fact_keys; i++)
		if (strlen(ar->fact_keys[i]) == n &&
		    memcmp(ar->fact_keys[i], s, n) == 0)
			return ar->fact_keys[i];
	p = rarena_str(ar, s, n);
	if (ar->n_fact_keys < RULE_FACT_KEYS_MAX)
		ar->fact_keys[ar->n_fact_keys++] = p;
	return p; /* beyond the table: only the cache misses */
}

