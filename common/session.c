/*
 * session.c - names of the session orders and the comparison that sorts a
 * `sessions` listing.
 *
 * Owns only constant tables; pure functions, any thread.  The agent's
 * session table lives elsewhere (agent/); this file is what the agent and
 * the console agree on about a session summary.
 */
#include "session.h"

#include <string.h>

static const char *const sort_names[SESSION_SORT_COUNT] = {
	"recent", "score", "value", "pages",
};

const char *
session_sort_name(int sort)
{
	if (sort < 0 || sort >= SESSION_SORT_COUNT)
		return NULL;
	return sort_names[sort];
}

int
session_sort_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < SESSION_SORT_COUNT; i++)
		if (strcmp(name, sort_names[i]) == 0)
			return i;
	return -1;
}

/* Cart plus revenue; decoded sessions may hold any int64, so saturate. */
static int64_t
session_value(const struct session_summary *s)
{
	int64_t v;

	if (__builtin_add_overflow(s->cart_cents, s->revenue_cents, &v))
		return s->cart_cents > 0 ? INT64_MAX : INT64_MIN;
	return v;
}

/* -1, 0, 1 so that the larger key sorts first. */
static int
cmp_desc_i64(int64_t a, int64_t b)
{
	return (a < b) - (a > b);
}

static int
cmp_desc_u64(uint64_t a, uint64_t b)
{
	return (a < b) - (a > b);
}

int
session_compare(const struct session_summary *a,
    const struct session_summary *b, int sort)
{
	int c = 0;

	switch (sort) {
	case SESSION_SORT_RECENT:
		c = cmp_desc_u64(a->last_ms, b->last_ms);
		break;
	case SESSION_SORT_SCORE:
		c = cmp_desc_i64(a->score, b->score);
		break;
	case SESSION_SORT_VALUE:
		c = cmp_desc_i64(session_value(a), session_value(b));
		break;
	case SESSION_SORT_PAGES:
		c = cmp_desc_u64(a->pages, b->pages);
		break;
	default:
		break;
	}
	if (c != 0)
		return c;
	/* A total order, so that page N+1 of a listing continues page N. */
	c = strncmp(a->visitor, b->visitor, sizeof(a->visitor));
	return (c > 0) - (c < 0);
}
