/*
 * agg.h - the additive aggregates an agent publishes and a console merges.
 *
 * Everything here adds up across agents (one visitor has one owner agent,
 * so even gauges sum) and counters also add up across time, which makes a
 * snapshot mergeable and a delta applicable.  Counters are monotonic since
 * the agent's store was created; gauges are current values; distinct
 * visitors are a HyperLogLog merged by maximum.
 *
 * Every slot has a stable dotted name ("events", "type.purchase",
 * "funnel.2", "funnel.2.source.coupon", "funnel.2.device.mobile",
 * "funnel.2.country.FR", "funnel.2.country.other"): the wire
 * format, the SQLite counters table and `nudge status --json` all use the
 * names, so adding a slot never breaks an older peer (unknown names are
 * skipped, missing ones read as zero).
 */
#ifndef NUDGE_AGG_H
#define NUDGE_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "hll.h"

#define AGG_STEPS_MAX 16

/*
 * Funnels split by country: a fixed table of the AGG_COUNTRIES - 1
 * countries most online shops sell to (agg_country_code), and "other" for
 * the rest and for unknown countries.  Fixed, so that slots keep one name
 * on every agent and console and the counters stay a small dense array;
 * a shop selling elsewhere still sees its total under "other".
 */
#define AGG_COUNTRIES 32
#define AGG_COUNTRY_OTHER (AGG_COUNTRIES - 1)

enum agg_counter {
	AGG_EVENTS = 0,		/* accepted events */
	AGG_REJECTED,		/* bad rows: refused events, counted, not lost */
	AGG_BOTS,		/* events from bots, kept out of funnels */
	AGG_SESSIONS_STARTED,
	AGG_SESSIONS_CLOSED,
	AGG_PURCHASES,
	AGG_REVENUE_CENTS,
	AGG_REFUNDS,
	AGG_REFUNDED_CENTS,
	AGG_TYPE_BASE,		/* + event type */
	AGG_FUNNEL_BASE = AGG_TYPE_BASE + EVENT_TYPE_COUNT, /* + step */
	AGG_FUNNEL_SOURCE_BASE = AGG_FUNNEL_BASE + AGG_STEPS_MAX,
	/* + step * SOURCE_COUNT + source */
	AGG_FUNNEL_DEVICE_BASE = AGG_FUNNEL_SOURCE_BASE + AGG_STEPS_MAX * SOURCE_COUNT,
	/* + step * DEVICE_COUNT + device */
	AGG_FUNNEL_COUNTRY_BASE = AGG_FUNNEL_DEVICE_BASE + AGG_STEPS_MAX * DEVICE_COUNT,
	/* + step * AGG_COUNTRIES + agg_country_index() */
	AGG_COUNTERS = AGG_FUNNEL_COUNTRY_BASE + AGG_STEPS_MAX * AGG_COUNTRIES
};

enum agg_gauge {
	AGG_SESSIONS_LIVE = 0,	/* open sessions */
	AGG_VISITORS_ACTIVE,	/* sessions with an event in the last 5 minutes */
	AGG_CARTS_OPEN,		/* live sessions with items in the cart */
	AGG_GAUGES
};

/* funnel.<step>: sessions that reached step (0-based) of the funnel. */
#define AGG_FUNNEL(step) (AGG_FUNNEL_BASE + (step))
#define AGG_FUNNEL_SOURCE(step, src) \
	(AGG_FUNNEL_SOURCE_BASE + (step) * SOURCE_COUNT + (src))
#define AGG_FUNNEL_DEVICE(step, dev) \
	(AGG_FUNNEL_DEVICE_BASE + (step) * DEVICE_COUNT + (dev))
#define AGG_FUNNEL_COUNTRY(step, ci) \
	(AGG_FUNNEL_COUNTRY_BASE + (step) * AGG_COUNTRIES + (ci))
#define AGG_TYPE(type) (AGG_TYPE_BASE + (type))

/* The country's index in the table, AGG_COUNTRY_OTHER if not in it. */
unsigned agg_country_index(const char cc[3]);
/* "US", "FR", ... for 0..AGG_COUNTRY_OTHER - 1, "other", NULL outside. */
const char *agg_country_code(unsigned i);

struct agg {
	uint64_t c[AGG_COUNTERS];
	uint64_t g[AGG_GAUGES];
	struct hll visitors;	/* distinct visitors ever seen */
};

/* Zeroes everything. */
void agg_init(struct agg *a);

/* dst += src: counters and gauges summed, HLL merged. */
void agg_add(struct agg *dst, const struct agg *src);

/*
 * out = now - before for counters (saturating at 0); gauges copied from
 * now; out's HLL left empty (a delta never carries distinct counts).
 */
void agg_diff(struct agg *out, const struct agg *now, const struct agg *before);

/* Applies a delta made by agg_diff: counters added, gauges replaced. */
void agg_apply_delta(struct agg *dst, const struct agg *delta);

/* Stable names of slots; NULL outside the range. */
const char *agg_counter_name(int i);
const char *agg_gauge_name(int i);

/* Maps a name back to its slot; -1 if unknown (callers skip it). */
int agg_counter_index(const char *name, size_t len);
int agg_gauge_index(const char *name, size_t len);

#endif
