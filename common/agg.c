/*
 * agg.c - arithmetic on additive aggregates and the stable names of their
 * slots.
 *
 * The name tables are built once, on first use, under pthread_once, and
 * are read-only afterwards; everything else works on caller-owned structs,
 * so any thread may call any function here (the caller locks its structs).
 * agg_counter_index() runs once per key of every decoded snapshot, so it
 * is a binary search over a sorted table, not a scan or a snprintf.
 */
#include "agg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGG_NAME_MAX 40	/* "funnel.15.source.referral" is the longest */

static const char *const fixed_names[AGG_TYPE_BASE] = {
	"events", "rejected", "bots", "sessions_started", "sessions_closed",
	"purchases", "revenue_cents", "refunds", "refunded_cents",
};

static const char *const gauge_names[AGG_GAUGES] = {
	"sessions_live", "visitors_active", "carts_open",
};

static char counter_names[AGG_COUNTERS][AGG_NAME_MAX];
/* Where the shops we know sell most; the order is the legend's. */
static const char country_codes[AGG_COUNTRIES][6] = {
	"US", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE",
	"NO", "DK", "FI", "PL", "PT", "IE", "CZ", "CA", "AU", "NZ", "JP",
	"KR", "CN", "IN", "BR", "MX", "TR", "ZA", "AE", "SG", "other",
};

unsigned
agg_country_index(const char cc[3])
{
	for (unsigned i = 0; cc[0] != '\0' && i < AGG_COUNTRY_OTHER; i++)
		if (country_codes[i][0] == cc[0] && country_codes[i][1] == cc[1]
		    && cc[2] == '\0')
			return i;
	return AGG_COUNTRY_OTHER;
}

const char *
agg_country_code(unsigned i)
{
	return i < AGG_COUNTRIES ? country_codes[i] : NULL;
}

static uint16_t counter_sorted[AGG_COUNTERS];	/* slots ordered by name */
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static int
sorted_cmp(const void *a, const void *b)
{
	return strcmp(counter_names[*(const uint16_t *)a],
	    counter_names[*(const uint16_t *)b]);
}

static void
names_build(void)
{
	for (int i = 0; i < AGG_TYPE_BASE; i++)
		snprintf(counter_names[i], AGG_NAME_MAX, "%s", fixed_names[i]);
	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		snprintf(counter_names[AGG_TYPE(t)], AGG_NAME_MAX, "type.%s",
		    event_type_name(t));
	for (int s = 0; s < AGG_STEPS_MAX; s++) {
		snprintf(counter_names[AGG_FUNNEL(s)], AGG_NAME_MAX,
		    "funnel.%d", s);
		for (int src = 0; src < SOURCE_COUNT; src++)
			snprintf(counter_names[AGG_FUNNEL_SOURCE(s, src)],
			    AGG_NAME_MAX, "funnel.%d.source.%s", s,
			    event_source_name(src));
		for (int dev = 0; dev < DEVICE_COUNT; dev++)
			snprintf(counter_names[AGG_FUNNEL_DEVICE(s, dev)],
			    AGG_NAME_MAX, "funnel.%d.device.%s", s,
			    event_device_name(dev));
		for (unsigned ci = 0; ci < AGG_COUNTRIES; ci++)
			snprintf(counter_names[AGG_FUNNEL_COUNTRY(s, ci)],
			    AGG_NAME_MAX, "funnel.%d.country.%.5s", s,
			    country_codes[ci]);
	}
	for (int i = 0; i < AGG_COUNTERS; i++)
		counter_sorted[i] = (uint16_t)i;
	qsort(counter_sorted, AGG_COUNTERS, sizeof(counter_sorted[0]),
	    sorted_cmp);
}

static void
names_ready(void)
{
	pthread_once(&names_once, names_build);
}

void
agg_init(struct agg *a)
{
	memset(a, 0, sizeof(*a));
}

void
agg_add(struct agg *dst, const struct agg *src)
{
	for (int i = 0; i < AGG_COUNTERS; i++)
		dst->c[i] += src->c[i];
	for (int i = 0; i < AGG_GAUGES; i++)
		dst->g[i] += src->g[i];
	hll_merge(&dst->visitors, &src->visitors);
}

void
agg_diff(struct agg *out, const struct agg *now, const struct agg *before)
{
	/* Element by element, so that out may be now or before. */
	for (int i = 0; i < AGG_COUNTERS; i++)
		out->c[i] = now->c[i] > before->c[i] ?
		    now->c[i] - before->c[i] : 0;
	for (int i = 0; i < AGG_GAUGES; i++)
		out->g[i] = now->g[i];
	hll_init(&out->visitors);
}

void
agg_apply_delta(struct agg *dst, const struct agg *delta)
{
	for (int i = 0; i < AGG_COUNTERS; i++)
		dst->c[i] += delta->c[i];
	for (int i = 0; i < AGG_GAUGES; i++)
		dst->g[i] = delta->g[i];
}

const char *
agg_counter_name(int i)
{
	if (i < 0 || i >= AGG_COUNTERS)
		return NULL;
	names_ready();
	return counter_names[i];
}

const char *
agg_gauge_name(int i)
{
	if (i < 0 || i >= AGG_GAUGES)
		return NULL;
	return gauge_names[i];
}

/* strcmp order between a counted string and a NUL-terminated one. */
static int
name_cmp(const char *name, size_t len, const char *s)
{
	size_t sl = strlen(s);
	int c = memcmp(name, s, len < sl ? len : sl);

	if (c != 0)
		return c;
	return (len > sl) - (len < sl);
}

int
agg_counter_index(const char *name, size_t len)
{
	size_t lo = 0, hi = AGG_COUNTERS;

	if (name == NULL || len == 0 || len >= AGG_NAME_MAX)
		return -1;
	names_ready();
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int slot = counter_sorted[mid];
		int c = name_cmp(name, len, counter_names[slot]);

		if (c == 0)
			return slot;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

int
agg_gauge_index(const char *name, size_t len)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < AGG_GAUGES; i++)
		if (strlen(gauge_names[i]) == len &&
		    memcmp(gauge_names[i], name, len) == 0)
			return i;
	return -1;
}
